"""What a job's strategy receives as inputs: the dataset's own inputs, in their natural shape."""

from __future__ import annotations

import torch

from harness.datasets.base import Dataset
from harness.sweep import Job


def job_inputs(job: Job, data: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Train and test inputs of a job (images as ``C×H×W`` floats, vectors as ``D``)."""
    return data.train_x, data.test_x
