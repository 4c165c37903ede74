"""Metrics, each defined once with its formula in the docstring."""

from harness.metrics.base import Metric
from harness.metrics.clustering import ClusteringQuality
from harness.metrics.continual import ContinualAccuracy
from harness.metrics.openset import OpenSetDetection

__all__ = ["Metric", "ClusteringQuality", "ContinualAccuracy", "OpenSetDetection"]
