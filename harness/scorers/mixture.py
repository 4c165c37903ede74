"""A mixture of prototypes per class as an open-set score (after PALM, ICLR 2024)."""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from harness.api.experience import Prediction
from harness.api.params import Params
from harness.api.registry import SCORERS
from harness.api.scorer import Scorer
from harness.scorers.unit_vectors import normalised


class MixtureParams(Params):
    prototypes: int = Field(4, ge=1, le=64, description="prototypes per class (k-means on the class's normalised features at its step)")
    seed: int = Field(0, ge=0, description="seed of k-means")


@SCORERS.register("mixture")
class PrototypeMixture(Scorer):
    """``max_{c,m} cos(z, p_{c,m})``: the nearest of several prototypes per class, in the manner of
    PALM (Lu et al., ICLR 2024), which learns a mixture of prototypes per class while training; here,
    post hoc, the prototypes are the k-means centres of each class's normalised training features at
    the step that gives the class (``prototypes`` per class, fewer when a class has fewer samples), and
    only they are kept."""

    Params = MixtureParams
    needs_features = True
    needs_logits = False  # features alone

    def __init__(self, params: MixtureParams):
        super().__init__(params)
        self.centres: list[np.ndarray] = []

    def observe(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        from sklearn.cluster import KMeans

        x = normalised(features.detach().cpu().double().numpy())
        y = labels.detach().cpu().numpy()
        for c in np.unique(y):
            part = x[y == c]
            m = min(self.params.prototypes, len(part))
            centres = KMeans(n_clusters=m, n_init=3, random_state=self.params.seed).fit(part).cluster_centers_ if m > 1 else part.mean(0, keepdims=True)
            self.centres.append(normalised(centres))

    @property
    def fitted(self) -> bool:
        return bool(self.centres)

    def score(self, prediction: Prediction, features: torch.Tensor | None) -> np.ndarray:
        return (normalised(features.detach().cpu().double().numpy()) @ np.concatenate(self.centres).T).max(axis=1)
