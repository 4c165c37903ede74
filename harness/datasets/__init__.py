"""Datasets, registered by name in ``harness.api.registry.DATASETS``; each module registers one source."""

from harness.api.dataset import Dataset, DatasetSource

__all__ = ["Dataset", "DatasetSource"]
