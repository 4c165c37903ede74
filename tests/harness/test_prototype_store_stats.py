"""Streaming covariances equal a float64 batch computation for any split; merge/remove/relabel/sampling."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.store.prototype_store import PrototypeStore


def _stream(store, x, y, bounds, perm, slots=None):
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        idx = perm[lo:hi]
        s = None if slots is None else torch.from_numpy(slots[idx])
        store.update(torch.from_numpy(x[idx]).float(), torch.from_numpy(y[idx]), s)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 120),
    dim=st.integers(1, 6),
    classes=st.integers(1, 5),
    cuts=st.lists(st.floats(0, 1), max_size=6),
    seed=st.integers(0, 2**31 - 1),
    shift=st.sampled_from([0.0, 1e3]),
    kind=st.sampled_from(["diag", "full"]),
    acc=st.sampled_from([torch.float64, torch.float32]),
)
def test_streaming_covariance_equals_batch_covariance(n, dim, classes, cuts, seed, shift, kind, acc):
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, (n, dim)).astype(np.float32).astype(np.float64)  # what the store sees
    y = rng.integers(0, classes, n)
    bounds = sorted({0, n, *(int(c * n) for c in cuts)})
    store = PrototypeStore(dim, device="cpu", covariance=kind, accumulate_dtype=acc)
    _stream(store, x, y, bounds, rng.permutation(n))
    for c in np.unique(y):
        xc = x[y == c]
        row = store.rows([int(c)])
        np.testing.assert_allclose(store.mean_of(int(c)).double(), xc.mean(0), rtol=1e-5, atol=1e-5 * max(1, shift))
        cov = store.covariance([int(c)], ddof=0)[0].numpy()
        ref = np.cov(xc.T, ddof=0).reshape(dim, dim)
        ref = np.diag(ref) if kind == "diag" else ref
        np.testing.assert_allclose(cov, ref, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(ref).max()))
        assert store.counts[row].item() == len(xc)


def test_covariance_of_a_hand_computed_case():
    # class 0: points (0,0), (2,0), (1,3): mean (1,1); deviations (-1,-1), (1,-1), (0,2)
    # M2 = [[1+1+0, 1-1+0], [1-1+0, 1+1+4]] = [[2, 0], [0, 6]]; unbiased cov = M2 / 2
    store = PrototypeStore(2, device="cpu", covariance="full")
    store.update(torch.tensor([[0.0, 0.0]]), torch.tensor([0]))
    store.update(torch.tensor([[2.0, 0.0], [1.0, 3.0]]), torch.tensor([0, 0]))
    assert store.mean_of(0).tolist() == [1.0, 1.0]
    assert store.covariance([0]).tolist() == [[[1.0, 0.0], [0.0, 3.0]]]
    # shrinkage 0.5 towards tr/D = 2: 0.5 * [[1,0],[0,3]] + 0.5 * 2 I = [[1.5, 0], [0, 2.5]]
    assert store.covariance([0], shrinkage=0.5).tolist() == [[[1.5, 0.0], [0.0, 2.5]]]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 80), slots=st.integers(1, 3))
def test_several_prototypes_per_class_pool_to_the_class_statistics(seed, n, slots):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, 3)).astype(np.float32).astype(np.float64)
    y = rng.integers(0, 3, n)
    s = rng.integers(0, slots, n)
    store = PrototypeStore(3, device="cpu", covariance="full")
    _stream(store, x, y, [0, n // 2, n], np.arange(n), slots=s)
    for c in np.unique(y):
        np.testing.assert_allclose(store.mean_of(int(c)).double(), x[y == c].mean(0), atol=1e-6)
        ref = np.cov(x[y == c].T, ddof=0)
        np.testing.assert_allclose(store.covariance([int(c)], ddof=0)[0], ref, atol=1e-9)
    # each prototype is the mean of its own samples
    for p, (c, k) in enumerate(zip(store.prototype_class_ids.tolist(), store.prototype_slots.tolist())):
        np.testing.assert_allclose(store.prototypes[p].double(), x[(y == c) & (s == k)].mean(0), atol=1e-6)


def test_a_class_scores_as_its_best_prototype():
    store = PrototypeStore(1, device="cpu")
    store.update(torch.tensor([[0.0], [10.0], [4.0]]), torch.tensor([7, 7, 9]), slots=torch.tensor([0, 1, 0]))
    # class 7 has prototypes 0 and 10, class 9 one at 4; the class mean of 7 is 5
    assert store.means.flatten().tolist() == [5.0, 4.0]
    s = store.scores(torch.tensor([[9.0]]), "sqeuclidean")
    assert s.tolist() == [[-1.0, -25.0]]
    _, ids = store.topk(torch.tensor([[9.0], [3.0]]), k=2)
    assert ids.tolist() == [[7, 9], [9, 7]]


def test_merge_equals_learning_the_union():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(60, 4, generator=g), torch.arange(60) % 4
    store = PrototypeStore(4, device="cpu", covariance="full")
    store.update(x, y)
    store.merge([1, 3], into=10)
    assert store.class_ids.tolist() == [0, 10, 2]
    pooled = x[(y == 1) | (y == 3)].double()
    np.testing.assert_allclose(store.mean_of(10).double(), pooled.mean(0), atol=1e-6)
    np.testing.assert_allclose(store.covariance([10])[0], np.cov(pooled.T.numpy()), atol=1e-9)
    store.merge([2], into=0)  # into an existing class keeps its position
    assert store.class_ids.tolist() == [0, 10]
    assert store.counts.tolist() == [30.0, 30.0]


def test_remove_relabel_add():
    store = PrototypeStore(2, device="cpu")
    store.set_means([1, 2, 3], torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]))
    store.remove([2])
    assert store.class_ids.tolist() == [1, 3] and 2 not in store
    store.relabel({3: 30})
    assert store.class_ids.tolist() == [1, 30]
    assert store.mean_of(30).tolist() == [2.0, 0.0]
    with pytest.raises(ValueError, match="merge"):
        store.relabel({1: 30})
    with pytest.raises(ValueError, match="already in the store"):
        store.add([1], torch.zeros(1, 2))
    store.add([5], torch.ones(1, 2), counts=torch.tensor([4.0]))
    assert store.counts.tolist() == [0.0, 0.0, 4.0]
    with pytest.raises(KeyError, match="not in the store"):
        store.remove([99])


def test_sampling_is_deterministic_and_matches_the_class_gaussian():
    g = torch.Generator().manual_seed(1)
    cov = torch.tensor([[2.0, 0.8], [0.8, 1.0]])
    x = torch.randn(4000, 2, generator=g) @ torch.linalg.cholesky(cov).T + torch.tensor([3.0, -1.0])
    store = PrototypeStore(2, device="cpu", covariance="full")
    store.update(x, torch.zeros(4000, dtype=torch.long))
    a, la = store.sample([0], 20000, torch.Generator().manual_seed(5))
    b, _ = store.sample([0], 20000, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and la.unique().tolist() == [0]
    np.testing.assert_allclose(a.double().mean(0), store.mean_of(0).double(), atol=0.05)
    np.testing.assert_allclose(np.cov(a.double().T.numpy()), store.covariance([0])[0], atol=0.06)
    diag = PrototypeStore(2, device="cpu", covariance="diag")
    diag.update(x, torch.zeros(4000, dtype=torch.long))
    d, _ = diag.sample([0], 20000, torch.Generator().manual_seed(5))
    np.testing.assert_allclose(d.double().var(0), diag.covariance([0])[0], rtol=0.05)
    assert abs(np.corrcoef(d.T.numpy())[0, 1]) < 0.03  # diagonal: no correlation
