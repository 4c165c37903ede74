"""Blocked exact search: rank rows of ``P`` for each query by ``q·p + bias`` (higher is closer).

Every metric of the store reduces to this form: inner product (bias 0), cosine (normalised rows),
squared Euclidean distance (``-||q - p||² / 2 = q·p - ||p||²/2 - ||q||²/2``, the last term the same
for every row) and shared-covariance Mahalanobis distance (Euclidean after whitening).

Scores are computed for blocks of ``query_block × class_block`` entries written into one reused
buffer, so the working memory is that buffer whatever N and C are.

Top-1 over several class blocks takes two passes.  The first keeps, per query, the best value of
each group of ``group`` (8) rows spaced ``class_block / group`` apart (an ``amax`` over a strided
view, which on CPU is cheaper than ``max`` with indices or than contiguous groups), then the best
group; the second recomputes the scores of that one group and takes the arg-max there.  The
recomputed scores may round differently from the first pass only where two scores agree to
float32 rounding.  Ties go to the lower row: blocks are compared strictly (an earlier block keeps
a tie), and a query whose best value occurs in two groups of one block rescans that block with
``max``, which returns the first maximal index.  For ``k > 1`` each block's top-k is taken with
ties broken towards the lower row and merged into the running top-k.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import torch

PRECISIONS = ("highest", "tf32", "bf16")


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(threads: int) -> ThreadPoolExecutor:
    """One long-lived pool per thread count (threads keep their buffers between searches)."""
    if threads not in _POOLS:
        _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="prototype-search")
    return _POOLS[threads]


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

    With 4096 rows or more the bias rides along in the matmul as an extra column
    (``[q, 1]·[p, bias]``) instead of ``addmm``'s separate pass over every block of scores.
    ``query_block × class_block`` scores is the working buffer; both are fixed by the caller so
    that the buffer stays within the memory budget.
    """

    def __init__(
        self,
        protos: torch.Tensor,
        bias: torch.Tensor | None,
        query_block: int,
        class_block: int,
        precision: str = "highest",
        group: int = 8,
    ):
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
        self.precision = precision
        compute = torch.bfloat16 if precision == "bf16" else protos.dtype
        self.compute = compute
        # many classes: the bias rides in the matmul; few classes: copying the queries would cost
        # as much as the matmul, so the bias is added by addmm
        self.augmented = bias is not None and len(protos) >= 4096
        self.bias = bias.to(compute) if bias is not None and not self.augmented else None
        p = torch.cat([protos, bias.to(protos.dtype)[:, None]], 1) if self.augmented else protos
        self.protos = p.to(compute).contiguous()
        self.protos_t = self.protos.T
        self.num = len(protos)
        self.query_block = max(1, query_block)
        # top-1 groups: `group` rows spaced `stride` apart inside a block of class_block rows
        self.group = group
        cb = max(1, min(class_block, self.num))
        self.class_block = max(2 * group, -(-cb // group) * group)
        self.stride = self.class_block // group
        self._local = threading.local()

    def _buf(self, rows: int, cols: int) -> torch.Tensor:
        """A contiguous ``(rows, cols)`` view of one reused buffer (one per thread)."""
        buffer = getattr(self._local, "buffer", None)
        if buffer is None:
            buffer = self._local.buffer = torch.empty(
                self.query_block * self.class_block, dtype=self.compute, device=self.protos.device
            )
        return buffer[: rows * cols].view(rows, cols)

    def top1_threaded(self, q: torch.Tensor, threads: int, finish=None) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`top1` with the queries split between ``threads`` Python threads, each running
        single-threaded torch operations (CPU).

        Each thread works through its own blocks without waiting for the others, where
        torch's own threading meets at a barrier after every operation; on a busy machine those
        barriers cost the most.  torch's thread count is restored afterwards.  Each thread has its
        own buffer, so the working memory is ``threads`` buffers.  ``finish(queries, values)``, if
        given, maps each part's values inside its thread (while its queries are still in cache).
        """
        finish = finish or (lambda part, values: values)
        if threads <= 1 or q.device.type != "cpu" or len(q) < 2 * threads:
            values, rows = self.top1(q)
            return finish(q, values), rows
        parts = torch.tensor_split(q, threads)
        old = torch.get_num_threads()

        def work(part):
            torch.set_num_threads(1)
            values, rows = self.top1(part)
            return finish(part, values), rows

        try:
            done = list(_pool(threads).map(work, parts))
        finally:
            torch.set_num_threads(old)
        return torch.cat([v for v, _ in done]), torch.cat([r for _, r in done])

    def _queries(self, q: torch.Tensor) -> torch.Tensor:
        q = q.to(self.compute)
        return torch.cat([q, q.new_ones(len(q), 1)], 1) if self.augmented else q

    def _block(self, q: torch.Tensor, lo: int, hi: int, out: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of (prepared) queries against rows ``lo:hi``; columns past the last row are -inf."""
        out = self._buf(len(q), hi - lo) if out is None else out
        real = min(hi, self.num) - lo
        with matmul_precision(self.precision, q.device):
            if real == hi - lo and self.bias is None:
                torch.mm(q, self.protos_t[:, lo:hi], out=out)
            elif real == hi - lo:
                torch.addmm(self.bias[lo:hi], q, self.protos_t[:, lo:hi], out=out)
            else:
                out[:, :real] = q @ self.protos_t[:, lo : lo + real]
                if self.bias is not None:
                    out[:, :real] += self.bias[lo : lo + real]
                out[:, real:] = -float("inf")
        return out

    def scores_into(self, q: torch.Tensor, out: torch.Tensor) -> None:
        """``out[i, j] = q_i·p_j + bias_j`` for every row, written block by block of queries."""
        for s in range(0, len(q), self.query_block):
            self._block(self._queries(q[s : s + self.query_block]), 0, self.num, out[s : s + self.query_block])

    def top1(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Best ``q·p + bias`` and its row for each query, ``(N,)`` each (ties: lower row)."""
        n = len(q)
        values = torch.empty(n, dtype=self.compute, device=q.device)
        result = torch.empty(n, dtype=torch.long, device=q.device)
        cb, g, stride = self.class_block, self.group, self.stride
        for s in range(0, n, self.query_block):
            qa = self._queries(q[s : s + self.query_block])
            vals, rows = values[s : s + len(qa)], result[s : s + len(qa)]
            if self.num <= cb:  # one block: a plain arg-max
                torch.max(self._block(qa, 0, self.num), dim=1, out=(vals, rows))
                continue
            starts = range(0, self.num, cb)
            top_v = torch.empty(len(starts), len(qa), 2, dtype=self.compute, device=q.device)
            top_j = torch.empty(len(starts), len(qa), 2, dtype=torch.long, device=q.device)
            for b, lo in enumerate(starts):  # three operations per block: matmul, amax, top-2
                groups = self._block(qa, lo, lo + cb).view(len(qa), g, stride).amax(1)  # (n, stride)
                torch.topk(groups, 2, dim=1, out=(top_v[b], top_j[b]))
            best_b = top_v[:, :, 0].argmax(0)  # first maximal block: an earlier block keeps a tie
            ar = torch.arange(len(qa), device=q.device)
            best_g = top_j[best_b, ar, 0] + best_b * stride
            best_tie = top_v[best_b, ar, 0] == top_v[best_b, ar, 1]  # best value in two groups
            self._refine(qa, best_g, best_tie, vals, rows)
        return values, result

    def _refine(self, qa, best_g, tie, vals, rows) -> None:
        """Rescan the winning group of each query; a query whose best value sits in two groups
        of one block rescans the whole block, so that the lower row wins the tie."""
        cb, g, stride = self.class_block, self.group, self.stride
        block, j = best_g // stride, best_g % stride
        members = (block * cb + j)[:, None] + stride * torch.arange(g, device=qa.device)  # (n, g), ascending
        step = max(1, (1 << 20) // (g * qa.shape[1]))  # gathered rows: at most 4 MiB at a time
        for s in range(0, len(qa), step):
            m = members[s : s + step]
            clamped = m.clamp_max(self.num - 1)
            scores = torch.bmm(self.protos[clamped], qa[s : s + step, :, None])[:, :, 0]
            if self.bias is not None:
                scores += self.bias[clamped]
            scores.masked_fill_(m >= self.num, -float("inf"))
            v, t = scores.max(1)
            vals[s : s + step] = v
            rows[s : s + step] = m.gather(1, t[:, None])[:, 0]
        for b in torch.unique(block[tie]).tolist():
            sel = (tie & (block == b)).nonzero()[:, 0]
            v, i = self._block(qa[sel], b * cb, (b + 1) * cb).max(1)
            vals[sel], rows[sel] = v, i + b * cb

    def topk(self, q: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Best ``k`` values of ``q·p + bias`` and their rows, ``(N, k)`` each, best first (ties: lower row)."""
        k = min(k, self.num)
        values = torch.empty(len(q), k, dtype=self.compute, device=q.device)
        result = torch.empty(len(q), k, dtype=torch.long, device=q.device)
        for s in range(0, len(q), self.query_block):
            qa = self._queries(q[s : s + self.query_block])
            best_v = best_i = None
            for lo in range(0, self.num, self.class_block):
                hi = min(lo + self.class_block, self.num)
                v, i = block_topk(self._block(qa, lo, hi), min(k, hi - lo))
                i = i + lo
                if best_v is None:
                    best_v, best_i = v.clone(), i
                else:
                    best_v, best_i = merge_topk(best_v, best_i, v, i, k)
            values[s : s + len(qa)], result[s : s + len(qa)] = best_v, best_i
        return values, result
