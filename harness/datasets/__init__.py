"""Datasets, registered by name in ``harness.registry.DATASETS``; each module registers one source."""

from harness.datasets.base import Dataset, DatasetSource

__all__ = ["Dataset", "DatasetSource"]
