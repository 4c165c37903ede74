"""The relative Mahalanobis scorer."""

from __future__ import annotations

import numpy as np
import torch

from harness.api.experience import Prediction
from harness.api.registry import SCORERS
from harness.scorers.gaussian import Gaussian, GaussianPrecision, squared_distances


@SCORERS.register("relative_mahalanobis")
class RelativeMahalanobis(Gaussian):
    """``−min_c [MD_c(z) − MD_0(z)]`` (Ren et al., 2021): each class's squared Mahalanobis distance
    minus that to one Gaussian fitted to all training features together (same covariance options)."""

    def score(self, prediction: Prediction, features: torch.Tensor | None) -> np.ndarray:
        x = features.detach().cpu().double().numpy()
        mean, cov = self.stats.memo("global", self.stats.global_mean_covariance)
        background_precision = self.stats.memo("global precision", lambda: GaussianPrecision(cov, self.params.shrinkage))
        background = squared_distances(x, mean[None, :], [background_precision])[:, 0]
        return -(self._class_distances(x) - background[:, None]).min(axis=1)
