"""The Mahalanobis scorer."""

from __future__ import annotations

import numpy as np
import torch

from harness.api.experience import Prediction
from harness.api.registry import SCORERS
from harness.scorers.gaussian import Gaussian


@SCORERS.register("mahalanobis")
class Mahalanobis(Gaussian):
    """``−min_c (z − μ_c)ᵀ Σ⁻¹ (z − μ_c)`` on the strategy's features ``z`` (Lee et al., NeurIPS 2018,
    without their input perturbation and layer ensemble): class means and a tied within-class
    covariance (``covariance: per_class``: one per class), shrunk towards ``tr Σ / D · I`` by
    ``shrinkage``; singular covariances are pseudo-inverted."""

    def score(self, prediction: Prediction, features: torch.Tensor | None) -> np.ndarray:
        return -self._class_distances(features.detach().cpu().double().numpy()).min(axis=1)
