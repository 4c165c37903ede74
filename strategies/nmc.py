"""Nearest class mean (NMC), on the prototype store."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from harness.components.discovery import DiscoveryParams, PrototypeDiscovery
from harness.api.experience import Experience, Prediction
from harness.api.params import Params
from harness.api.summary import SummaryRequest
from harness.store.prototype_store import PrototypeStore
from harness.api.registry import STRATEGIES
from harness.api.strategy import Strategy


class NMCParams(Params):
    metric: Literal["euclidean", "cosine"] = Field("euclidean", description="distance to the class means")
    normalize_features: bool = Field(True, description="L2-normalise features before averaging and querying")
    normalize_means: bool = Field(False, description="L2-normalise the class means before querying")
    discovery: DiscoveryParams = Field(default_factory=DiscoveryParams, description="options of new-class discovery (ncd, cgcd)")


@STRATEGIES.register("nmc")
class NMC(PrototypeDiscovery, Strategy):
    """Nearest class mean: each class is the mean of its training features; predict the closest.

    Logits are ``-||f - μ_c||`` (Euclidean) or ``cos(f, μ_c)``; the open-set score is the largest
    logit.  The default follows iCaRL's NMC and its common ports: L2-normalised features, raw (not
    re-normalised) means, Euclidean distance.  Means are exact running means, so NMC does not forget.
    On unlabeled steps the shared discovery clusters the (normalised) features with the known means
    fixed, and each discovered cluster's centre becomes the mean of a new class.
    """

    Params = NMCParams
    supports = frozenset({"cil", "fscil", "ncd", "cgcd"})

    def __init__(self, params: NMCParams, context):
        super().__init__(params, context)
        self.store = PrototypeStore(context.feature_dim, device=context.device)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(len(x), -1).float()
        return F.normalize(x, dim=1) if self.params.normalize_features else x

    def discovery_features(self, inputs: torch.Tensor) -> torch.Tensor:
        return self._features(inputs)

    def learn(self, experience: Experience) -> None:
        self.store.update(self._features(experience.inputs), experience.labels)

    def predict(self, inputs: torch.Tensor) -> Prediction:
        logits = self.store.scores(self._features(inputs), self.params.metric, self.params.normalize_means)
        return Prediction(logits=logits, classes=self.store.class_ids.to(logits.device), known_score=logits.max(1).values)

    def predict_summary(self, inputs: torch.Tensor, request: SummaryRequest) -> Prediction:
        summary = self.store.summarise(self._features(inputs), request, self.params.metric, self.params.normalize_means)
        return Prediction(None, self.store.class_ids.to(summary.top_values.device), summary.max_logit, summary)
