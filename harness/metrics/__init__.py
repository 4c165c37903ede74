"""Metrics, each defined once with its formula in the docstring and its keys declared beside it.

The import order below is the registration order, and so the order of the evaluator's metrics and
of the report's columns: continual accuracy, open-set detection, clustering quality.
"""

from harness.api.metric import Metric
from harness.metrics.continual import ContinualAccuracy  # isort: skip
from harness.metrics.openset import OpenSetDetection  # isort: skip
from harness.metrics.clustering import ClusteringQuality  # after the two above: the column order

__all__ = ["Metric", "ClusteringQuality", "ContinualAccuracy", "OpenSetDetection"]
