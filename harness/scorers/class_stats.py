"""The class statistics the Gaussian and neighbour scorers use, kept in a prototype store
(:class:`harness.store.PrototypeStore`, full covariances in float64 on the CPU): its exact streaming
merge of counts, means and scatter, so that scorers keep no training samples and
the statistics are computed the way every strategy's are."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from harness.store.prototype_store import PrototypeStore


class ClassStatistics:
    """Per class: count, mean and scatter ``Σ (x − μ)(x − μ)ᵀ``; covariances are maximum-likelihood
    (divided by the count), as Lee et al.'s Mahalanobis score uses them."""

    def __init__(self):
        self.store: PrototypeStore | None = None
        self._memo: dict = {}  # what was derived from the statistics since the last update

    def update(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        x = features.detach().cpu().double()
        if self.store is None:
            self.store = PrototypeStore(x.shape[1], device="cpu", dtype=torch.float64, covariance="full")
        self.store.update(x, labels.detach().cpu().long())
        self._memo.clear()

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()``, kept until the next update: a step scores its test and its far-unknown samples
        with the same statistics, and a precision of D = 784 costs an eigendecomposition each time."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    @property
    def classes(self) -> list[int]:
        return [] if self.store is None else [int(c) for c in self.store.class_ids]

    @property
    def count(self) -> dict[int, int]:
        return {} if self.store is None else dict(zip(self.classes, (int(n) for n in self.store.counts)))

    @property
    def mean(self) -> dict[int, np.ndarray]:
        return {} if self.store is None else dict(zip(self.classes, self.store.means.double().numpy()))

    @property
    def scatter(self) -> dict[int, np.ndarray]:
        return {c: self.covariance(c) * n for c, n in self.count.items()}

    def means(self) -> np.ndarray:
        return self.store.means.double().numpy()

    def covariance(self, c: int) -> np.ndarray:
        """Maximum-likelihood covariance of class ``c`` (divided by its count)."""
        return self.store.covariance([c], ddof=0)[0].numpy()

    def tied_covariance(self) -> np.ndarray:
        """The within-class covariance shared by all classes: summed scatter over all samples (Lee et al.)."""
        return (self.store.pooled_scatter().double() / self.store.counts.sum()).numpy()

    def global_mean_covariance(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of all samples together (the "background" Gaussian of the relative score)."""
        n = self.store.counts.double().numpy()
        means = self.means()
        mean = (means * n[:, None]).sum(0) / n.sum()
        centred = means - mean
        return mean, (self.tied_covariance() * n.sum() + (centred.T * n) @ centred) / n.sum()
