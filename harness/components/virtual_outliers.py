"""OVOR's virtual outlier regularisation: outliers synthesised around the boundary of the current
task's features, and an energy loss that keeps them apart from in-distribution samples.

Generation (Huang et al., ICLR 2024, following NPOS):

1. normalise the in-distribution features, ``ẑ = z/‖z‖``; a sample's boundary score is its distance
   to its ``K``-th nearest neighbour among them (``K = 50``; the sample itself counts as the first);
2. the ``select`` (50) samples with the largest scores are the boundary points;
3. around each boundary point ``b``, ``sample_from`` (600) candidates ``b + σ·ε``, ``ε ~ N(0, I)``
   (``σ = 0.1``, the reference code's ``cov``);
4. the ``per_class · C`` candidates (40 per class) farthest from the in-distribution features (again by
   ``K``-th nearest-neighbour distance, normalised) are the virtual outliers.

Where the paper and the reference code disagree: the code forgets to add the offsets to the boundary
points (its candidates are ``σ·ε`` around the origin), and it draws one set of ``sample_from`` offsets
shared by all boundary points, so its candidates repeat once per boundary point.  ``offsets_only=False``
(default) follows the paper (fresh offsets for every boundary point, added to it);
``offsets_only=True`` reproduces the code, the shared offsets and their repetition included.  Candidates are built around the raw (not
normalised) boundary features, the space the classifier head sees, and ranked on normalised vectors.

Loss, with the energy ``E(x) = −logsumexp(logits(x))``::

    L = λ · [ Huber(ReLU(E_id − t_id), 0) + Huber(ReLU(t_ood − E_ood), 0) ]

``t_id = −15``, ``t_ood = −3``, ``λ = 0.1``; Huber with δ = 1 and mean reduction (the reference
default; ``huber=False`` uses the squared error).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class OutlierConfig:
    k: int = 50
    select: int = 50
    sample_from: int = 600
    sigma: float = 0.1
    per_class: int = 40
    offsets_only: bool = False


def kth_neighbour_distance(queries: torch.Tensor, bank: torch.Tensor, k: int, chunk: int = 4096) -> torch.Tensor:
    """Euclidean distance from each query to its ``k``-th nearest row of ``bank`` (1-based, clamped)."""
    k = min(k, len(bank))
    out = []
    for start in range(0, len(queries), chunk):
        d = torch.cdist(queries[start : start + chunk], bank)
        out.append(d.topk(k, dim=1, largest=False).values[:, -1])
    return torch.cat(out)


def boundary_indices(features: torch.Tensor, k: int, select: int) -> torch.Tensor:
    """Indices of the ``select`` features farthest from their ``k``-th neighbour (normalised space)."""
    z = F.normalize(features, dim=1)
    scores = kth_neighbour_distance(z, z, k)
    return scores.topk(min(select, len(z))).indices


def virtual_outliers(features: torch.Tensor, num_classes: int, config: OutlierConfig, generator: torch.Generator) -> torch.Tensor:
    """Virtual outliers for in-distribution ``features`` ``(N, D)`` of ``num_classes`` classes."""
    features = features.detach().float().cpu()
    boundary = boundary_indices(features, config.k, config.select)
    if config.offsets_only:  # the reference code: one shared set of offsets, repeated per boundary point
        shared = torch.randn(config.sample_from, features.shape[1], generator=generator) * config.sigma
        candidates = shared.repeat(len(boundary), 1)
    else:
        offsets = torch.randn(len(boundary) * config.sample_from, features.shape[1], generator=generator) * config.sigma
        candidates = features[boundary].repeat_interleave(config.sample_from, dim=0) + offsets
    bank = F.normalize(features, dim=1)
    ranked_on = candidates if config.offsets_only else F.normalize(candidates, dim=1)
    scores = kth_neighbour_distance(ranked_on, bank, config.k)
    keep = scores.topk(min(len(candidates), config.per_class * num_classes)).indices
    return candidates[keep]


def energy(logits: torch.Tensor) -> torch.Tensor:
    """``E = −logsumexp(logits)``: low for confident in-distribution inputs."""
    return -torch.logsumexp(logits, dim=1)


def energy_regulariser(
    id_logits: torch.Tensor,
    ood_logits: torch.Tensor,
    t_id: float = -15.0,
    t_ood: float = -3.0,
    weight: float = 0.1,
    huber: bool = True,
) -> torch.Tensor:
    """``λ·[H(ReLU(E_id − t_id)) + H(ReLU(t_ood − E_ood))]`` (see the module docstring)."""
    penalty = F.huber_loss if huber else F.mse_loss
    id_gap = F.relu(energy(id_logits) - t_id)
    ood_gap = F.relu(t_ood - energy(ood_logits))
    return weight * (penalty(id_gap, torch.zeros_like(id_gap)) + penalty(ood_gap, torch.zeros_like(ood_gap)))
