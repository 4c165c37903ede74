"""The store's blocked summaries equal the dense logits' summary bit for bit, within the memory
budget; the reductions themselves on hand-made cases."""

from __future__ import annotations

import torch
from hypothesis import given, settings, strategies as st

from harness.api.summary import LogitSummary, SummaryRequest
from harness.store.prototype_store import PrototypeStore
from harness.store.summaries import MIN_ROWS, _BYTES_PER_SCORE, best_outside, block_rows, outside_columns, summary_of_logits


def _equal(a: LogitSummary, b: LogitSummary) -> bool:
    pairs = [(a.top_values, b.top_values), (a.top_classes, b.top_classes), (a.new_best_values, b.new_best_values), (a.new_best_classes, b.new_best_classes)]
    pairs += [(a.logsumexp[t], b.logsumexp[t]) for t in a.logsumexp]
    if a.softmax_max is not None:
        pairs.append((a.softmax_max, b.softmax_max))
    return a.logsumexp.keys() == b.logsumexp.keys() and all(torch.equal(x, y) for x, y in pairs)


def test_reductions_on_a_hand_made_matrix():
    logits = torch.tensor([[1.0, 3.0, 3.0, 0.0], [2.0, -float("inf"), 0.5, 0.5]])
    classes = torch.tensor([7, 3, 9, 4])
    s = summary_of_logits(logits, classes, SummaryRequest(top_k=3, base_classes=(7, 3), temperatures=(1.0, 2.0), softmax_max=True))
    assert s.top_classes.tolist() == [[3, 9, 7], [7, 9, 4]]  # ties: the earlier column first
    assert s.top_values.tolist() == [[3.0, 3.0, 1.0], [2.0, 0.5, 0.5]]
    assert s.new_best_classes.tolist() == [9, 9] and s.new_best_values.tolist() == [3.0, 0.5]
    expected = torch.log(torch.exp(torch.tensor([1.0, 3, 3, 0], dtype=torch.float64)).sum())
    assert torch.isclose(s.logsumexp[1.0][0], expected)
    assert torch.isclose(s.logsumexp[2.0][1], 2 * torch.log(torch.exp(torch.tensor([1.0, 0.25, 0.25], dtype=torch.float64)).sum()))
    assert torch.isclose(s.softmax_max[1], torch.exp(torch.tensor(2.0, dtype=torch.float64)) / torch.exp(torch.tensor([2.0, 0.5, 0.5], dtype=torch.float64)).sum())


def test_best_outside_when_every_class_is_a_base_class_and_when_none_is():
    logits = torch.tensor([[1.0, 2.0]])
    def best(logits, classes, base):
        return best_outside(logits, classes, outside_columns(classes, base))

    values, classes = best(logits, torch.tensor([0, 1]), (0, 1))
    assert classes.tolist() == [-1] and values.tolist() == [-float("inf")]
    values, classes = best(logits, torch.tensor([0, 1]), ())
    assert classes.tolist() == [1] and values.tolist() == [2.0]
    values, classes = best(torch.tensor([[5.0, 1.0, 4.0]]), torch.tensor([2, 8, 3]), (8,))  # not contiguous
    assert classes.tolist() == [2] and values.tolist() == [5.0]
    assert outside_columns(torch.tensor([2, 8, 3]), (8,)).tolist() == [0, 2] and outside_columns(torch.tensor([2, 8, 3]), (2,)) == slice(1, 3)


@settings(max_examples=25, deadline=None)
@given(
    num_classes=st.integers(1, 700),
    n=st.integers(1, 300),
    dim=st.integers(1, 40),
    metric=st.sampled_from(["euclidean", "sqeuclidean", "cosine", "dot"]),
    scale=st.sampled_from([None, 16.0, 0.3]),
    k=st.integers(1, 8),
    seed=st.integers(0, 10_000),
)
def test_blocked_summary_equals_the_dense_summary_bit_for_bit(num_classes, n, dim, metric, scale, k, seed):
    g = torch.Generator().manual_seed(seed)
    store = PrototypeStore(dim, device="cpu", memory_budget_bytes=max(_BYTES_PER_SCORE * 2 * MIN_ROWS * num_classes, 1 << 16))
    store.update(torch.randn(2 * num_classes, dim, generator=g), torch.arange(num_classes).repeat(2) * 3)
    queries = torch.randn(n, dim, generator=g)
    queries[: n // 4] = store.means[torch.randint(num_classes, (n // 4,), generator=g)]  # exact ties with a mean
    request = SummaryRequest(k, tuple(range(0, 3 * num_classes, 6)), (1.0, 2.0), softmax_max=True)
    dense = store.scores(queries, metric)
    if scale is not None:
        dense = scale * dense
    assert _equal(store.summarise(queries, request, metric, scale=scale), summary_of_logits(dense, store.class_ids, request))


def test_several_prototypes_per_class_summarise_as_their_best():
    g = torch.Generator().manual_seed(3)
    store = PrototypeStore(6, device="cpu")
    store.update(torch.randn(40, 6, generator=g), torch.arange(10).repeat(4), slots=torch.arange(4).repeat_interleave(10))
    queries = torch.randn(50, 6, generator=g)
    request = SummaryRequest(3, (0, 1, 2))
    assert _equal(store.summarise(queries, request), summary_of_logits(store.scores(queries), store.class_ids, request))


def test_blocks_stay_within_the_memory_budget():
    for classes in (10, 1_000, 100_000, 1_000_000):
        for budget in (1 << 20, 256 << 20):
            rows = block_rows(50_000, classes, budget)
            assert 1 <= rows and (rows == 1 or 2 * rows * classes * _BYTES_PER_SCORE <= budget)
    assert block_rows(50_000, 100_000, 256 << 20) >= MIN_ROWS  # the case the dense path meets: whole GEMM blocks
    assert block_rows(7, 100, 256 << 20) == 7


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 30), m=st.integers(2, 40), k=st.integers(1, 39), levels=st.integers(1, 4), seed=st.integers(0, 1000))
def test_block_topk_keeps_the_first_columns_among_ties(n, m, k, levels, seed):
    """The definition: every entry above the k-th value, then the first entries equal to it, best first."""
    from harness.store.search import block_topk

    k = min(k, m - 1)
    block = torch.randint(0, levels, (n, m), generator=torch.Generator().manual_seed(seed)).float()
    values, columns = block_topk(block, k)
    for row in range(n):
        expected = sorted(range(m), key=lambda j: (-block[row, j].item(), j))[:k]
        assert columns[row].tolist() == expected and values[row].tolist() == [block[row, j].item() for j in expected]
