"""The k-nearest-neighbour distance scorer (Sun et al., ICML 2022)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import Field

from harness.api.experience import Prediction
from harness.api.params import Params
from harness.api.registry import SCORERS
from harness.api.scorer import Scorer
from harness.scorers.class_stats import ClassStatistics
from harness.scorers.unit_vectors import normalised

QUERY_BLOCK = 1024


class KNNParams(Params):
    k: int = Field(50, ge=1, description="the k-th nearest neighbour's distance is the score")
    memory: Literal["gaussian", "samples"] = Field(
        "gaussian", description="bank drawn from each class's Gaussian (no samples kept), or the real training features (a memory of samples)"
    )
    per_class: int = Field(100, ge=1, le=100_000, description="bank samples drawn per class (memory: gaussian)")
    seed: int = Field(0, ge=0, description="seed of the Gaussian draws")


@SCORERS.register("knn")
class KNN(Scorer):
    """``−‖ẑ − b̂_(k)‖``: minus the distance from the L2-normalised feature to its k-th nearest
    neighbour in a bank of normalised features (Sun et al., ICML 2022).  By default the bank is drawn
    from a Gaussian per class (the class's mean and covariance of its normalised training features),
    so nothing of the training set is kept; ``memory: samples`` keeps the real features (marked in
    the results as a memory of samples).  ``k`` is capped by the bank's size."""

    Params = KNNParams
    needs_features = True
    needs_logits = False  # features alone

    def __init__(self, params: KNNParams):
        super().__init__(params)
        self.keeps_samples = params.memory == "samples"
        self.stats = ClassStatistics()
        self.bank: list[np.ndarray] = []
        self._draws: dict[int, np.ndarray] = {}  # per class, drawn again only when the class is observed again

    def observe(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        x = normalised(features.detach().cpu().double().numpy())
        if self.keeps_samples:
            self.bank.append(x)
        else:
            self.stats.update(torch.from_numpy(x), labels)
            for c in np.unique(labels.cpu().numpy()):
                self._draws.pop(int(c), None)

    @property
    def fitted(self) -> bool:
        return bool(self.bank) or bool(self.stats.count)

    def _bank(self) -> np.ndarray:
        if self.keeps_samples:
            return np.concatenate(self.bank)
        for c in self.stats.classes:
            if c not in self._draws:  # a stream per class: the same draws whatever the order classes arrive in
                rng = np.random.default_rng([self.params.seed, c])
                self._draws[c] = rng.multivariate_normal(self.stats.mean[c], self.stats.covariance(c), self.params.per_class, method="eigh")
        return normalised(np.concatenate([self._draws[c] for c in self.stats.classes]))

    def score(self, prediction: Prediction, features: torch.Tensor | None) -> np.ndarray:
        """Exact search by matrix products in blocks of queries (on unit vectors ``‖q − b‖² = 2 − 2 q·b``;
        a k-d tree gains nothing in these dimensions)."""
        bank = self._bank()
        k = min(self.params.k, len(bank))
        queries = normalised(features.detach().cpu().double().numpy())
        out = np.empty(len(queries))
        for start in range(0, len(queries), QUERY_BLOCK):
            block = queries[start : start + QUERY_BLOCK]
            squared = np.maximum(2.0 - 2.0 * block @ bank.T, 0.0)
            out[start : start + QUERY_BLOCK] = np.sqrt(np.partition(squared, k - 1, axis=1)[:, k - 1])
        return -out
