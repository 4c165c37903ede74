"""Discovery: semi-supervised k-means with fixed prototypes, silhouette, estimating k."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import silhouette_score as sk_silhouette

from harness.components.discovery import DiscoveryParams, constrained_kmeans, discover, silhouette_score


def blobs(centres, per=30, spread=0.05, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.tensor(centres, dtype=torch.float32)
    x = torch.cat([c + spread * torch.randn(per, centres.shape[1], generator=g) for c in centres])
    return x, torch.arange(len(centres)).repeat_interleave(per)


def same_partition(a: torch.Tensor, b: torch.Tensor) -> bool:
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


KNOWN = [[0.0, 0.0], [5.0, 0.0]]
NEW = [[0.0, 5.0], [5.0, 5.0], [10.0, 10.0]]


def test_new_clusters_are_found_and_prototypes_stay_fixed():
    x, y = blobs(NEW)
    known = torch.tensor(KNOWN)
    before = known.clone()
    fit = constrained_kmeans(x, known, 3, torch.Generator().manual_seed(1))
    assert torch.equal(known, before)
    assert (fit.assignment >= 0).all()  # NCD: every sample goes to a new cluster
    assert same_partition(fit.assignment, y)
    got = sorted(map(tuple, fit.centres.round(decimals=0).tolist()))
    assert got == sorted(map(tuple, NEW))
    assert fit.counts().tolist() == [30, 30, 30]


def test_mixed_data_sends_known_class_samples_to_fixed_prototypes():
    x_new, y_new = blobs(NEW, seed=1)
    x_old, y_old = blobs(KNOWN, seed=2)
    x = torch.cat([x_old, x_new])
    fit = constrained_kmeans(x, torch.tensor(KNOWN), 3, torch.Generator().manual_seed(0), mixes_known=True)
    # -1 - r marks known prototype r
    assert fit.assignment[: len(x_old)].tolist() == (-1 - y_old).tolist()
    assert same_partition(fit.assignment[len(x_old) :], y_new)


def test_same_generator_seed_same_clustering():
    x, _ = blobs(NEW, spread=1.5)
    a = constrained_kmeans(x, torch.tensor(KNOWN), 4, torch.Generator().manual_seed(3), n_init=3)
    b = constrained_kmeans(x, torch.tensor(KNOWN), 4, torch.Generator().manual_seed(3), n_init=3)
    assert torch.equal(a.assignment, b.assignment) and torch.equal(a.centres, b.centres)


def test_more_restarts_never_raise_the_inertia():
    x, _ = blobs(NEW, spread=1.5)
    one = constrained_kmeans(x, torch.tensor(KNOWN), 4, torch.Generator().manual_seed(3), n_init=1)
    many = constrained_kmeans(x, torch.tensor(KNOWN), 4, torch.Generator().manual_seed(3), n_init=8)
    assert many.inertia <= one.inertia + 1e-6


@settings(max_examples=40, deadline=None)
@given(st.integers(5, 40), st.integers(2, 4), st.integers(0, 10_000))
def test_silhouette_equals_scikit_learn(n, k, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    labels = rng.integers(0, k, size=n)
    if not 2 <= len(np.unique(labels)) <= n - 1:
        return
    assert silhouette_score(torch.from_numpy(x), torch.from_numpy(labels)) == pytest.approx(sk_silhouette(x, labels), abs=1e-9)


def test_silhouette_picks_the_true_number_of_new_clusters():
    centres = [[0.0, 5.0], [5.0, 5.0], [10.0, 10.0], [0.0, 12.0]]
    x, _ = blobs(centres, per=25, spread=0.3)
    params = DiscoveryParams(k_min=2, k_max=7, repeats=2, n_init=3)
    fit = discover(x, torch.tensor(KNOWN), None, params, torch.Generator().manual_seed(0))
    assert fit.k == 4
    assert max(fit.silhouettes, key=fit.silhouettes.get) == 4 and sorted(fit.silhouettes) == list(range(2, 8))


def test_given_number_of_new_classes_is_used():
    x, _ = blobs(NEW)
    fit = discover(x, torch.tensor(KNOWN), 2, DiscoveryParams(n_init=2), torch.Generator().manual_seed(0))
    assert fit.k == 2 and fit.silhouettes is None


def test_k_range_must_be_ordered():
    with pytest.raises(ValueError, match="k_max"):
        DiscoveryParams(k_min=5, k_max=3)


@settings(max_examples=25, deadline=None)
@given(st.integers(3, 30), st.integers(0, 3), st.integers(1, 3), st.booleans(), st.integers(0, 10_000))
def test_clustering_invariants(n, m, k, mixes, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    known = torch.randn(m, 2, generator=g)
    frozen = known.clone()
    fit = constrained_kmeans(x, known, min(k, n), g, mixes_known=mixes, n_init=2, tol=0.0)  # stop only when stable
    assert torch.equal(known, frozen)
    assert ((fit.assignment >= -m) & (fit.assignment < fit.k)).all()
    if not mixes:
        assert (fit.assignment >= 0).all()
    assert int(fit.counts().sum()) == int((fit.assignment >= 0).sum())
    # each non-empty new centre is the mean of its samples (Lloyd's fixed point after convergence)
    for j in range(fit.k):
        members = x[fit.assignment == j]
        if len(members):
            assert torch.allclose(fit.centres[j], members.mean(0), atol=1e-4)
