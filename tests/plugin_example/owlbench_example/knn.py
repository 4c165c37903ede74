"""One nearest neighbour: keep every training sample, predict the class of the closest one."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from harness.api.experience import Experience, Prediction
from harness.api.params import Params
from harness.api.strategy import Strategy


class OneNearestNeighbourParams(Params):
    metric: Literal["euclidean", "cosine"] = Field("euclidean", description="distance between samples")


class OneNearestNeighbour(Strategy):
    """1-NN over all training samples seen so far.

    The logit of class ``c`` is ``-min_i d(x, x_i)`` over the stored samples ``x_i`` of class ``c``
    (``-inf`` for a class with no sample); the open-set score is the largest logit.
    """

    Params = OneNearestNeighbourParams
    supports = frozenset({"cil", "fscil"})

    def __init__(self, params: OneNearestNeighbourParams, context):
        super().__init__(params, context)
        self.samples = torch.empty(0, context.feature_dim, device=context.device)
        self.labels = torch.empty(0, dtype=torch.long, device=context.device)

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(len(x), -1).float()
        return torch.nn.functional.normalize(x, dim=1) if self.params.metric == "cosine" else x

    def learn(self, experience: Experience) -> None:
        self.samples = torch.cat([self.samples, self._flat(experience.inputs)])
        self.labels = torch.cat([self.labels, experience.labels.long()])

    def predict(self, inputs: torch.Tensor) -> Prediction:
        distances = torch.cdist(self._flat(inputs), self.samples)
        classes = torch.unique(self.labels)  # sorted
        column = torch.searchsorted(classes, self.labels).expand(len(distances), -1)
        nearest = torch.full((len(distances), len(classes)), float("inf"), device=distances.device)
        nearest = nearest.scatter_reduce(1, column, distances, reduce="amin")
        logits = -nearest
        return Prediction(logits=logits, classes=classes, known_score=logits.max(1).values)
