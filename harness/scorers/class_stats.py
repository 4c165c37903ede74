"""Running per-class statistics of training features (count, mean, scatter), in float64, merged step
by step with the pairwise formula (Chan et al., 1979), so that scorers keep no training samples."""

from __future__ import annotations

import numpy as np
import torch


class ClassStatistics:
    """Per class: number of samples, mean, and scatter ``Σ (x − μ)(x − μ)ᵀ`` (only with ``full``)."""

    def __init__(self, full: bool = True):
        self.full = full
        self.count: dict[int, int] = {}
        self.mean: dict[int, np.ndarray] = {}
        self.scatter: dict[int, np.ndarray] = {}

    def update(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        x = features.detach().cpu().double().numpy()
        y = labels.detach().cpu().numpy()
        for c in np.unique(y):
            part = x[y == c]
            n_b, mean_b = len(part), part.mean(0)
            centered = part - mean_b
            scatter_b = centered.T @ centered if self.full else None
            c = int(c)
            if c not in self.count:
                self.count[c], self.mean[c] = n_b, mean_b
                if self.full:
                    self.scatter[c] = scatter_b
                continue
            n_a, mean_a = self.count[c], self.mean[c]
            n, delta = n_a + n_b, mean_b - mean_a
            self.mean[c] = mean_a + delta * n_b / n
            if self.full:
                self.scatter[c] = self.scatter[c] + scatter_b + np.outer(delta, delta) * n_a * n_b / n
            self.count[c] = n

    @property
    def classes(self) -> list[int]:
        return sorted(self.count)

    def means(self) -> np.ndarray:
        return np.stack([self.mean[c] for c in self.classes])

    def covariance(self, c: int) -> np.ndarray:
        """Maximum-likelihood covariance of class ``c`` (divided by its count)."""
        return self.scatter[c] / self.count[c]

    def tied_covariance(self) -> np.ndarray:
        """The within-class covariance shared by all classes: summed scatter over all samples (Lee et al.)."""
        return sum(self.scatter[c] for c in self.classes) / sum(self.count.values())

    def global_mean_covariance(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of all samples together (the "background" Gaussian of the relative score)."""
        n = sum(self.count.values())
        mean = sum(self.mean[c] * self.count[c] for c in self.classes) / n
        scatter = sum(self.scatter[c] + np.outer(self.mean[c] - mean, self.mean[c] - mean) * self.count[c] for c in self.classes)
        return mean, scatter / n


def shrunk(cov: np.ndarray, shrinkage: float) -> np.ndarray:
    """``(1 − α) Σ + α (tr Σ / D) I``: shrinkage towards a scaled identity (the target of Ledoit and Wolf)."""
    if shrinkage == 0:
        return cov
    d = cov.shape[0]
    return (1 - shrinkage) * cov + shrinkage * np.trace(cov) / d * np.eye(d)


def precision(cov: np.ndarray) -> np.ndarray:
    """The (pseudo-)inverse of a covariance: ``scipy.linalg.pinvh`` handles the singular ones a
    small training set gives (more dimensions than samples)."""
    from scipy.linalg import pinvh

    return pinvh(cov)
