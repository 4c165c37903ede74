"""Nearest class mean (NMC), on the prototype store."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from harness.experience import Experience, Prediction
from harness.params import Params
from harness.prototype_store import PrototypeStore
from harness.registry import STRATEGIES
from harness.strategy import Strategy


class NMCParams(Params):
    metric: Literal["euclidean", "cosine"] = Field("euclidean", description="distance to the class means")
    normalize_features: bool = Field(True, description="L2-normalise features before averaging and querying")
    normalize_means: bool = Field(False, description="L2-normalise the class means before querying")


@STRATEGIES.register("nmc")
class NMC(Strategy):
    """Nearest class mean: each class is the mean of its training features; predict the closest.

    Logits are ``-||f - μ_c||`` (Euclidean) or ``cos(f, μ_c)``; the open-set score is the largest
    logit.  The default follows iCaRL's NMC and its common ports: L2-normalised features, raw (not
    re-normalised) means, Euclidean distance.  Means are exact running means, so NMC does not forget.
    """

    Params = NMCParams
    supports = frozenset({"cil", "fscil"})

    def __init__(self, params: NMCParams, context):
        super().__init__(params, context)
        self.store = PrototypeStore(context.feature_dim, device=context.device)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(len(x), -1).float()
        return F.normalize(x, dim=1) if self.params.normalize_features else x

    def learn(self, experience: Experience) -> None:
        self.store.update(self._features(experience.inputs), experience.labels)

    def predict(self, inputs: torch.Tensor) -> Prediction:
        logits = self.store.scores(self._features(inputs), self.params.metric, self.params.normalize_means)
        return Prediction(logits=logits, classes=self.store.class_ids.to(logits.device), known_score=logits.max(1).values)
