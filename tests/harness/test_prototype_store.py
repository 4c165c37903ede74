"""Prototype store: streaming means equal a float64 batch computation for any split into batches."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.store.prototype_store import PrototypeStore


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 200),
    dim=st.integers(1, 12),
    classes=st.integers(1, 7),
    cuts=st.lists(st.floats(0, 1), max_size=6),
    seed=st.integers(0, 2**31 - 1),
    shift=st.sampled_from([0.0, 1e3]),
)
def test_streaming_means_equal_batch_means(n, dim, classes, cuts, seed, shift):
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, (n, dim))
    y = rng.integers(0, classes, n)
    bounds = sorted({0, n, *(int(c * n) for c in cuts)})
    perm = rng.permutation(n)
    store = PrototypeStore(dim, device="cpu")
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        idx = perm[lo:hi]
        store.update(torch.from_numpy(x[idx]).float(), torch.from_numpy(y[idx]))
    for c in np.unique(y):
        expected = x[y == c].astype(np.float32).astype(np.float64).mean(0)
        got = store.mean_of(int(c)).double().numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * max(1.0, abs(shift)))
        assert store.counts[store.rows([int(c)])].item() == (y == c).sum()


def test_scores_and_topk_match_dense_computation():
    g = torch.Generator().manual_seed(0)
    store = PrototypeStore(5, device="cpu", memory_budget_bytes=64)  # forces one-row chunks
    feats = torch.randn(40, 5, generator=g)
    labels = torch.arange(40) % 8 + 10  # arbitrary class ids
    store.update(feats, labels)
    q = torch.randn(13, 5, generator=g)
    dense = -torch.cdist(q.double(), store.means.double())
    np.testing.assert_allclose(store.scores(q, "euclidean").double(), dense, atol=1e-5)
    s, ids = store.topk(q, k=3, metric="euclidean")
    ref = dense.argsort(dim=1, descending=True)[:, :3]
    assert torch.equal(ids, store.class_ids[ref])
    cos = torch.nn.functional.normalize(q, dim=1) @ torch.nn.functional.normalize(store.means, dim=1).T
    np.testing.assert_allclose(store.scores(q, "cosine"), cos, atol=1e-6)


def test_ties_go_to_the_earlier_class():
    store = PrototypeStore(2, device="cpu")
    store.set_means([5, 3], torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
    _, ids = store.topk(torch.tensor([[1.0, 0.0]]), k=1)
    assert ids.item() == 5
    _, ids = store.topk(torch.tensor([[1.0, 0.0]]), k=2)
    assert ids.tolist() == [[5, 3]]


def test_errors_are_clear():
    store = PrototypeStore(3, device="cpu")
    with pytest.raises(RuntimeError, match="empty"):
        store.scores(torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        store.update(torch.zeros(2, 4), torch.zeros(2, dtype=torch.long))
    store.update(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="unknown metric"):
        store.scores(torch.zeros(1, 3), "manhattan")
