"""Exact streaming statistics: per-row counts, means and second moments merged pairwise.

For two sets A and B with counts ``n_a, n_b``, means ``μ_a, μ_b`` and centred second moments
``M2 = Σ (x - μ)(x - μ)ᵀ`` (or only its diagonal), Chan, Golub and LeVeque's pairwise update gives
the statistics of A ∪ B::

    n   = n_a + n_b,        δ = μ_b - μ_a
    μ   = μ_a + δ · n_b / n
    M2  = M2_a + M2_b + δ δᵀ · n_a n_b / n

The batch statistics are computed around a shift (the current mean of the row, or the first sample
of a row that has none), so that summing in float32 loses no digits to a large common offset.

With float64 accumulation the same update runs sample by sample in one go (:func:`merge_samples`):
no per-row temporaries, a few passes over the batch.
"""

from __future__ import annotations

import torch
from torch import Tensor

COVARIANCE_KINDS = (None, "diag", "full")


def first_positions(inverse: torch.Tensor, num: int) -> torch.Tensor:
    """Position of the first occurrence of each value ``0..num-1`` in ``inverse``."""
    pos = torch.arange(len(inverse), device=inverse.device)
    first = torch.full((num,), len(inverse), dtype=torch.long, device=inverse.device)
    return first.scatter_reduce_(0, inverse, pos, reduce="amin", include_self=True)


def batch_moments(
    x: torch.Tensor,
    inverse: torch.Tensor,
    num: int,
    shift: torch.Tensor | None,
    covariance: str | None,
    acc_dtype: torch.dtype,
    out_dtype: torch.dtype,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Counts, means and M2 of the groups ``inverse`` (values ``0..num-1``) of the rows of ``x``.

    ``shift`` (num, D), if given, is subtracted before summing (needed when ``acc_dtype`` is
    float32 and the data have a large offset); the result is exact up to the rounding of
    ``acc_dtype``.  Returns ``(counts (num,), means (num, D), m2)`` in ``out_dtype``; ``m2`` is
    ``None``, ``(num, D)`` or ``(num, D, D)`` following ``covariance``.
    """
    d = x.shape[1]
    counts = torch.bincount(inverse, minlength=num).to(out_dtype)
    xs = x.to(acc_dtype) if shift is None else x.to(acc_dtype) - shift.to(acc_dtype)[inverse]
    sums = torch.zeros(num, d, dtype=acc_dtype, device=x.device).index_add_(0, inverse, xs)
    centred_mean = sums / counts.clamp_min(1).to(acc_dtype)[:, None]  # groups absent here: shift, weight 0
    means = centred_mean.to(out_dtype) if shift is None else shift.to(out_dtype) + centred_mean.to(out_dtype)
    if covariance is None:
        return counts, means, None
    dev = xs - centred_mean[inverse]
    if covariance == "diag":
        m2 = torch.zeros(num, d, dtype=acc_dtype, device=x.device).index_add_(0, inverse, dev * dev)
        return counts, means, m2.to(out_dtype)
    order = torch.argsort(inverse, stable=True)
    groups = torch.split(dev[order], torch.bincount(inverse, minlength=num).tolist())
    m2 = torch.stack([g.T @ g for g in groups]).to(out_dtype)
    return counts, means, m2


def chan_merge(n_a: Tensor, mean_a: Tensor, m2_a: Tensor | None, n_b: Tensor, mean_b: Tensor, m2_b: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
    """Statistics of the union of two disjoint sets, row by row (see the module docstring).

    Rows where both counts are zero keep mean and M2 at zero.
    """
    n = n_a + n_b
    safe = torch.where(n > 0, n, torch.ones_like(n))
    delta = mean_b - mean_a
    mean = mean_a + delta * (n_b / safe)[:, None]
    if m2_a is None:
        return n, mean, None
    w = n_a * n_b / safe
    if m2_a.ndim == 2:
        m2 = m2_a + m2_b + delta * delta * w[:, None]
    else:
        m2 = m2_a + m2_b + delta[:, :, None] * delta[:, None, :] * w[:, None, None]
    return n, mean, m2


def merge_samples(
    n: torch.Tensor,
    mean: torch.Tensor,
    m2: torch.Tensor | None,
    x: torch.Tensor,
    rows: torch.Tensor,
    scratch: torch.Tensor | None = None,
) -> None:
    """Merge samples ``x`` (B, D) into rows ``rows`` (B,) of float64 statistics, in place.

    Every sample uses its row's old mean ``μ`` and new count ``n'``::

        μ'  = μ + Σ (x - μ) / n'
        M2' = M2 + Σ (x - μ) ∘ (x - μ')      (diagonal M2)

    which is the pairwise update above: ``Σ (x - μ)/n' = δ n_b / n'`` and
    ``Σ (x - μ)(x - μ') = M2_b + δ² n_a n_b / n'``.  Rows may repeat; ``x`` may be float32.
    ``scratch`` (at least ``(2, B, D)``, the statistics' dtype) is reused for the temporaries:
    fresh batch-sized allocations cost page faults on every call.
    """
    b = len(rows)
    if scratch is None or scratch.shape[1] < b:
        scratch = mean.new_empty((2, b, mean.shape[1]))
    dev, other = scratch[0, :b], scratch[1, :b]
    n.index_add_(0, rows, torch.ones(b, dtype=n.dtype, device=n.device))
    torch.index_select(mean, 0, rows, out=dev).neg_().add_(x)  # x - μ, before any row moves
    torch.mul(dev, n[rows].reciprocal_()[:, None], out=other)
    mean.index_add_(0, rows, other)
    if m2 is not None:
        torch.index_select(mean, 0, rows, out=other).neg_().add_(x)  # x - μ'
        m2.index_add_(0, rows, dev.mul_(other))


def merge_groups(
    counts: torch.Tensor, means: torch.Tensor, m2: torch.Tensor | None, group: torch.Tensor, num: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Merge rows that share a ``group`` value into one row per group (``0..num-1``).

    ``M2_g = Σ_r M2_r + Σ_r n_r (μ_r - μ_g)(μ_r - μ_g)ᵀ`` with ``μ_g = Σ_r n_r μ_r / n_g``.
    """
    n = torch.zeros(num, dtype=counts.dtype, device=counts.device).index_add_(0, group, counts)
    safe = torch.where(n > 0, n, torch.ones_like(n))
    weighted = torch.zeros(num, means.shape[1], dtype=means.dtype, device=means.device)
    weighted.index_add_(0, group, means * counts[:, None].to(means.dtype))
    mean = weighted / safe[:, None].to(means.dtype)
    if m2 is None:
        return n, mean, None
    dev = means - mean[group]
    if m2.ndim == 2:
        between = dev * dev * counts[:, None]
    else:
        between = dev[:, :, None] * dev[:, None, :] * counts[:, None, None]
    out = torch.zeros((num, *m2.shape[1:]), dtype=m2.dtype, device=m2.device)
    out.index_add_(0, group, m2 + between)
    return n, mean, out
