"""Blocked exact search: rank rows of ``P`` for each query by ``q·p + bias`` (higher is closer).

Every metric of the store reduces to this form: inner product (bias 0), cosine (normalised rows),
squared Euclidean distance (``-||q - p||² / 2 = q·p - ||p||²/2 - ||q||²/2``, the last term the same
for every row) and shared-covariance Mahalanobis distance (Euclidean after whitening).

Scores are computed for blocks of ``query_block × class_block`` entries written into one reused
buffer (``torch.addmm`` with the bias), so the working memory is that buffer whatever N and C are,
and on CPU a block that fits in the cache is reduced while it is still there.

Top-1 over several class blocks takes two passes: the first keeps only the maximum of each block
(``amax``, cheaper than tracking indices), the second recomputes, for each query, the one block
that holds its maximum and takes the arg-max there (the recomputed block may round differently
from the first pass only where two scores agree to float32 rounding).  Ties go to the lower row: ``max`` returns the
first maximal index and the first maximal block wins.  For ``k > 1`` each block's top-k is taken
with ties broken towards the lower row and merged into the running top-k.
"""

from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("highest", "tf32", "bf16")


@contextlib.contextmanager
def matmul_precision(precision: str, device: torch.device):
    """Allow TF32 tensor-core matmuls inside the block when ``precision == "tf32"`` on CUDA.

    On CPU TF32 does not exist and the block runs in IEEE float32.
    """
    if precision != "tf32" or device.type != "cuda":
        yield
        return
    matmul = torch.backends.cuda.matmul
    if hasattr(matmul, "fp32_precision"):
        old = matmul.fp32_precision
        matmul.fp32_precision = "tf32"
        try:
            yield
        finally:
            matmul.fp32_precision = old
    else:  # older torch
        old = matmul.allow_tf32
        matmul.allow_tf32 = True
        try:
            yield
        finally:
            matmul.allow_tf32 = old


def block_topk(block: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k along dim 1, best first, ties broken towards the lower column (deterministic).

    Keeps every entry above the k-th largest value and, among entries equal to it, the first ones.
    """
    n, m = block.shape
    if k >= m:
        order = torch.sort(block, dim=1, descending=True, stable=True)
        return order.values, order.indices
    kth = torch.topk(block, k, dim=1).values[:, -1:]
    greater = block > kth
    equal = block == kth
    room = k - greater.sum(1, keepdim=True)
    keep = greater | (equal & (equal.cumsum(1) <= room))
    cols = keep.nonzero()[:, 1].view(n, k)  # nonzero is row-major: columns ascending per row
    vals = block.gather(1, cols)
    order = torch.sort(vals, dim=1, descending=True, stable=True).indices
    return vals.gather(1, order), cols.gather(1, order)


def merge_topk(
    vals_a: torch.Tensor, idx_a: torch.Tensor, vals_b: torch.Tensor, idx_b: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k of two candidate lists (indices of ``a`` all lower than those of ``b``)."""
    vals = torch.cat([vals_a, vals_b], dim=1)
    idx = torch.cat([idx_a, idx_b], dim=1)
    by_index = torch.sort(idx, dim=1, stable=True).indices
    vals, idx = vals.gather(1, by_index), idx.gather(1, by_index)
    order = torch.sort(vals, dim=1, descending=True, stable=True).indices[:, :k]
    return vals.gather(1, order), idx.gather(1, order)


class BlockedSearch:
    """Ranks rows of ``protos`` (C, D) by ``q·p + bias`` for batches of queries.

    ``query_block × class_block`` floats is the working buffer; both are fixed by the caller so
    that the buffer stays within the memory budget.
    """

    def __init__(
        self,
        protos: torch.Tensor,
        bias: torch.Tensor | None,
        query_block: int,
        class_block: int,
        precision: str = "highest",
    ):
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
        self.precision = precision
        compute = torch.bfloat16 if precision == "bf16" else protos.dtype
        self.protos = protos.to(compute)
        self.protos_t = self.protos.T
        self.bias = None if bias is None else bias.to(compute)
        self.num = len(protos)
        self.query_block = max(1, query_block)
        self.class_block = max(1, min(class_block, self.num))
        self.compute = compute
        self._buffer: torch.Tensor | None = None

    def _buf(self, rows: int, cols: int) -> torch.Tensor:
        if self._buffer is None:
            self._buffer = torch.empty(
                self.query_block, self.class_block, dtype=self.compute, device=self.protos.device
            )
        return self._buffer[:rows, :cols]

    def _block(self, q: torch.Tensor, lo: int, hi: int, out: torch.Tensor | None = None) -> torch.Tensor:
        out = self._buf(len(q), hi - lo) if out is None else out
        with matmul_precision(self.precision, q.device):
            if self.bias is None:
                torch.mm(q, self.protos_t[:, lo:hi], out=out)
            else:
                torch.addmm(self.bias[lo:hi], q, self.protos_t[:, lo:hi], out=out)
        return out

    def scores_into(self, q: torch.Tensor, out: torch.Tensor) -> None:
        """``out[i, j] = q_i·p_j + bias_j`` for every row, written block by block of queries."""
        q = q.to(self.compute)
        for s in range(0, len(q), self.query_block):
            self._block(q[s : s + self.query_block], 0, self.num, out[s : s + self.query_block])

    def top1(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Best ``q·p + bias`` and its row for each query, ``(N,)`` each (ties: lower row)."""
        q = q.to(self.compute)
        n, cb = len(q), self.class_block
        values = torch.empty(n, dtype=self.compute, device=q.device)
        result = torch.empty(n, dtype=torch.long, device=q.device)
        starts = list(range(0, self.num, cb))
        block_max = torch.empty(len(starts), self.query_block, dtype=self.compute, device=q.device)
        for s in range(0, n, self.query_block):
            qb = q[s : s + self.query_block]
            vals, rows = values[s : s + len(qb)], result[s : s + len(qb)]
            if len(starts) == 1:
                torch.max(self._block(qb, 0, self.num), dim=1, out=(vals, rows))
                continue
            bm = block_max[:, : len(qb)]
            for b, lo in enumerate(starts):
                torch.amax(self._block(qb, lo, min(lo + cb, self.num)), dim=1, out=bm[b])
            winner = bm.argmax(0)
            for b in torch.unique(winner).tolist():
                sel = (winner == b).nonzero()[:, 0]
                lo = starts[b]
                v, i = self._block(qb[sel], lo, min(lo + cb, self.num)).max(1)
                vals[sel], rows[sel] = v, i + lo
        return values, result

    def topk(self, q: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Best ``k`` values of ``q·p + bias`` and their rows, ``(N, k)`` each, best first (ties: lower row)."""
        q = q.to(self.compute)
        k = min(k, self.num)
        values = torch.empty(len(q), k, dtype=self.compute, device=q.device)
        result = torch.empty(len(q), k, dtype=torch.long, device=q.device)
        for s in range(0, len(q), self.query_block):
            qb = q[s : s + self.query_block]
            best_v = best_i = None
            for lo in range(0, self.num, self.class_block):
                hi = min(lo + self.class_block, self.num)
                v, i = block_topk(self._block(qb, lo, hi), min(k, hi - lo))
                i = i + lo
                if best_v is None:
                    best_v, best_i = v.clone(), i
                else:
                    best_v, best_i = merge_topk(best_v, best_i, v, i, k)
            values[s : s + len(qb)], result[s : s + len(qb)] = best_v, best_i
        return values, result
