"""Blocked queries equal dense references; Mahalanobis equals scipy; save/load round-trips exactly."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import mahalanobis as scipy_mahalanobis

from harness.store.prototype_store import PrototypeStore


def _reference_topk(scores: np.ndarray, k: int) -> np.ndarray:
    """Best first, ties towards the lower column: lexicographic on (-score, column)."""
    cols = np.arange(scores.shape[1])
    return np.stack([np.lexsort((cols, -row))[:k] for row in scores])


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 30),
    c=st.integers(1, 40),
    dim=st.integers(1, 6),
    k=st.integers(1, 8),
    qb=st.integers(1, 9),
    cb=st.integers(1, 11),
    metric=st.sampled_from(["dot", "sqeuclidean", "euclidean"]),
)
def test_blocked_topk_equals_dense_topk(seed, n, c, dim, k, qb, cb, metric):
    # small integers: every score is exact in float32, so ties are real ties and must go to the lower row
    rng = np.random.default_rng(seed)
    protos = rng.integers(-2, 3, (c, dim)).astype(np.float32)
    q = rng.integers(-2, 3, (n, dim)).astype(np.float32)
    ids = rng.permutation(1000)[:c]
    blocked = PrototypeStore(dim, device="cpu", query_block=qb, class_block=cb)
    dense = PrototypeStore(dim, device="cpu", query_block=10**6, class_block=10**6)
    for s in (blocked, dense):
        s.set_means(ids.tolist(), torch.from_numpy(protos))
    qt = torch.from_numpy(q)
    if metric == "dot":
        ref_scores = q.astype(np.float64) @ protos.T
    else:
        ref_scores = -((q[:, None, :].astype(np.float64) - protos[None]) ** 2).sum(-1)
        ref_scores = -np.sqrt(-ref_scores) if metric == "euclidean" else ref_scores
    ref = _reference_topk(ref_scores, min(k, c))
    # distances come from ||q||² - 2 q·p + ||p||²: a few float32 roundings of ||q||² (sqrt for euclidean)
    atol = 1e-6 * max(1.0, float((q.astype(np.float64) ** 2).sum(1).max()))
    atol = np.sqrt(atol) if metric == "euclidean" else atol
    for store in (blocked, dense):
        vals, got = store.topk(qt, k=k, metric=metric)
        assert got.tolist() == ids[ref].tolist()
        np.testing.assert_allclose(vals.double(), np.take_along_axis(ref_scores, ref, 1), rtol=1e-6, atol=atol)
    np.testing.assert_allclose(blocked.scores(qt, metric).double(), ref_scores, rtol=1e-6, atol=atol)


def test_top1_over_many_class_blocks_equals_argmax_of_float64_scores():
    g = torch.Generator().manual_seed(3)
    protos, q = torch.randn(5000, 32, generator=g), torch.randn(700, 32, generator=g)
    store = PrototypeStore(32, device="cpu", query_block=128, class_block=256)
    store.set_means(range(5000), protos)
    _, ids = store.topk(q, k=1, metric="euclidean")
    ref = torch.cdist(q.double(), protos.double()).argmin(1)
    assert torch.equal(ids[:, 0], ref)
    _, ids = store.topk(q, k=1, metric="cosine")
    cos = torch.nn.functional.normalize(q.double(), dim=1) @ torch.nn.functional.normalize(protos.double(), dim=1).T
    assert torch.equal(ids[:, 0], cos.argmax(1))


def test_top1_ties_across_strided_groups_go_to_the_lower_row():
    # entries in {-1, 0, 1}: thousands of exact ties inside and across class blocks
    rng = np.random.default_rng(4)
    protos = torch.from_numpy(rng.integers(-1, 2, (5000, 4)).astype(np.float32))
    q = torch.from_numpy(rng.integers(-1, 2, (300, 4)).astype(np.float32))
    store = PrototypeStore(4, device="cpu", query_block=64, class_block=256)
    store.set_means(range(5000), protos)  # >= 4096 classes: the bias rides in the matmul
    for metric in ("dot", "sqeuclidean"):
        ref_scores = q.double() @ protos.double().T if metric == "dot" else -torch.cdist(q.double(), protos.double()) ** 2
        vals, ids = store.topk(q, 1, metric)
        assert ids[:, 0].tolist() == _reference_topk(ref_scores.numpy(), 1)[:, 0].tolist()
        torch.testing.assert_close(vals[:, 0].double(), ref_scores.max(1).values)


def test_memory_budget_bounds_the_search_buffer():
    store = PrototypeStore(8, device="cpu", memory_budget_bytes=4096)
    store.set_means(range(3000), torch.randn(3000, 8))
    qb, cb = store._blocks(3000)
    assert qb * cb * 4 <= 4096
    _, ids = store.topk(torch.randn(50, 8), k=3)
    assert ids.shape == (50, 3)


@pytest.mark.parametrize("kind", ["diag", "full"])
@pytest.mark.parametrize("shrinkage", [0.0, 0.3])
def test_mahalanobis_equals_scipy(kind, shrinkage):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(90, 3, generator=g) * torch.tensor([1.0, 2.0, 0.5]) + torch.tensor([0.0, 1.0, 0.0])
    x[:, 1] += 0.7 * x[:, 0]
    y = torch.arange(90) % 3
    store = PrototypeStore(3, device="cpu", covariance=kind)
    store.update(x, y)
    q = torch.randn(7, 3, generator=g)
    xd, yd, qd = x.double().numpy(), y.numpy(), q.double().numpy()

    def shrunk(cov):
        cov = np.diag(np.diag(cov)) if kind == "diag" else cov
        return (1 - shrinkage) * cov + shrinkage * np.trace(cov) / 3 * np.eye(3)

    pooled = sum((np.cov(xd[yd == c].T, ddof=0) * (yd == c).sum()) for c in range(3)) / (90 - 3)
    shared_vi = np.linalg.inv(shrunk(pooled))
    for mode in ("shared", "per_class"):
        got = store.scores(q, "mahalanobis", mahalanobis=mode, shrinkage=shrinkage).double().numpy()
        got_sq = store.scores(q, "sqmahalanobis", mahalanobis=mode, shrinkage=shrinkage).double().numpy()
        for c in range(3):
            mu = xd[yd == c].mean(0)
            vi = shared_vi if mode == "shared" else np.linalg.inv(shrunk(np.cov(xd[yd == c].T)))
            ref = np.array([scipy_mahalanobis(v, mu, vi) for v in qd])
            np.testing.assert_allclose(-got[:, c], ref, rtol=1e-4)
            np.testing.assert_allclose(-got_sq[:, c], ref**2, rtol=1e-4)
        _, ids = store.topk(q, k=3, metric="mahalanobis", mahalanobis=mode, shrinkage=shrinkage)
        assert ids.tolist() == np.argsort(-got, axis=1, kind="stable").tolist()


def test_mahalanobis_needs_covariances_and_a_regular_matrix():
    store = PrototypeStore(2, device="cpu")
    store.update(torch.randn(4, 2), torch.tensor([0, 0, 1, 1]))
    with pytest.raises(ValueError, match="covariance='diag' or 'full'"):
        store.scores(torch.zeros(1, 2), "mahalanobis")
    single = PrototypeStore(2, device="cpu", covariance="full")
    single.update(torch.tensor([[1.0, 1.0], [2.0, 2.0]]), torch.tensor([0, 0]))  # rank-1 covariance
    with pytest.raises(ValueError, match="shrinkage > 0"):
        single.scores(torch.zeros(1, 2), "mahalanobis", mahalanobis="per_class")
    assert torch.isfinite(single.scores(torch.zeros(1, 2), "mahalanobis", mahalanobis="per_class", shrinkage=0.1)).all()


def test_similarity_and_neighbours():
    store = PrototypeStore(2, device="cpu")
    store.set_means([4, 5, 6], torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    sim = store.similarity()
    r = 1 / np.sqrt(2)
    np.testing.assert_allclose(sim, [[1, 0, r], [0, 1, r], [r, r, 1]], atol=1e-6)
    np.testing.assert_allclose(store.similarity([6], [4, 5]), [[r, r]], atol=1e-6)
    vals, ids = store.neighbours(1)
    assert ids.flatten().tolist() == [6, 6, 4]  # class 6 is equally close to 4 and 5: lower row wins


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), kind=st.sampled_from([None, "diag", "full"]), slots=st.integers(1, 3))
def test_save_load_round_trip_is_exact(tmp_path_factory, seed, kind, slots):
    rng = np.random.default_rng(seed)
    store = PrototypeStore(5, device="cpu", covariance=kind)
    store.update(torch.from_numpy(rng.normal(0, 1, (40, 5))).float(), torch.from_numpy(rng.integers(0, 6, 40) * 7),
                 torch.from_numpy(rng.integers(0, slots, 40)))
    path = tmp_path_factory.mktemp("store") / "store.safetensors"
    store.save(path)
    back = PrototypeStore.load(path, dim=5, device="cpu")
    assert back.class_ids.tolist() == store.class_ids.tolist()
    assert back.prototype_slots.tolist() == store.prototype_slots.tolist()
    assert torch.equal(back.counts, store.counts) and torch.equal(back.means, store.means)
    assert torch.equal(back._mu, store._mu) and torch.equal(back.prototypes, store.prototypes)
    if kind:
        assert torch.equal(back.covariance(), store.covariance())
    q = torch.from_numpy(rng.normal(0, 1, (9, 5))).float()
    assert torch.equal(back.scores(q), store.scores(q))


def test_load_refuses_other_dimensions_and_corrupt_files(tmp_path):
    store = PrototypeStore(4, device="cpu")
    store.update(torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2]))
    path = tmp_path / "s.safetensors"
    store.save(path)
    with pytest.raises(ValueError, match="dimension 4, expected 8"):
        PrototypeStore.load(path, dim=8, device="cpu")
    data = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a readable prototype store file"):
        PrototypeStore.load(tmp_path / "cut.safetensors", device="cpu")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="not a readable prototype store file"):
        PrototypeStore.load(tmp_path / "junk.safetensors", device="cpu")
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a prototype store file"):
        PrototypeStore.load(tmp_path / "other.safetensors", device="cpu")
    with pytest.raises(FileNotFoundError):
        PrototypeStore.load(tmp_path / "missing.safetensors", device="cpu")
