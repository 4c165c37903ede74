"""A fused matmul + arg-max for top-1 search (Triton): no block of scores is ever written.

Each program takes ``BLOCK_M`` queries and walks over every row of ``P`` in tiles of ``BLOCK_N``,
accumulating ``q·p`` in float32 over ``BLOCK_K`` slices (``tl.dot``: IEEE float32, TF32 or bf16
inputs), adding the bias, and keeping per query the best value, its row (the lowest on ties: a
later tile must be strictly better, and inside a tile the lowest maximal column wins) and the best
value of any other row.  That runner-up is what the rounding proof of the fast precisions needs
(``harness/store/search.py``).

Runs on CUDA; with ``TRITON_INTERPRET=1`` Triton's interpreter runs it on CPU tensors (tests), where
bf16 tiles are widened to float32 before ``tl.dot`` (the interpreter's bf16 dot is wrong; a bf16
product is exact in float32, so this is the same arithmetic as a tensor core's bf16 dot with
float32 accumulation, up to summation order).
"""

from __future__ import annotations

import os

import torch

try:
    import triton
    import triton.language as tl
except ImportError:  # an optional fast path: the store works without it
    triton = None


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def unavailable_reason(device: torch.device) -> str | None:
    """Why the fused kernel cannot run on ``device`` (None when it can)."""
    if triton is None:
        return "Triton is not installed"
    if device.type != "cuda" and not interpreting():
        return f"the Triton kernel needs a CUDA device (got {device.type}; TRITON_INTERPRET=1 runs it on CPU, slowly)"
    return None


if triton is not None:

    @triton.jit
    def _top1_kernel(
        Q, P, B, OUT_BEST, OUT_ROW, OUT_SECOND, N, C, K, stride_q, stride_p,
        HAS_BIAS: tl.constexpr, IEEE: tl.constexpr, WIDEN: tl.constexpr,
        BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    ):
        rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
        row_ok = rows < N
        best = tl.full((BLOCK_M,), float("-inf"), tl.float32)
        second = tl.full((BLOCK_M,), float("-inf"), tl.float32)
        arg = tl.zeros((BLOCK_M,), tl.int32)
        for c0 in range(0, C, BLOCK_N):
            cols = c0 + tl.arange(0, BLOCK_N)
            col_ok = cols < C
            acc = tl.zeros((BLOCK_M, BLOCK_N), tl.float32)
            for k0 in range(0, K, BLOCK_K):
                ks = k0 + tl.arange(0, BLOCK_K)
                k_ok = ks < K
                q = tl.load(Q + rows[:, None] * stride_q + ks[None, :], mask=row_ok[:, None] & k_ok[None, :], other=0.0)
                p = tl.load(P + cols[None, :] * stride_p + ks[:, None], mask=col_ok[None, :] & k_ok[:, None], other=0.0)
                if WIDEN:
                    q = q.to(tl.float32)
                    p = p.to(tl.float32)
                if IEEE:
                    acc = tl.dot(q, p, acc, input_precision="ieee")
                else:
                    acc = tl.dot(q, p, acc)
            if HAS_BIAS:
                acc += tl.load(B + cols, mask=col_ok, other=0.0).to(tl.float32)[None, :]
            acc = tl.where(col_ok[None, :], acc, float("-inf"))
            tile_best = tl.max(acc, axis=1)
            tile_arg = tl.min(tl.where(acc == tile_best[:, None], cols[None, :], 2147483647), axis=1)
            tile_second = tl.max(tl.where(cols[None, :] == tile_arg[:, None], float("-inf"), acc), axis=1)
            better = tile_best > best  # strictly: an earlier tile keeps a tie
            second = tl.where(better, tl.maximum(best, tile_second), tl.maximum(second, tile_best))
            arg = tl.where(better, tile_arg, arg)
            best = tl.where(better, tile_best, best)
        tl.store(OUT_BEST + rows, best, mask=row_ok)
        tl.store(OUT_ROW + rows, arg.to(tl.int64), mask=row_ok)
        tl.store(OUT_SECOND + rows, second, mask=row_ok)


def fused_top1(
    q: torch.Tensor, p: torch.Tensor, bias: torch.Tensor | None, precision: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Best ``q·p + bias`` over the rows of ``p``, its row and the best value of any other row.

    ``q`` (n, D) and ``p`` (C, D) share a dtype (float32, or bfloat16 for ``precision="bf16"``);
    ``precision="highest"`` multiplies float32 in IEEE arithmetic, ``"tf32"`` lets Triton use TF32.
    Returns float32 values and int64 rows, each ``(n,)``.
    """
    reason = unavailable_reason(q.device)
    if reason:
        raise RuntimeError(reason)
    q, p = q.contiguous(), p.contiguous()
    n, k = q.shape
    best = torch.empty(n, dtype=torch.float32, device=q.device)
    rows = torch.empty(n, dtype=torch.int64, device=q.device)
    second = torch.empty(n, dtype=torch.float32, device=q.device)
    if interpreting():
        blocks, options = dict(BLOCK_M=16, BLOCK_N=16, BLOCK_K=16), {}
    else:  # untuned starting points; bench/gpu_prototype_store.py measures them
        blocks = dict(BLOCK_M=128, BLOCK_N=128, BLOCK_K=64 if q.dtype == torch.bfloat16 else 32)
        options = dict(num_warps=8, num_stages=3)
    bias_arg = bias.contiguous() if bias is not None else best
    _top1_kernel[(triton.cdiv(n, blocks["BLOCK_M"]),)](
        q, p, bias_arg, best, rows, second, n, len(p), k, q.stride(0), p.stride(0),
        HAS_BIAS=bias is not None, IEEE=precision == "highest",
        WIDEN=interpreting() and q.dtype == torch.bfloat16, **blocks, **options,
    )
    return best, rows, second
