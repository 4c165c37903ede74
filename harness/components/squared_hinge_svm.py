"""One-vs-rest linear SVMs with the squared hinge, all classes solved at once in tensor operations.

The problem is scikit-learn's ``LinearSVC(penalty="l2", loss="squared_hinge", dual=False, C=C)``
(liblinear's primal L2-loss SVC): for every class ``k``, with ``y_ik = +1`` when sample ``i`` is of
class ``k`` and ``−1`` otherwise, and ``x̃_i = [x_i, 1]`` (liblinear's intercept: a constant feature
of value 1 whose weight is the bias and is regularised like the others)::

    f_k(w) = ½‖w‖² + C Σ_i max(0, 1 − y_ik wᵀx̃_i)²

Solver: Newton's method with a conjugate-gradient inner solve and a backtracking line search
(liblinear's own primal solvers are Newton methods: a trust-region one in older releases, a
line-search one since 2.40), run for all ``K`` classes together so that every product is one matrix
product over the ``N × (D+1)`` data (or, once few samples are inside any class's margin, products
over each class's gathered rows inside it):

- gradient ``∇f_k = w_k + 2C X̃ᵀ[m_k ∘ (X̃w_k − y_k)]`` and generalised Hessian products
  ``H_k v = v + 2C X̃ᵀ[m_k ∘ X̃v]``, ``m_ik = [y_ik wᵀx̃_i < 1]`` (the samples inside the margin);
- CG stops at ``‖r_k‖ ≤ 0.1·‖∇f_k‖`` (at most ``max_cg`` iterations); the line search halves the step
  from 1 until ``f_k(w + αd) ≤ f_k(w) + 0.01·α·∇f_kᵀd``;
- stopping rule (liblinear's for its primal solvers): class ``k`` is done when
  ``‖∇f_k(w)‖ ≤ tol · max(min(P_k, N − P_k), 1) / N · ‖∇f_k(0)‖`` (``P_k`` its positives); the
  others go on, up to ``max_iter`` Newton steps.

The objective and gradients are computed in float64; the Hessian products of CG in ``cg_dtype``
(float32 by default: a search direction needs no more, and the line search in float64 keeps every
step a descent).  Equivalence with scikit-learn is tested on small problems (objective values to a
relative 1e-6, identical predictions) and measured at FeTrIL's scale in ``bench/fetril_step.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

CG_RESIDUAL = 0.1
SPARSE_BELOW = 0.02  # share of (sample, class) pairs inside the margin under which products gather rows
SPARSE_MAX_BYTES = 512 * 2**20
ARMIJO = 0.01
MAX_HALVINGS = 30


@dataclass
class SVMSolution:
    """``weight`` (K × D) and ``bias`` (K) of the decision values ``x·w_k + b_k``; per class the final
    ``objective`` and Newton ``iterations``; ``converged`` when every class met the stopping rule."""

    weight: torch.Tensor
    bias: torch.Tensor
    objective: torch.Tensor
    iterations: torch.Tensor
    converged: bool


def _objective(w: torch.Tensor, scores: torch.Tensor, y: torch.Tensor, c: float) -> torch.Tensor:
    """``f_k`` for every class: ``w`` (K × D+1), ``scores = X̃wᵀ`` (N × K), ``y`` (N × K) in ±1."""
    slack = torch.clamp(1 - y * scores, min=0)
    return 0.5 * (w * w).sum(1) + c * (slack * slack).sum(0)


def objective(weight: torch.Tensor, bias: torch.Tensor, x: torch.Tensor, labels: torch.Tensor, num_classes: int, c: float = 1.0) -> torch.Tensor:
    """``f_k`` of every class for decision values ``x·w_k + b_k`` (float64), whichever solver found them.
    scikit-learn's two-class ``coef_`` (one row, for class 1) is expanded to ``[−w, w]`` here."""
    weight, bias, x = weight.to(torch.float64), bias.to(torch.float64), x.to(torch.float64)
    if len(weight) == 1 and num_classes == 2:
        weight, bias = torch.cat([-weight, weight]), torch.cat([-bias, bias])
    y = -torch.ones(len(x), num_classes, dtype=torch.float64, device=x.device)
    y[torch.arange(len(x), device=x.device), labels.to(x.device)] = 1.0
    w = torch.cat([weight, bias[:, None]], 1)
    return _objective(w, x @ weight.T + bias, y, c)


def _gradient(w: torch.Tensor, scores: torch.Tensor, y: torch.Tensor, xt: torch.Tensor, c: float) -> tuple[torch.Tensor, torch.Tensor]:
    inside = (y * scores < 1).to(scores.dtype)
    return w + 2 * c * ((inside * (scores - y)).T @ xt), inside


def fit_squared_hinge_ovr(x: torch.Tensor, labels: torch.Tensor, num_classes: int, c: float = 1.0, tol: float = 1e-4,
                          max_iter: int = 1000, max_cg: int = 500, cg_dtype: torch.dtype = torch.float32) -> SVMSolution:
    """Solve the ``num_classes`` one-vs-rest problems of ``x`` (N × D) with ``labels`` in ``0 .. K−1``
    on ``x``'s device (see the module docstring)."""
    n = len(x)
    xt = torch.cat([x.to(torch.float64), x.new_ones(n, 1, dtype=torch.float64)], 1)
    xt_cg = xt.to(cg_dtype)
    y = -torch.ones(n, num_classes, dtype=torch.float64, device=x.device)
    y[torch.arange(n, device=x.device), labels.to(x.device)] = 1.0
    w = torch.zeros(num_classes, xt.shape[1], dtype=torch.float64, device=x.device)
    scores = torch.zeros(n, num_classes, dtype=torch.float64, device=x.device)
    grad, inside = _gradient(w, scores, y, xt, c)
    positives = (y > 0).sum(0).to(torch.float64)
    threshold = tol * torch.clamp(torch.minimum(positives, n - positives), min=1) / n * grad.norm(dim=1)
    iterations = torch.zeros(num_classes, dtype=torch.long, device=x.device)
    for _ in range(max_iter):
        todo = grad.norm(dim=1) > threshold
        if not bool(todo.any()):
            break
        rows = torch.nonzero(todo).flatten()
        direction = _newton_direction(grad[rows], inside[:, rows], xt_cg, c, max_cg).to(torch.float64)
        step_scores = xt @ direction.T
        alpha = _line_search(w[rows], scores[:, rows], y[:, rows], grad[rows], direction, step_scores, c)
        w[rows] += alpha[:, None] * direction
        scores[:, rows] += alpha[None, :] * step_scores
        iterations[rows] += 1
        grad[rows], inside[:, rows] = _gradient(w[rows], scores[:, rows], y[:, rows], xt, c)
    converged = not bool((grad.norm(dim=1) > threshold).any())
    return SVMSolution(w[:, :-1].clone(), w[:, -1].clone(), _objective(w, scores, y, c), iterations, converged)


def _hessian_products(inside: torch.Tensor, xt: torch.Tensor, c: float):
    """``p ↦ [p_k + 2C X̃ᵀ(m_k ∘ X̃p_k)]_k`` for the margin masks ``inside`` (N × K).  Dense: two products
    over all rows.  Once few (sample, class) pairs are inside the margin (a share below
    ``SPARSE_BELOW``, their rows within ``SPARSE_MAX_BYTES``), each class's rows inside it are gathered
    once and its product uses them alone: the same values, summed over fewer (all-zero) terms."""
    dtype = xt.dtype
    nnz = int(inside.count_nonzero())
    if nnz >= SPARSE_BELOW * inside.numel() or nnz * xt.shape[1] * xt.element_size() > SPARSE_MAX_BYTES:
        m = inside.to(dtype)
        return lambda p: p + 2 * c * ((m * (xt @ p.T)).T @ xt)
    rows = [xt[torch.nonzero(inside[:, k]).flatten()] for k in range(inside.shape[1])]

    def product(p: torch.Tensor) -> torch.Tensor:
        return p + 2 * c * torch.stack([r.T @ (r @ p[k]) for k, r in enumerate(rows)])

    return product


def _newton_direction(grad: torch.Tensor, inside: torch.Tensor, xt: torch.Tensor, c: float, max_cg: int) -> torch.Tensor:
    """Batched CG on ``H_k d_k = −∇f_k`` (one system per row of ``grad``), in ``xt``'s dtype."""
    dtype = xt.dtype
    g = grad.to(dtype)
    hessian = _hessian_products(inside, xt, c)
    d = torch.zeros_like(g)
    r = -g
    p = r.clone()
    rr = (r * r).sum(1)
    stop = (CG_RESIDUAL * g.norm(dim=1)) ** 2
    for _ in range(max_cg):
        active = rr > stop
        if not bool(active.any()):
            break
        hp = hessian(p)
        curvature = (p * hp).sum(1)
        a = torch.where(active, rr / curvature, torch.zeros_like(rr))
        d += a[:, None] * p
        r -= a[:, None] * hp
        rr_new = (r * r).sum(1)
        beta = torch.where(active, rr_new / rr, torch.zeros_like(rr))
        p = torch.where(active[:, None], r + beta[:, None] * p, p)
        rr = torch.where(active, rr_new, rr)
    return d


def _line_search(w, scores, y, grad, direction, step_scores, c: float) -> torch.Tensor:
    """Per class the largest ``α = 2^−j`` with ``f(w + αd) ≤ f(w) + 0.01·α·∇fᵀd``."""
    current = _objective(w, scores, y, c)
    slope = (grad * direction).sum(1)
    alpha = torch.ones(len(w), dtype=torch.float64, device=w.device)
    pending = torch.ones(len(w), dtype=torch.bool, device=w.device)
    for _ in range(MAX_HALVINGS):
        trial = _objective(w + alpha[:, None] * direction, scores + alpha[None, :] * step_scores, y, c)
        pending = trial > current + ARMIJO * alpha * slope
        if not bool(pending.any()):
            break
        alpha = torch.where(pending, alpha / 2, alpha)
    return torch.where(pending, torch.zeros_like(alpha), alpha)
