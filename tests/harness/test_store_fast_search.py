"""The fast precisions prove their answers or search again in float32: same answers as float32."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.store.prototype_store import PrototypeStore
from harness.store.precision import rounding_constant
from harness.store.search import FAST_MIN_ROWS, BlockedSearch


def _pair(protos: torch.Tensor, **options) -> tuple[PrototypeStore, PrototypeStore]:
    fast = PrototypeStore(protos.shape[1], device="cpu", precision="bf16", **options)
    exact = PrototypeStore(protos.shape[1], device="cpu", **options)
    for s in (fast, exact):
        s.set_means(range(len(protos)), protos)
    return fast, exact


def _search(store: PrototypeStore, metric: str) -> BlockedSearch:
    return next(v for k, v in store._cache.items() if k[0] == "search" and k[1] == metric)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    scale=st.sampled_from([1e-3, 1.0, 1e3]),
    offset=st.sampled_from([0.0, 5.0]),
    dim=st.integers(1, 40),
)
def test_the_bound_covers_every_bf16_score(seed, scale, offset, dim):
    g = torch.Generator().manual_seed(seed)
    protos = (torch.randn(FAST_MIN_ROWS, dim, generator=g) + offset) * scale
    q = (torch.randn(64, dim, generator=g) + offset) * scale
    bias = -0.5 * (protos * protos).sum(1)
    search = BlockedSearch(protos, bias, 64, FAST_MIN_ROWS, "bf16")
    assert search.fast
    fast = search._block(search._queries(q), 0, FAST_MIN_ROWS).double()
    real = q.double() @ protos.double().T + bias.double()
    bound = rounding_constant("bf16", dim + 1) * (q.double().norm(dim=1, keepdim=True) * protos.double().norm(dim=1) + bias.double().abs())
    assert bool(((fast - real).abs() <= bound).all())


@pytest.mark.parametrize("metric", ["dot", "sqeuclidean", "cosine"])
@pytest.mark.parametrize("k", [1, 3])
def test_bf16_answers_equal_float32_and_are_mostly_proved(metric, k):
    g = torch.Generator().manual_seed(0)
    protos = torch.randn(1500, 24, generator=g)
    q = protos[torch.randint(0, 1500, (400,), generator=g)] + 0.3 * torch.randn(400, 24, generator=g)
    fast, exact = _pair(protos, class_block=256)
    vf, idf = fast.topk(q, k, metric)
    ve, ide = exact.topk(q, k, metric)
    assert torch.equal(idf, ide)
    torch.testing.assert_close(vf, ve, rtol=1e-5, atol=1e-4)
    if k == 1:
        search = _search(fast, metric)
        assert search.fast and search.proved >= 0.9 * search.searched  # the fast pass did the work


@pytest.mark.parametrize("k", [1, 2])
def test_near_ties_bf16_cannot_see_are_searched_again_in_float32(k):
    g = torch.Generator().manual_seed(1)
    base = torch.randn(1, 32, generator=g)
    # score gaps (~0.03) far below the bf16 bound (~1) but far above float32 rounding (~1e-5)
    protos = base + 3e-2 * torch.randn(1200, 32, generator=g)
    q = base + 3e-2 * torch.randn(300, 32, generator=g)
    fast, exact = _pair(protos)
    got, want = fast.topk(q, k, "sqeuclidean")[1], exact.topk(q, k, "sqeuclidean")[1]
    # equal, except where float64 shows a tie at float32 rounding (the float32 search's own limit)
    d64 = ((q.double()[:, None, :] - protos.double()[None]) ** 2).sum(-1)
    assert (got != want).float().mean() < 0.02
    ulps = 4 * torch.finfo(torch.float32).eps * float(q.double().square().sum(1).max())  # of ||q||²
    torch.testing.assert_close(d64.gather(1, got), d64.gather(1, want), rtol=0, atol=ulps)
    if k == 1:
        search = _search(fast, "sqeuclidean")
        assert search.proved < search.searched  # the bound refused, float32 decided


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), dim=st.integers(1, 6), k=st.integers(1, 4))
def test_bf16_ties_go_to_the_lower_row_like_float32(seed, dim, k):
    # small integers: many exact ties, which the bound cannot separate
    rng = np.random.default_rng(seed)
    protos = torch.from_numpy(rng.integers(-2, 3, (FAST_MIN_ROWS + 50, dim)).astype(np.float32))
    q = torch.from_numpy(rng.integers(-2, 3, (40, dim)).astype(np.float32))
    fast, exact = _pair(protos, class_block=128)
    for metric in ("dot", "sqeuclidean"):
        assert torch.equal(fast.topk(q, k, metric)[1], exact.topk(q, k, metric)[1])


def test_below_the_size_threshold_the_search_runs_in_float32():
    small = BlockedSearch(torch.randn(FAST_MIN_ROWS - 1, 8), None, 16, 64, "bf16")
    assert not small.fast and small.compute == torch.float32 and small.precision == "highest"
