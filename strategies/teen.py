"""TEEN: training-free prototype calibration for few-shot class-incremental learning (Wang et al., NeurIPS 2023).

After base training (cosine classifier, cross-entropy), the base classifier weights are replaced by
the base class means of raw features.  A new class's prototype is the mean ``p`` of its shots, then
calibrated towards the base prototypes ``p_b`` (``b`` ranges over the BASE classes only)::

    w_b  = softmax_b(τ · cos(p, p_b))
    p̂   = (1 − s) · normalize(p) + s · normalize(Σ_b w_b · normalize(p_b))

and predictions are cosine logits ``scale · cos(f, p̂_c)`` over all seen classes; the open-set score
is the largest logit.  In the paper's notation ``α = 1 − s`` weighs the class's own prototype.

Defaults follow the authors' scripts for CIFAR-100: ``shift_weight`` s = 0.1, ``softmax_temperature``
τ = 16, ``logit_scale`` 16 (their ``temperature``, also the base cosine classifier's temperature).
For CUB-200 and miniImageNet their scripts use s = 0.5, τ = 16 and scale 32.  Their base training
keeps the epoch with the best TEST accuracy; here the schedule is fixed, or an epoch is chosen on a
split of the base training data (``backbone.validation_fraction``).  New classes of a ``cil`` step
are calibrated the same way from all their samples.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from harness.components.discovery import Clustering, DiscoveryParams
from harness.components.session_strategy import SessionBackboneStrategy
from harness.api.experience import Experience, Prediction
from harness.api.params import Params
from harness.api.summary import SummaryRequest
from harness.store.prototype_store import PrototypeStore
from harness.api.registry import STRATEGIES
from harness.training import BackboneParams


class TEENBackboneParams(BackboneParams):
    """The base network of TEEN: trained with a cosine classifier of temperature 16 by default."""

    classifier: Literal["linear", "cosine"] = Field("cosine", description="head used for training")


class TEENParams(Params):
    backbone: TEENBackboneParams = Field(default_factory=TEENBackboneParams, description="network trained on the base session")
    shift_weight: float = Field(0.1, ge=0.0, le=1.0, description="s: weight of the base-class shift (α = 1 − s)")
    softmax_temperature: float = Field(16.0, gt=0.0, description="τ of the softmax over base-class similarities")
    logit_scale: float = Field(16.0, gt=0.0, description="scale of the cosine logits at prediction")
    discovery: DiscoveryParams = Field(default_factory=DiscoveryParams, description="options of new-class discovery (ncd, cgcd)")
    calibrated_norm: Literal["mean", "unit"] = Field(
        "mean",
        description="length of a discovered class's calibrated prototype in the store: its cluster mean's (the space the next "
        "discovery clusters in) or 1 (earlier owlbench); cosine predictions do not depend on it",
    )


def calibrate(protos: torch.Tensor, base_protos: torch.Tensor, shift_weight: float, tau: float) -> torch.Tensor:
    """TEEN's calibration of new prototypes ``protos`` (M, D) towards ``base_protos`` (B, D)."""
    p = F.normalize(protos, dim=1)
    b = F.normalize(base_protos, dim=1)
    weights = torch.softmax(tau * (p @ b.T), dim=1)
    shift = F.normalize(weights @ b, dim=1)
    return (1.0 - shift_weight) * p + shift_weight * shift


@STRATEGIES.register("teen")
class TEEN(SessionBackboneStrategy):
    __doc__ = __doc__ + """
On unlabeled steps (``ncd``, ``cgcd``) the shared discovery clusters the frozen features with the
known prototypes fixed; each discovered cluster's centre is a new prototype, calibrated like the
prototype of a labeled new class.
"""
    Params = TEENParams
    def __init__(self, params: TEENParams, context):
        super().__init__(params, context)
        self.base_classes: list[int] = []

    def learn(self, experience: Experience) -> None:
        if experience.is_base:
            self.backbone.fit_base(experience)
        feats = self.backbone.features(experience.inputs)
        if self.store is None:
            self.store = PrototypeStore(feats.shape[1], device=feats.device)
        self.store.update(feats, experience.labels.to(feats.device))
        if experience.is_base:
            self.base_classes = [c for c in experience.new_classes if c in self.store]
            return
        self._calibrate([c for c in experience.new_classes if c in self.store and c not in self.base_classes])

    def _calibrate(self, new: list[int], keep_length: bool = False) -> None:
        if new and self.base_classes:
            rows, base_rows = self.store.rows(new), self.store.rows(self.base_classes)
            means = self.store.means[rows]
            calibrated = calibrate(means, self.store.means[base_rows], self.params.shift_weight, self.params.softmax_temperature)
            if keep_length:
                # TEEN scores prototypes by cosine only, so the length is free: keeping the mean's length
                # leaves every prediction as it was and keeps the prototype beside its samples, where the
                # discovery of a later stage (Euclidean, known prototypes fixed) looks for it
                calibrated = F.normalize(calibrated, dim=1) * means.norm(dim=1, keepdim=True)
            self.store.set_means(new, calibrated)

    def discovery_features(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.backbone.features(inputs)

    def after_discovery(self, experience, features: torch.Tensor, new_ids: list[int], clustering: Clustering) -> None:
        self._calibrate(new_ids, keep_length=self.params.calibrated_norm == "mean")

    def predict(self, inputs: torch.Tensor) -> Prediction:
        logits = self.params.logit_scale * self.store.scores(self.backbone.features(inputs), "cosine")
        return Prediction(logits=logits, classes=self.store.class_ids.to(logits.device), known_score=logits.max(1).values)

    def predict_summary(self, inputs: torch.Tensor, request: SummaryRequest) -> Prediction:
        summary = self.store.summarise(self.backbone.features(inputs), request, "cosine", scale=self.params.logit_scale)
        return Prediction(None, self.store.class_ids.to(summary.top_values.device), summary.max_logit, summary)
