"""FeTrIL: the translation and the choice of the source class on hand-computed inputs, then digits."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.config import parse_config
from harness.api.experience import Experience
from harness.runner import execute
from harness.api.strategy import StrategyContext
from harness.sweep import expand
from strategies.fetril import FeTrIL, FeTrILParams, closest_new_classes, pseudo_features, translate


def test_translation_by_hand():
    # new class n: features (2, 2) and (4, 2), centroid (3, 2); past class p: centroid (1, 0)
    f_n = torch.tensor([[2.0, 2.0], [4.0, 2.0]])
    got = translate(f_n, torch.tensor([3.0, 2.0]), torch.tensor([1.0, 0.0]))
    # (2,2) − (3,2) + (1,0) = (0,0);  (4,2) − (3,2) + (1,0) = (2,0)
    assert torch.equal(got, torch.tensor([[0.0, 0.0], [2.0, 0.0]]))


def test_euclidean_and_cosine_choose_different_sources():
    past = torch.tensor([[1.0, 0.0]])
    new = torch.tensor([[3.0, 0.0], [0.5, 0.5]])
    # Euclidean: |(1,0)−(3,0)| = 2 > |(1,0)−(0.5,0.5)| = √0.5 ≈ 0.707 → row 1
    assert closest_new_classes(past, new, "euclidean").tolist() == [[1]]
    # cosine: cos((1,0),(3,0)) = 1 > cos((1,0),(0.5,0.5)) = 1/√2 → row 0
    assert closest_new_classes(past, new, "cosine").tolist() == [[0]]
    assert closest_new_classes(past, new, "euclidean", k=2).tolist() == [[1, 0]]


def test_fetril_learn_builds_the_hand_computed_training_set(monkeypatch):
    """Identity backbone on 2-d vectors, no normalisation: the classifier sees exactly these rows."""
    ctx = StrategyContext(device=torch.device("cpu"), seed=0, input_shape=(2,))
    strategy = FeTrIL(FeTrILParams(backbone={"arch": "identity"}, normalize=False), ctx)
    seen = []
    monkeypatch.setattr(strategy, "_fit_classifier", lambda x, y, step: seen.append((x.clone(), y.clone())))

    def exp(step, x, y, new):
        return Experience(step, "cil", torch.tensor(x), torch.tensor(y), new, ())

    # base: class 0 centroid (1, 0), class 1 centroid (0, 4)
    strategy.learn(exp(0, [[0.0, 0.0], [2.0, 0.0], [0.0, 3.0], [0.0, 5.0]], [0, 0, 1, 1], (0, 1)))
    # step 1: class 2 centroid (3, 2), class 3 centroid (0, 7)
    new_x = [[2.0, 2.0], [4.0, 2.0], [0.0, 6.0], [0.0, 8.0]]
    strategy.learn(exp(1, new_x, [2, 2, 3, 3], (2, 3)))
    x, y = seen[-1]
    # class 0: distances to (3,2) = √8 ≈ 2.83, to (0,7) = √50 ≈ 7.07 → borrows class 2:
    #   (2,2)−(3,2)+(1,0) = (0,0), (4,2)−(3,2)+(1,0) = (2,0)
    # class 1: distances to (3,2) = √13 ≈ 3.61, to (0,7) = 3 → borrows class 3:
    #   (0,6)−(0,7)+(0,4) = (0,3), (0,8)−(0,7)+(0,4) = (0,5)
    expected = {
        (0.0, 6.0, 3.0), (0.0, 8.0, 3.0), (2.0, 2.0, 2.0), (4.0, 2.0, 2.0),  # real features of the new classes
        (0.0, 0.0, 0.0), (2.0, 0.0, 0.0), (0.0, 3.0, 1.0), (0.0, 5.0, 1.0),  # pseudo-features of the past ones
    }
    assert {(float(a), float(b), float(c)) for (a, b), c in zip(x.tolist(), y.tolist())} == expected
    assert len(x) == 8


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 5), st.integers(1, 4), st.integers(0, 10_000))
def test_pseudo_features_have_the_past_centroid(n_new, n_per_class, n_past, seed):
    """Translating all samples of a class moves their mean exactly onto the past centroid."""
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(n_new * n_per_class, 3, generator=g, dtype=torch.float64)
    labels = torch.arange(n_new).repeat_interleave(n_per_class)
    rows = [torch.nonzero(labels == j).flatten() for j in range(n_new)]
    new_means = torch.stack([feats[r].mean(0) for r in rows])
    past_means = torch.randn(n_past, 3, generator=g, dtype=torch.float64)
    sources = closest_new_classes(past_means, new_means, "euclidean").tolist()
    pseudo, owner = pseudo_features(feats, rows, new_means, past_means, sources)
    for p in range(n_past):
        assert torch.allclose(pseudo[owner == p].mean(0), past_means[p], atol=1e-9)
        assert (owner == p).sum() == n_per_class


def test_k_closest_lends_a_share_of_each_source():
    feats = torch.arange(12, dtype=torch.float64).reshape(6, 2)
    rows = [torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5])]
    new_means = torch.stack([feats[r].mean(0) for r in rows])
    pseudo, owner = pseudo_features(feats, rows, new_means, torch.zeros(1, 2, dtype=torch.float64), [[0, 1]], torch.Generator().manual_seed(0))
    assert len(pseudo) == 2 * math.ceil(3 / 2)


def _board(strategies, seeds=(0,)):
    return parse_config(
        {
            "name": "fetril-digits",
            "dataset": "digits",
            "scenarios": [
                {"kind": "cil", "base_classes": 4, "increment": 2},
                {"kind": "fscil", "base_classes": 4, "ways": 2, "shots": 5},
            ],
            "strategies": strategies,
            "seeds": list(seeds),
            "device": "cpu",
        }
    )


def test_fetril_runs_on_digits_and_is_deterministic():
    for job in expand(_board([{"name": "fetril", "backbone": {"width": 8, "epochs": 2}}])):
        first = execute(job, progress=False)["metrics"]
        assert first["steps"] == execute(job, progress=False)["metrics"]["steps"]
        assert first["summary"]["last_accuracy"] > 0.4  # 10 classes: chance is 0.1


@pytest.mark.parametrize(
    "extra",
    [
        {"classifier": "linear", "linear_lr": 1.0, "linear_epochs": 10},
        {"variant": "random"},
        {"variant": "k_closest", "k": 2, "distance": "cosine"},
    ],
)
def test_fetril_variants_run_on_digits(extra):
    job = expand(_board([{"name": "fetril", "backbone": {"width": 8, "epochs": 2}, **extra}]))[0]  # cil
    assert execute(job, progress=False)["metrics"]["summary"]["last_accuracy"] > 0.4
