"""Covariance estimates with shrinkage, and the whitening maps used by Mahalanobis distances.

Shrinkage towards a scaled identity (the target of Ledoit and Wolf)::

    Σ(α) = (1 - α) Σ + α (tr Σ / D) I,      0 ≤ α ≤ 1

Mahalanobis distance ``d(x, μ)² = (x - μ)ᵀ Σ⁻¹ (x - μ)``.  With the Cholesky factor ``Σ = L Lᵀ``
and ``W = L⁻¹`` it is the squared Euclidean distance ``||W x - W μ||²``; for a diagonal ``Σ``,
``W = diag(1/σ)``.
"""

from __future__ import annotations

import torch


def shrink(cov: torch.Tensor, alpha: float, full: bool) -> torch.Tensor:
    """Shrink a covariance (``(…, D, D)`` if ``full`` else the diagonal ``(…, D)``) towards ``tr/D · I``."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"shrinkage must be in [0, 1], got {alpha}")
    if alpha == 0.0:
        return cov
    if full:
        scale = torch.diagonal(cov, dim1=-2, dim2=-1).mean(-1)
        eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
        return (1 - alpha) * cov + alpha * scale[..., None, None] * eye
    return (1 - alpha) * cov + alpha * cov.mean(-1, keepdim=True)


def whitening(cov: torch.Tensor, full: bool, what: str) -> torch.Tensor:
    """``W = L⁻¹`` (``(…, D, D)``) for full covariances; ``1/σ`` (``(…, D)``) for diagonal ones."""
    if not full:
        if bool((cov <= 0).any()):
            raise ValueError(f"{what} has a zero variance; use shrinkage > 0 (or more samples per class)")
        return cov.rsqrt()
    chol, info = torch.linalg.cholesky_ex(cov)
    diag = torch.diagonal(chol, dim1=-2, dim2=-1)
    # numerically singular: the smallest pivot is lost in rounding against the largest
    tiny = (diag.amin(-1) ** 2) <= diag.amax(-1) ** 2 * cov.shape[-1] * torch.finfo(cov.dtype).eps
    if bool((info != 0).any()) or bool(tiny.any()):
        raise ValueError(f"{what} is not positive definite; use shrinkage > 0 (or more samples per class)")
    eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device).expand_as(cov)
    return torch.linalg.solve_triangular(chol, eye, upper=False)
