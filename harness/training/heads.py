"""Classifier heads used while training the base backbone."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class CosineClassifier(nn.Module):
    """Logits ``temperature · cos(f, w_c)`` (no bias), as in the cosine classifiers of LUCIR and TEEN."""

    def __init__(self, dim: int, num_classes: int, temperature: float):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_classes, dim))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.temperature = temperature

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.temperature * F.linear(F.normalize(features, dim=1), F.normalize(self.weight, dim=1))


def build_head(kind: str, dim: int, num_classes: int, temperature: float) -> nn.Module:
    if kind == "cosine":
        return CosineClassifier(dim, num_classes, temperature)
    return nn.Linear(dim, num_classes)
