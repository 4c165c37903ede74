"""Row summaries of logits (top-k, best class outside the base classes, logsumexp, softmax maximum), from a dense
matrix or block by block from the store's scores without ever holding ``N × C`` of them.

:func:`summary_of_logits` is the definition.  The blocked path (:meth:`PrototypeStore.summarise`)
computes the same scores as :meth:`PrototypeStore.scores` for a block of rows and applies
:func:`summary_of_logits` to that block, so every value equals the dense path's bit for bit as long
as the matrix product gives a row the same value whatever other rows it is computed with.  That
holds for the float32 GEMM on CPU for blocks of 12 rows or more (and for 4 and 8; measured with
MKL: a product of 1-3, 5-7 or 9-11 rows may take another kernel and round differently), so blocks
are at least :data:`MIN_ROWS` rows unless the memory budget forbids it or the batch is smaller (the
dense path computes such a batch whole, and so does this one).
"""

from __future__ import annotations

import torch

from harness.api.summary import LogitSummary, SummaryRequest
from harness.store.search import block_topk

MIN_ROWS = 16  # rows per block below which a CPU GEMM may round a row differently
_BLOCK_SCORES = 1 << 22  # scores per block (16 MiB of float32): the block stays in the last-level cache
# bytes per score of one block's working set: the float32 scores, the top-k's masks and counts, and a
# float64 copy for logsumexp
_BYTES_PER_SCORE = 4 + 2 + 8 + 8


def block_rows(n: int, num_classes: int, memory_budget_bytes: int) -> int:
    """Rows of one block of ``num_classes`` scores: about 4M scores, at least :data:`MIN_ROWS`, and
    never a working set over the memory budget (also when a short last block joins the one before)."""
    by_budget = max(1, memory_budget_bytes // (2 * _BYTES_PER_SCORE * num_classes))  # 2: a short last block may join
    return max(1, min(n, by_budget, max(MIN_ROWS, _BLOCK_SCORES // num_classes)))


def top_columns(block: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k along dim 1, best first, ties broken towards the lower column (deterministic)."""
    if k == 1:  # max returns the first maximal column
        values, columns = block.max(dim=1, keepdim=True)
        return values, columns
    return block_topk(block, k)


def outside_columns(classes: torch.Tensor, base: tuple[int, ...]) -> slice | torch.Tensor:
    """The columns whose class is not in ``base``: a slice when they are one contiguous run (classes
    come in steps, so the base classes are usually the first columns), else their indices."""
    others = (~torch.isin(classes, torch.tensor(base, dtype=classes.dtype, device=classes.device))).nonzero()[:, 0]
    if not len(others):
        return slice(0, 0)
    first, count = int(others[0]), len(others)
    if int(others[-1]) - first + 1 == count:
        return slice(first, first + count)
    return others


def best_outside(logits: torch.Tensor, classes: torch.Tensor, outside: slice | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Best logit and its class among the columns ``outside`` (of :func:`outside_columns`; the first
    maximal column on a tie); ``-inf`` and ``-1`` where there is no such column."""
    n = len(logits)
    if isinstance(outside, slice):
        if outside.stop <= outside.start:
            return logits.new_full((n,), -float("inf")), torch.full((n,), -1, dtype=torch.long, device=logits.device)
        values, columns = logits[:, outside].max(dim=1)  # a view
        return values, classes[columns + outside.start]
    values, columns = logits[:, outside].max(dim=1)
    return values, classes[outside[columns]]


def logsumexp_at(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``T · logsumexp(f / T)`` over each row in float64 (``-inf`` columns add nothing)."""
    return temperature * torch.logsumexp(logits.double() / temperature, dim=1)


def summary_of_logits(logits: torch.Tensor, classes: torch.Tensor, request: SummaryRequest, outside: slice | torch.Tensor | None = None) -> LogitSummary:
    """The summary of dense ``logits`` (``(N, C)``, column ``j`` scoring class ``classes[j]``);
    ``outside``: the columns outside the base classes when already known."""
    classes = classes.to(logits.device)
    outside = outside_columns(classes, request.base_classes) if outside is None else outside
    values, columns = top_columns(logits, min(request.top_k, logits.shape[1]))
    new_values, new_classes = best_outside(logits, classes, outside)
    lse = {t: logsumexp_at(logits, t) for t in request.temperatures}
    softmax_max = torch.softmax(logits.double(), dim=1).max(dim=1).values if request.softmax_max else None
    return LogitSummary(values, classes[columns], new_values, new_classes, lse, softmax_max)


def blocked_summary(
    score_block, n: int, classes: torch.Tensor, request: SummaryRequest, memory_budget_bytes: int, dtype: torch.dtype, device: torch.device
) -> LogitSummary:
    """:func:`summary_of_logits` of the ``(n, C)`` matrix whose rows ``s:e`` ``score_block(s, e, out)``
    writes into ``out`` (and returns), a block of rows at a time in one reused buffer."""
    num_classes = len(classes)
    rows = block_rows(n, num_classes, memory_budget_bytes)
    starts = list(range(0, n, rows))
    if len(starts) > 1 and n - starts[-1] < MIN_ROWS <= rows:  # a short last block joins the one before
        starts.pop()
    bounds = list(zip(starts, starts[1:] + [n]))
    buffer = torch.empty(max(e - s for s, e in bounds) * num_classes, dtype=dtype, device=device)
    classes = classes.to(device)
    outside = outside_columns(classes, request.base_classes)
    parts = [summary_of_logits(score_block(s, e, buffer[: (e - s) * num_classes].view(e - s, num_classes)), classes, request, outside) for s, e in bounds]
    return LogitSummary.cat(parts)
