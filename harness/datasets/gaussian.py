"""Seeded synthetic feature vectors: Gaussian classes, as many as a board needs (10,000, 100,000, ...).

For the harness's cost at a scale no bundled dataset reaches: class ``c`` has mean ``μ_c ~
N(0, separation²/D · I)`` and its samples are ``μ_c + ε``, ``ε ~ N(0, noise²/D · I)``, so that with
the defaults two class means are about as far apart as a sample is from its own mean.  Everything
is drawn from ``seed`` in blocks of 4,096 classes, each block from its own generator, so a class's
mean and samples depend only on the seed and the other parameters, not on ``num_classes``: a board
of 100,000 classes holds the 10,000 of a smaller one.  ``test_classes`` keeps the test samples of
that many classes only, evenly spread over the ids, so that a board of many classes can keep a test
set whose dense logits still fit in memory (the classes are all trained on).  float32; no download,
no file.
"""

from __future__ import annotations

import torch
from pydantic import Field

from harness.api.dataset import Dataset, DatasetSource
from harness.api.params import Params
from harness.api.registry import DATASETS

BLOCK = 4096  # classes drawn per generator call


class GaussianParams(Params):
    num_classes: int = Field(1000, ge=2, le=1_000_000, description="number of classes")
    dim: int = Field(64, ge=1, le=4096, description="feature dimension D")
    train_per_class: int = Field(10, ge=1, description="training samples per class")
    test_per_class: int = Field(2, ge=1, description="test samples per class")
    test_classes: int | None = Field(
        None, ge=1, description="only this many classes, evenly spread over the class ids, keep their test samples (default: all)"
    )
    separation: float = Field(1.0, gt=0, description="spread of the class means (norm ≈ separation)")
    noise: float = Field(0.5, ge=0, description="spread of a class's samples around its mean (norm ≈ noise)")
    seed: int = Field(0, ge=0, description="seed of the means and samples (fixed across run seeds)")


@DATASETS.register("gaussian-classes")
class GaussianClasses(DatasetSource):
    """Synthetic Gaussian classes of feature vectors, seeded (no download); for large-class boards."""

    Params = GaussianParams

    def load(self, params: GaussianParams) -> Dataset:
        d = params.dim
        per = params.train_per_class + params.test_per_class
        train_x, test_x = [], []
        for start in range(0, params.num_classes, BLOCK):
            count = min(BLOCK, params.num_classes - start)
            g = torch.Generator().manual_seed(params.seed * 1_000_003 + start // BLOCK)
            means = torch.randn(BLOCK, 1, d, generator=g)[:count] * (params.separation / d**0.5)
            samples = means + torch.randn(BLOCK, per, d, generator=g)[:count] * (params.noise / d**0.5)
            train_x.append(samples[:, : params.train_per_class].reshape(-1, d))
            test_x.append(samples[:, params.train_per_class :].reshape(-1, d))
        labels = torch.arange(params.num_classes)
        test_x, test_y = torch.cat(test_x), labels.repeat_interleave(params.test_per_class)
        if params.test_classes is not None and params.test_classes < params.num_classes:
            tested = torch.arange(params.test_classes) * params.num_classes // params.test_classes
            keep = torch.isin(test_y, tested)
            test_x, test_y = test_x[keep], test_y[keep]
        return Dataset(
            name="gaussian-classes",
            train_x=torch.cat(train_x),
            train_y=labels.repeat_interleave(params.train_per_class),
            test_x=test_x,
            test_y=test_y,
            class_names=tuple(f"class-{c}" for c in range(params.num_classes)),
        )
