"""What the Gaussian scorers share: their parameters (tied or per-class covariance, shrinkage), their
running class statistics (no training samples kept), the precisions derived from them and the
squared Mahalanobis distances."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import Field

from harness.api.params import Params
from harness.api.scorer import Scorer
from harness.scorers.class_stats import ClassStatistics


class GaussianPrecision:
    """The (pseudo-)inverse of a shrunk covariance ``(1 − α) Σ + β I`` (``β = α tr Σ / D``), held as
    ``γ I + U diag(w) Uᵀ``: ``U`` spans the directions where ``Σ`` has variance, ``γ = 1/β``.

    A class seen through fewer samples than dimensions has a covariance of low rank (80 texts in
    384 dimensions: rank 79), and its squared distances then cost N·D·rank instead of N·D².  Equal to
    ``scipy.linalg.pinvh`` of the shrunk matrix up to rounding: the rank is pinvh's rule (eigenvalues
    above ``D · ε · max |λ|``), and ``Σ``'s null directions get ``1/β`` (none when ``β`` is itself
    below that cutoff, as pinvh would drop them).  The eigendecomposition is LAPACK's
    divide-and-conquer driver, several times faster than the one pinvh calls at these sizes."""

    def __init__(self, cov: np.ndarray, shrinkage: float):
        from scipy.linalg import eigh

        dim = len(cov)
        values, vectors = eigh(cov, driver="evd")
        rank = np.abs(values) > dim * np.finfo(values.dtype).eps * np.abs(values).max(initial=0.0)
        beta = shrinkage * float(np.trace(cov)) / dim
        shrunk_values = (1 - shrinkage) * values[rank] + beta
        largest = max(float(np.abs(shrunk_values).max(initial=0.0)), beta)
        self.scale = 1.0 / beta if beta > dim * np.finfo(values.dtype).eps * largest else 0.0
        weights = 1.0 / shrunk_values - self.scale
        self.basis, self.weights = vectors[:, rank], weights

    def matrix(self) -> np.ndarray:
        return self.scale * np.eye(len(self.basis)) + (self.basis * self.weights) @ self.basis.T

    def squared_distances(self, centred: np.ndarray) -> np.ndarray:
        """``dᵀ P d`` for each row ``d`` of ``centred``."""
        out = (centred @ self.basis) ** 2 @ self.weights
        if self.scale:
            out += self.scale * np.einsum("nd,nd->n", centred, centred)
        return out


class MahalanobisParams(Params):
    covariance: Literal["tied", "per_class"] = Field("tied", description="one covariance shared by the classes (Lee et al.), or one per class")
    shrinkage: float = Field(0.0, ge=0.0, le=1.0, description="α of (1 − α) Σ + α (tr Σ / D) I")


def squared_distances(x: np.ndarray, means: np.ndarray, precisions: list[GaussianPrecision]) -> np.ndarray:
    """N × C squared Mahalanobis distances; one precision for all classes, or one per class.

    With one matrix ``P``: ``xᵀPx − 2 xᵀPμ_c + μ_cᵀPμ_c`` (one N×D×D product for all classes);
    with one per class, ``(x − μ_c)ᵀ P_c (x − μ_c)`` in the precision's low-rank form."""
    if len(precisions) == 1:
        p = precisions[0].matrix()
        xp = x @ p
        out = (xp * x).sum(1)[:, None] - 2 * xp @ means.T + np.einsum("cd,de,ce->c", means, p, means)[None, :]
        return np.maximum(out, 0.0)  # rounding can take a zero distance below 0
    out = np.empty((len(x), len(means)))
    for c, (mean, p) in enumerate(zip(means, precisions)):
        out[:, c] = p.squared_distances(x - mean)
    return np.maximum(out, 0.0)


class Gaussian(Scorer):
    """Base of the Gaussian scorers: class statistics observed step by step, precisions derived from
    them and kept until their class is observed again."""

    Params = MahalanobisParams
    needs_features = True
    needs_logits = False  # features alone

    def __init__(self, params: MahalanobisParams):
        super().__init__(params)
        self.stats = ClassStatistics()
        self._precisions: dict[int, GaussianPrecision] = {}  # per class, kept until the class is observed again

    def observe(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        self.stats.update(features, labels)
        for c in np.unique(labels.cpu().numpy()):
            self._precisions.pop(int(c), None)

    @property
    def fitted(self) -> bool:
        return bool(self.stats.count)

    def _class_distances(self, x: np.ndarray) -> np.ndarray:
        s, alpha = self.stats, self.params.shrinkage
        if self.params.covariance == "tied":
            precisions = [s.memo("tied precision", lambda: GaussianPrecision(s.tied_covariance(), alpha))]
        else:
            for c in s.classes:
                if c not in self._precisions:
                    self._precisions[c] = GaussianPrecision(s.covariance(c), alpha)
            precisions = [self._precisions[c] for c in s.classes]
        return squared_distances(x, s.means(), precisions)
