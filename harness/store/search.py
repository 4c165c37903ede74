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

Fast precisions (``"bf16"``; ``"tf32"`` on CUDA) are exact too: the fast pass only proposes, and a
bound on its rounding decides which answers it has proved.  A bf16 (or TF32) score differs from
the real ``q·p + b`` by at most ``ε = c · (||q||·||p|| + |b|)`` (Cauchy-Schwarz on the rounded inputs;
``c`` covers rounding of both inputs to the fast format's unit roundoff ``u``, float32
accumulation over ``D + 1`` terms and, for bf16, rounding of the result:
``c = 4u + 2(D + 1)·2⁻²⁴``).  With ``P = max ||p||`` and ``B = max |b|``, ``ε_q = c·(||q||·P + B)``
bounds every score of query ``q``.  Top-1: the winning group holds the true best whenever its
fast value beats the best value outside it by more than ``2ε_q``; its rows are then rescored in
float32.  Top-k: the ``k + rerank`` fast candidates hold the true top-k whenever the k-th
candidate beats the last by more than ``2ε_q``.  Queries without that proof are searched again
in float32.  The answers therefore equal the float32 search's; only the speed depends on the
data (on the fraction of queries proved, counted in ``BlockedSearch.proved``).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import torch

from harness.store.precision import PRECISIONS, matmul_precision, rounding_constant

KERNELS = ("torch", "triton")  # top-1 by blocks of torch operations, or by the fused Triton kernel
FAST_MIN_ROWS = 1024
_FUSED_CHUNK = 1 << 16  # queries per call of the fused kernel
_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(threads: int) -> ThreadPoolExecutor:
    """One long-lived pool per thread count (threads keep their buffers between searches)."""
    if threads not in _POOLS:
        _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="prototype-search")
    return _POOLS[threads]


def block_topk(block: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k along dim 1, best first, ties broken towards the lower column (deterministic).

    Keeps every entry above the k-th largest value and, among entries equal to it, the first ones.
    ``torch.topk`` of ``k + 1`` finds the set; only rows whose ``(k+1)``-th value equals the k-th
    (the k-th value occurs outside the set too) are chosen again with the first-column rule.
    """
    n, m = block.shape
    if k >= m:
        order = torch.sort(block, dim=1, descending=True, stable=True)
        return order.values, order.indices
    vals, cols = torch.topk(block, k + 1, dim=1)  # the (k+1)-th tells whether the k-th value goes on
    kth = vals[:, k - 1 : k]
    ambiguous = (vals[:, k] == vals[:, k - 1]).nonzero()[:, 0]
    vals, cols = vals[:, :k], cols[:, :k]
    if len(ambiguous):
        sub = block[ambiguous]
        greater, equal = sub > kth[ambiguous], sub == kth[ambiguous]
        room = k - greater.sum(1, keepdim=True)
        keep = greater | (equal & (equal.cumsum(1) <= room))
        cols[ambiguous] = keep.nonzero()[:, 1].view(len(ambiguous), k)
    cols = torch.sort(cols, dim=1).values  # by column, then stably by value: ties keep column order
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
    that the buffer stays within the memory budget.  In a fast precision the answers are proved
    or searched again in float32 (module docstring); ``proved / searched`` counts the top-1
    queries the fast pass proved.
    """

    def __init__(
        self,
        protos: torch.Tensor,
        bias: torch.Tensor | None,
        query_block: int,
        class_block: int,
        precision: str = "highest",
        group: int = 8,
        kernel: str = "torch",
    ):
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
        if kernel not in KERNELS:
            raise ValueError(f"unknown kernel {kernel!r}; use one of {', '.join(KERNELS)}")
        self.kernel = kernel
        # TF32 exists only on CUDA: on CPU "tf32" is plain float32 and needs no proof.  Below
        # FAST_MIN_ROWS rows the fast pass's per-query work (conversion, bound, rescoring) costs
        # more than its cheaper matmul saves, so the search runs in float32.
        self.fast = len(protos) >= FAST_MIN_ROWS and (
            precision == "bf16" or (precision == "tf32" and protos.device.type == "cuda")
        )
        compute = torch.bfloat16 if self.fast and precision == "bf16" else protos.dtype
        self.precision = precision if self.fast else "highest"
        self.compute = compute
        # many classes: the bias rides in the matmul; few classes: copying the queries would cost
        # as much as the matmul, so the bias is added by addmm
        self.augmented = bias is not None and len(protos) >= 4096
        self.bias = bias.to(compute) if bias is not None and not self.augmented else None
        p = torch.cat([protos, bias.to(protos.dtype)[:, None]], 1) if self.augmented else protos
        self.protos = p.to(compute).contiguous()
        self.protos_t = self.protos.T
        # float32 rows for rescoring the fast pass's winners; the bound's constants
        self.exact_protos = p.contiguous() if self.fast else self.protos
        self.exact_bias = None if bias is None or self.augmented else (bias.to(protos.dtype) if self.fast else self.bias)
        if self.fast:
            self.rounding = rounding_constant(precision, protos.shape[1] + 1)
            self.max_norm = float(torch.linalg.vector_norm(protos.float(), dim=1).max()) if len(protos) else 0.0
            self.max_bias = float(bias.abs().max()) if bias is not None and len(bias) else 0.0
        self._exact_twin = None
        self.proved = self.searched = 0  # fast top-1 queries so far: proved by the fast pass, all
        self._count_lock = threading.Lock()
        self.num = len(protos)
        self.query_block = max(1, query_block)
        # top-1 groups: `group` rows spaced `stride` apart inside a block of class_block rows; a
        # fast search over one block proves single rows (groups of one)
        cb = max(1, min(class_block, self.num))
        self.group = group = 1 if self.fast and self.num <= cb else group
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

    def exact(self) -> "BlockedSearch":
        """The same search in the prototypes' own dtype (itself when not in a fast precision)."""
        if not self.fast:
            return self
        if self._exact_twin is None:
            protos = self.exact_protos[:, :-1] if self.augmented else self.exact_protos
            bias = self.exact_protos[:, -1] if self.augmented else self.exact_bias
            self._exact_twin = BlockedSearch(
                protos, bias, self.query_block, self.class_block, "highest", self.group, self.kernel
            )
        return self._exact_twin

    def _proved(self, q: torch.Tensor, lead: torch.Tensor, rival: torch.Tensor) -> torch.Tensor:
        """Queries whose fast ``lead`` value beats the best ``rival`` by more than twice the bound."""
        eps = self.rounding * (torch.linalg.vector_norm(q.float(), dim=1) * self.max_norm + self.max_bias)
        return (lead.float() - rival.float()) > 2 * eps

    def top1_threaded(self, q: torch.Tensor, threads: int, finish=None, out=None) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`top1` with the queries split between ``threads`` Python threads, each running
        single-threaded torch operations (CPU).

        Each thread works through its own blocks without waiting for the others, where
        torch's own threading meets at a barrier after every operation; on a busy machine those
        barriers cost the most.  torch's thread count is restored afterwards.  Each thread has its
        own buffer, so the working memory is ``threads`` buffers.  ``finish(queries, values, rows)``,
        if given, maps each part's ``(values, rows)`` inside its thread (while its queries are
        still in cache), and each thread writes its part of ``out = (values, rows)`` (allocated
        here when ``None``).  Nothing else runs on the calling thread: a multi-threaded torch
        operation there would leave OpenMP workers spinning on the cores the search threads need.
        """
        finish = finish or (lambda part, values, rows: (values, rows))
        # the Triton kernel runs on CPU only in Triton's interpreter, which is not thread-safe
        if threads <= 1 or q.device.type != "cpu" or len(q) < 2 * threads or self.kernel == "triton":
            values, rows = finish(q, *self.top1(q))
            if out is None:
                return values, rows
            out[0].copy_(values)
            out[1].copy_(rows)
            return out
        if out is None:
            out = (torch.empty(len(q), dtype=self.compute), torch.empty(len(q), dtype=torch.long))
        old = torch.get_num_threads()

        def work(part, values_out, rows_out):
            torch.set_num_threads(1)
            values, rows = finish(part, *self.top1(part))
            values_out.copy_(values)
            rows_out.copy_(rows)

        split = [torch.tensor_split(t, threads) for t in (q, *out)]
        try:
            for job in [_pool(threads).submit(work, *parts) for parts in zip(*split)]:
                job.result()
        finally:
            torch.set_num_threads(old)
        return out

    def _queries(self, q: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        q = q.to(dtype or self.compute)
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
        if self.kernel == "triton":
            return self._top1_fused(q)
        n = len(q)
        values = torch.empty(n, dtype=self.exact_protos.dtype, device=q.device)
        result = torch.empty(n, dtype=torch.long, device=q.device)
        cb, g, stride = self.class_block, self.group, self.stride
        proved = 0
        for s in range(0, n, self.query_block):
            part = q[s : s + self.query_block]
            qa = self._queries(part)
            vals, rows = values[s : s + len(qa)], result[s : s + len(qa)]
            if self.num <= cb and not self.fast:  # one block: a plain arg-max
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
            lead, runner_up = top_v[best_b, ar, 0], top_v[best_b, ar, 1]
            if not self.fast:
                self._rescore_groups(qa, best_g, vals, rows)
                self._rescan_ties(qa, best_g // stride, lead == runner_up, vals, rows)
                continue
            rivals = top_v[:, :, 0].clone()
            rivals[best_b, ar] = runner_up  # best value outside the winning group
            ok = self._proved(part, lead, rivals.amax(0))
            self._rescore_groups(self._queries(part, self.exact_protos.dtype), best_g, vals, rows)
            proved += self._search_unproved(part, ok, vals, rows)
        self._count_proved(proved, n)
        return values, result

    def _search_unproved(self, part, ok, vals, rows) -> int:
        """Search the queries of ``part`` that the fast pass did not prove (``~ok``) again in
        float32, into ``vals`` and ``rows``; returns how many were proved."""
        redo = (~ok).nonzero()[:, 0]
        if len(redo):
            vals[redo], rows[redo] = self.exact().top1(part[redo])
        return len(part) - len(redo)

    def _count_proved(self, proved: int, searched: int) -> None:
        if self.fast:
            with self._count_lock:
                self.proved += proved
                self.searched += searched

    def _top1_fused(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`top1` by the fused Triton kernel (``harness/store/fused_top1.py``): it returns
        each query's best value, row and runner-up, so a fast precision proves single rows."""
        from harness.store.fused_top1 import fused_top1

        values = torch.empty(len(q), dtype=self.exact_protos.dtype, device=q.device)
        result = torch.empty(len(q), dtype=torch.long, device=q.device)
        proved = 0
        for s in range(0, len(q), _FUSED_CHUNK):  # bounds the prepared (converted, augmented) copy
            part = q[s : s + _FUSED_CHUNK]
            vals, rows = values[s : s + len(part)], result[s : s + len(part)]
            best, winner, runner_up = fused_top1(self._queries(part), self.protos, self.exact_bias, self.precision)
            rows.copy_(winner)
            if not self.fast:
                vals.copy_(best)
                continue
            qx = self._queries(part, self.exact_protos.dtype)
            vals.copy_(torch.linalg.vecdot(self.exact_protos[winner], qx))
            if self.exact_bias is not None:
                vals += self.exact_bias[winner]
            proved += self._search_unproved(part, self._proved(part, best, runner_up), vals, rows)
        self._count_proved(proved, len(q))
        return values, result

    def _rescore_groups(self, qx, best_g, vals, rows) -> None:
        """Score the winning group of each query with the exact rows and keep its best (first) row."""
        cb, g, stride = self.class_block, self.group, self.stride
        members = ((best_g // stride) * cb + best_g % stride)[:, None] + stride * torch.arange(g, device=qx.device)
        step = max(1, (1 << 20) // (g * qx.shape[1]))  # gathered rows: at most 4 MiB at a time
        for s in range(0, len(qx), step):
            m = members[s : s + step]  # (n, g), ascending
            clamped = m.clamp_max(self.num - 1)
            scores = torch.bmm(self.exact_protos[clamped], qx[s : s + step, :, None])[:, :, 0]
            if self.exact_bias is not None:
                scores += self.exact_bias[clamped]
            scores.masked_fill_(m >= self.num, -float("inf"))
            v, t = scores.max(1)
            vals[s : s + step] = v
            rows[s : s + step] = m.gather(1, t[:, None])[:, 0]

    def _rescan_ties(self, qa, block, tie, vals, rows) -> None:
        """A query whose best value sits in two groups of one block rescans the whole block, so
        that the lower row wins the tie."""
        cb = self.class_block
        for b in torch.unique(block[tie]).tolist():
            sel = (tie & (block == b)).nonzero()[:, 0]
            v, i = self._block(qa[sel], b * cb, (b + 1) * cb).max(1)
            vals[sel], rows[sel] = v, i + b * cb

    def proved_topk(self, q: torch.Tensor, fast_values: torch.Tensor, k: int) -> torch.Tensor:
        """Queries whose fast top-``m`` candidates (``fast_values``, ``(n, m)``, best first) surely
        hold the real top-``k``: all of them when every row is a candidate."""
        if not self.fast or fast_values.shape[1] >= self.num:
            return torch.ones(len(q), dtype=torch.bool, device=q.device)
        return self._proved(q, fast_values[:, k - 1], fast_values[:, -1])

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
