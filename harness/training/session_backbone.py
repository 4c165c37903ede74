"""What a strategy holds: a backbone trained on the first (base) experience it sees, frozen afterwards."""

from __future__ import annotations

import torch

from harness.api.seeds import SeedStream
from harness.api.experience import Experience
from harness.training.base_training import TrainedBackbone, train_base_backbone
from harness.training.params import BackboneParams



class SessionBackbone:
    """Trains on the base session (step 0) only; every later call just extracts frozen features."""

    def __init__(self, params: BackboneParams, context):
        self.params = params
        self.context = context
        self.trained: TrainedBackbone | None = None

    def fit_base(self, experience: Experience) -> None:
        if self.trained is not None:
            raise RuntimeError("the backbone is already trained: it is trained on the base session only")
        if not experience.is_base:
            raise RuntimeError(f"the backbone must be trained on the base session (step 0), got step {experience.step}")
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=self.context.generator(SeedStream.SESSION_BACKBONE)))
        self.trained = train_base_backbone(self.params, experience.inputs, experience.labels, seed, self.context.device)

    def features(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.trained is None:
            raise RuntimeError("learn the base session first: the backbone is not trained yet")
        return self.trained.features(inputs)
