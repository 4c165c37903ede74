"""Neural-gas topology over code vectors and the neighbourhood-aware losses of NAPA-VQ.

NAPA-VQ (Malepathirana et al., ICCV 2023) keeps one code vector per (augmented) class and learns a
graph between them with competitive Hebbian learning, the rule of growing neural gas: for each
input ``x`` the nearest code vector ``w`` is the winner; the edges from ``w`` to its ``k`` nearest code
vectors (``w`` itself included) get strength 1, the winner's other edges decay by ``ε`` (0.9), edges
below ``e_min`` (0.9**10) are pruned, and the graph is symmetrised, ``E ← (E + Eᵀ)/2``, once per
forward pass.

Two batch semantics are offered:

- ``"sequential"`` (default): exactly the per-input rule applied to the inputs of a batch in order,
  computed without a Python loop: for winner ``w`` and code vector ``j``, let ``t`` be the last input
  whose winner is ``w`` and whose ``k`` nearest contain ``j``; then ``E[w, j] = ε^(inputs after t won
  by w)``, or ``E[w, j]·ε^(inputs won by w)`` when there is no such input.
- ``"reference"``: the order-free shortcut of the authors' code, ``E[w, j] = max(E[w, j], [h > 0])
  · ε^max(v − h, 0)`` with ``v`` the inputs won by ``w`` and ``h`` those of them whose ``k`` nearest
  contain ``j``.  It differs from the per-input rule when ``j`` is hit more than once.
"""

from __future__ import annotations

from typing import Literal

import torch

EdgeRule = Literal["sequential", "reference"]


class NeuralGasTopology:
    """Edge strengths between ``M`` code vectors (``edges[i, j]``; the diagonal is 1)."""

    def __init__(
        self,
        num_vectors: int = 0,
        k: int = 15,
        decay: float = 0.9,
        min_strength: float = 0.9**10,
        rule: EdgeRule = "sequential",
        device: torch.device | str = "cpu",
    ):
        if rule not in ("sequential", "reference"):
            raise ValueError(f"rule must be 'sequential' or 'reference', got {rule!r}")
        self.k, self.decay, self.min_strength, self.rule = k, decay, min_strength, rule
        # float64 so that strengths compare with the pruning threshold exactly as the rule states
        self.edges = torch.eye(num_vectors, dtype=torch.float64, device=device)

    @property
    def num_vectors(self) -> int:
        return self.edges.shape[0]

    def grow(self, extra: int) -> None:
        """Add ``extra`` code vectors with no edges but to themselves."""
        m = self.num_vectors
        grown = torch.zeros(m + extra, m + extra, dtype=self.edges.dtype, device=self.edges.device)
        grown[:m, :m] = self.edges
        grown[range(m, m + extra), range(m, m + extra)] = 1.0
        self.edges = grown

    def nearest(self, x: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        """Indices of the ``k`` nearest code vectors per input, nearest first (ties to the lower index)."""
        d = torch.cdist(x.detach().float(), vectors.detach().float())
        order = torch.sort(d, dim=1, stable=True).indices
        return order[:, : min(self.k, vectors.shape[0])]

    def update(self, nearest: torch.Tensor) -> torch.Tensor:
        """Apply one batch (``nearest[i]`` = the ``k`` nearest code vectors of input ``i``); returns the
        updated, not yet symmetrised edges (the loss of that forward pass uses them)."""
        m = self.num_vectors
        dev = self.edges.device
        nearest = nearest.to(dev)
        winners = nearest[:, 0]
        visits = torch.bincount(winners, minlength=m).to(self.edges.dtype)
        if self.rule == "reference":
            hits = torch.zeros(m, m, dtype=self.edges.dtype, device=dev)
            hits.index_put_((winners[:, None].expand_as(nearest), nearest), torch.ones_like(nearest, dtype=hits.dtype), accumulate=True)
            exponent = (visits[:, None] - hits).clamp_min(0)
            edges = torch.maximum(self.edges, (hits > 0).to(self.edges.dtype)) * self.decay**exponent
        else:
            # rank of each input among the inputs with the same winner, in batch order
            n = len(winners)
            same = winners[:, None] == winners[None, :]
            earlier = torch.tril(torch.ones(n, n, dtype=torch.bool, device=dev), diagonal=-1)
            rank = (same & earlier).sum(1)
            last = torch.full((m * m,), -1, dtype=torch.long, device=dev)
            flat = (winners[:, None] * m + nearest).reshape(-1)
            last.scatter_reduce_(0, flat, rank[:, None].expand_as(nearest).reshape(-1), reduce="amax")
            last = last.view(m, m)
            after_last = (visits[:, None] - last - 1).clamp_min(0)
            edges = torch.where(last >= 0, self.decay**after_last, self.edges * self.decay ** visits[:, None])
        edges = torch.where(edges < self.min_strength, torch.zeros_like(edges), edges)
        self.edges = edges
        return edges

    def symmetrise(self) -> None:
        self.edges = (self.edges + self.edges.T) / 2

    def neighbours(self, index: int, edges: torch.Tensor | None = None) -> torch.Tensor:
        """Code vectors connected to ``index`` (itself included, as the diagonal is kept at 1)."""
        row = (self.edges if edges is None else edges)[index]
        return torch.nonzero(row > 0).flatten()


def neighbourhood_hinge_loss(
    x: torch.Tensor, labels: torch.Tensor, vectors: torch.Tensor, edges: torch.Tensor, temperature: float = 0.001
) -> torch.Tensor:
    """NAPA-VQ's neighbourhood-aware loss (mean over the batch):

    ``L = mean_i ReLU(d(x_i, v_{y_i}) − Σ_{j∈N(y_i)} a_ij · d(x_i, v_j))``, with ``d`` the squared Euclidean
    distance, ``N(y)`` the code vectors connected to ``y`` (``edges[y, j] > 0``, ``j ≠ y``) and weights
    ``a_ij = softmax_j(−temperature · d(x_i, v_j))`` over those neighbours, treated as constants.
    An input whose class has no neighbour contributes ``d(x_i, v_{y_i})``.
    """
    d = torch.cdist(x, vectors).pow(2)
    d_pos = d.gather(1, labels[:, None]).squeeze(1)
    mask = edges[labels] > 0
    mask[torch.arange(len(labels)), labels] = False
    logits = torch.where(mask, -temperature * d, torch.full_like(d, -torch.inf))
    has = mask.any(1, keepdim=True)
    weights = torch.where(has, torch.softmax(torch.where(has, logits, torch.zeros_like(logits)), dim=1), torch.zeros_like(d))
    weights = (weights * mask).detach()
    return torch.relu(d_pos - (weights * d).sum(1)).mean()


def distance_logits(x: torch.Tensor, vectors: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """``logits[i, c] = −‖x_i − v_c‖ / T``: the cross-entropy head of NAPA-VQ."""
    return -torch.cdist(x, vectors) / temperature


def feature_distillation(features: torch.Tensor, old_features: torch.Tensor) -> torch.Tensor:
    """``‖F − F_old‖₂``: the Euclidean norm of the whole difference of the two feature batches (not a
    mean over samples), the distillation term of NAPA-VQ's code, weighted by 10 there."""
    return torch.dist(features, old_features, 2)


def mix_prototypes(prototypes: torch.Tensor, partners: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """Neighbourhood-aware prototype augmentation: ``γ·p + (1 − γ)·p_partner`` per row (``γ`` of shape (N, 1))."""
    return gamma * prototypes + (1 - gamma) * partners

