"""Open-set scorers: each on hand-computed cases and against an independent computation (scipy for
Mahalanobis and its shrinkage, brute force for kNN, a direct softmax / logsumexp for MSP and energy);
a spy shows that no scorer is given test labels or test statistics; a board reports every scorer."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from scipy.spatial.distance import mahalanobis as scipy_mahalanobis
from scipy.special import logsumexp, softmax

from harness.api.experience import Prediction
from harness.api.registry import SCORERS, load_builtins
from harness.cli import main
from harness.scorers.class_stats import ClassStatistics
from harness.scorers.gaussian import GaussianPrecision

load_builtins()


def _scorer(name, **params):
    cls = SCORERS.get(name)
    return cls(cls.Params(**params))


def _prediction(logits):
    logits = torch.as_tensor(logits, dtype=torch.float32)
    return Prediction(logits, torch.arange(logits.shape[1]), torch.zeros(len(logits)))


def _data(seed=0, n=40, d=3, classes=3):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), n)
    x = rng.normal(size=(len(y), d)) * (1 + y[:, None] * 0.5) + 3 * np.eye(classes, d)[y]
    return torch.from_numpy(x), torch.from_numpy(y)


def test_logit_scorers_by_hand_and_against_scipy():
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5], [0.0, -np.inf, 3.0]])
    prediction = _prediction(logits)
    assert np.allclose(_scorer("max_logit").score(prediction), [2.0, 0.5, 3.0])
    assert np.allclose(_scorer("msp").score(prediction)[1], 1 / 3)  # three equal logits
    assert np.allclose(_scorer("msp").score(prediction), softmax(np.where(np.isinf(logits), -1e30, logits), axis=1).max(1), atol=1e-6)
    assert np.allclose(_scorer("energy").score(prediction), logsumexp(logits, axis=1), atol=1e-6)
    assert np.allclose(_scorer("energy", temperature=2.0).score(prediction), 2 * logsumexp(logits / 2, axis=1), atol=1e-6)


def test_class_statistics_merged_in_two_steps_equal_one_pass():
    x, y = _data()
    whole, halves = ClassStatistics(), ClassStatistics()
    whole.update(x, y)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    halves.update(x[order[:50]], y[order[:50]])
    halves.update(x[order[50:]], y[order[50:]])
    for c in whole.classes:
        assert np.allclose(whole.mean[c], halves.mean[c]) and np.allclose(whole.scatter[c], halves.scatter[c])
        assert np.allclose(whole.covariance(c), np.cov(x[y == c].numpy().T, bias=True))


@pytest.mark.parametrize("covariance", ["tied", "per_class"])
@pytest.mark.parametrize("shrinkage", [0.0, 0.3])
def test_mahalanobis_against_scipy(covariance, shrinkage):
    x, y = _data()
    test, _ = _data(seed=1, n=5)
    scorer = _scorer("mahalanobis", covariance=covariance, shrinkage=shrinkage)
    scorer.observe(x, y)
    xs, ys = x.numpy(), y.numpy()
    means = [xs[ys == c].mean(0) for c in range(3)]
    covs = [np.cov(xs[ys == c].T, bias=True) for c in range(3)]
    tied = sum(np.cov(xs[ys == c].T, bias=True) * (ys == c).sum() for c in range(3)) / len(ys)

    def shrink(cov):
        return (1 - shrinkage) * cov + shrinkage * np.trace(cov) / len(cov) * np.eye(len(cov))

    inverses = [np.linalg.inv(shrink(tied if covariance == "tied" else covs[c])) for c in range(3)]
    expected = [-min(scipy_mahalanobis(t, means[c], inverses[c]) ** 2 for c in range(3)) for t in test.numpy()]
    assert np.allclose(scorer.score(None, test), expected)


@pytest.mark.parametrize("shrinkage", [0.0, 0.3, 1.0])
def test_low_rank_precision_equals_pinvh_of_the_shrunk_covariance(shrinkage):
    """12 samples in 20 dimensions: a covariance of rank 11, whose per-class distances take the
    low-rank form; the same matrix and distances as scipy's pseudo-inverse of the shrunk matrix."""
    from scipy.linalg import pinvh

    rng = np.random.default_rng(3)
    samples = rng.normal(size=(12, 20)) * np.linspace(0.5, 3.0, 20)
    cov = np.cov(samples.T, bias=True)
    shrunk = (1 - shrinkage) * cov + shrinkage * np.trace(cov) / 20 * np.eye(20)
    expected = pinvh(shrunk)
    factors = GaussianPrecision(cov, shrinkage)
    assert factors.basis.shape == (20, 11)
    assert np.allclose(factors.matrix(), expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())
    centred = rng.normal(size=(7, 20))
    direct = np.einsum("nd,de,ne->n", centred, expected, centred)
    assert np.allclose(factors.squared_distances(centred), direct, rtol=1e-9)


def test_per_class_mahalanobis_with_fewer_samples_than_dimensions_against_scipy():
    x, y = _data(n=6, d=10)
    test, _ = _data(seed=5, n=3, d=10)
    scorer = _scorer("mahalanobis", covariance="per_class", shrinkage=0.5)
    scorer.observe(x, y)
    xs, ys = x.numpy(), y.numpy()
    expected = []
    for t in test.numpy():
        distances = []
        for c in range(3):
            cov = np.cov(xs[ys == c].T, bias=True)
            shrunk = 0.5 * cov + 0.5 * np.trace(cov) / 10 * np.eye(10)
            distances.append(scipy_mahalanobis(t, xs[ys == c].mean(0), np.linalg.inv(shrunk)) ** 2)
        expected.append(-min(distances))
    assert np.allclose(scorer.score(None, test), expected, rtol=1e-9)


def test_relative_mahalanobis_subtracts_the_background_gaussian():
    x, y = _data()
    test, _ = _data(seed=2, n=4)
    scorer = _scorer("relative_mahalanobis")
    scorer.observe(x, y)
    xs, ys = x.numpy(), y.numpy()
    tied = sum(np.cov(xs[ys == c].T, bias=True) * (ys == c).sum() for c in range(3)) / len(ys)
    background = np.linalg.inv(np.cov(xs.T, bias=True))
    expected = [
        -min(scipy_mahalanobis(t, xs[ys == c].mean(0), np.linalg.inv(tied)) ** 2 - scipy_mahalanobis(t, xs.mean(0), background) ** 2 for c in range(3))
        for t in test.numpy()
    ]
    assert np.allclose(scorer.score(None, test), expected)


@pytest.mark.parametrize("name", ["mahalanobis", "relative_mahalanobis"])
def test_gaussian_scores_follow_every_update_although_precisions_are_kept(name):
    """The precisions derived from the statistics are kept between scores and dropped on update:
    a scorer updated step by step scores as one fitted afresh on the same data."""
    x, y = _data()
    test, _ = _data(seed=4, n=5)
    stepwise = _scorer(name)
    stepwise.observe(x[y < 2], y[y < 2])
    first = stepwise.score(None, test)
    assert np.array_equal(stepwise.score(None, test), first)
    stepwise.observe(x[y == 2], y[y == 2])
    fresh = _scorer(name)
    fresh.observe(x, y)
    assert not np.allclose(stepwise.score(None, test), first)
    assert np.allclose(stepwise.score(None, test), fresh.score(None, test))


def test_knn_with_real_samples_against_brute_force():
    x, y = _data()
    test, _ = _data(seed=3, n=6)
    scorer = _scorer("knn", k=5, memory="samples")
    assert scorer.keeps_samples
    scorer.observe(x[:60], y[:60])
    scorer.observe(x[60:], y[60:])
    bank = x.numpy() / np.linalg.norm(x.numpy(), axis=1, keepdims=True)
    queries = test.numpy() / np.linalg.norm(test.numpy(), axis=1, keepdims=True)
    distances = np.sort(np.linalg.norm(queries[:, None, :] - bank[None], axis=2), axis=1)
    assert np.allclose(scorer.score(None, test), -distances[:, 4])


def test_knn_by_default_keeps_no_sample_and_draws_a_seeded_bank():
    x, y = _data()
    a, b = _scorer("knn", k=3, per_class=20), _scorer("knn", k=3, per_class=20)
    for scorer in (a, b):
        scorer.observe(x, y)
    assert not a.keeps_samples and a.bank == [] and a._bank().shape == (60, 3)
    assert np.array_equal(a.score(None, x[:5]), b.score(None, x[:5]))
    near, far = a.score(None, x[:5]), a.score(None, -x[:5] * 10)
    assert near.mean() > far.mean()


def test_mixture_with_one_prototype_per_class_is_the_nearest_mean_direction():
    x, y = _data()
    scorer = _scorer("mixture", prototypes=1)
    scorer.observe(x, y)
    unit = x.numpy() / np.linalg.norm(x.numpy(), axis=1, keepdims=True)
    means = np.stack([unit[y.numpy() == c].mean(0) for c in range(3)])  # the mean of the normalised features
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    queries = x.numpy()[:7] / np.linalg.norm(x.numpy()[:7], axis=1, keepdims=True)
    assert np.allclose(scorer.score(None, x[:7]), (queries @ means.T).max(1))
    assert len(_fitted_mixture(x, y, 4).centres[0]) == 4


def _fitted_mixture(x, y, m):
    scorer = _scorer("mixture", prototypes=m)
    scorer.observe(x, y)
    return scorer


BOARD = {
    "name": "scored", "dataset": "digits",
    "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 3}, {"kind": "ncd", "known_classes": 6}],
    "strategies": ["nmc", {"name": "nmc", "label": "nmc-cosine", "metric": "cosine"}, {"name": "teen", "backbone": {"epochs": 2}}],
    "seeds": [0], "device": "cpu",
    "open_set": {"scorers": ["msp", "max_logit", "energy", "mahalanobis", {"name": "mahalanobis", "label": "maha-class", "covariance": "per_class", "shrinkage": 0.5},
                            "relative_mahalanobis", {"name": "knn", "k": 10}, "mixture"]},
}


def test_no_scorer_is_given_test_labels_or_test_statistics(tmp_path, monkeypatch):
    """A spy on every feature scorer's observe: it sees each step's training samples once, in step
    order, never a test sample; score gets no labels at all (its signature has none)."""
    calls = []
    for name in ("mahalanobis", "knn", "mixture"):
        cls = SCORERS.get(name)

        def spy(self, features, labels, _original=cls.observe):
            calls.append((features.numpy().copy(), labels.numpy().copy()))
            return _original(self, features, labels)

        monkeypatch.setattr(cls, "observe", spy)
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump({**BOARD, "scenarios": BOARD["scenarios"][:1], "strategies": ["nmc"]}))
    assert main(["run", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    metrics = json.loads(next((tmp_path / "out" / "scored").glob("*/metrics.json")).read_text())
    sizes = [s["train_samples"] for s in metrics["steps"]]
    assert [len(x) for x, _ in calls] == [size for size in sizes for _ in range(4)]  # 4 feature scorers on the board

    from harness.datasets.digits import DigitsParams
    from harness.datasets.loading import load_dataset

    data = load_dataset("digits", DigitsParams())
    test_rows = {row.tobytes() for row in data.test_x.flatten(1).double().numpy()}
    train_rows = {row.tobytes() for row in data.train_x.flatten(1).double().numpy()}
    observed = [row.tobytes() for x, _ in calls for row in x.astype(np.float64)]
    assert all(row in train_rows for row in observed)
    assert not any(row in test_rows and row not in train_rows for row in observed)
    assert all(labels.min() >= 0 for _, labels in calls)  # scenario class ids of the step's own samples


def test_a_board_reports_every_scorer_and_rescore_reproduces_it(tmp_path, capsys):
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(BOARD))
    assert main(["run", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    board = tmp_path / "out" / "scored"
    table = pd.read_csv(board / "scorers.csv")
    scorers = ["default", "msp", "max_logit", "energy", "mahalanobis", "maha-class", "relative_mahalanobis", "knn", "mixture"]
    assert sorted(set(table["scorer"])) == sorted(scorers)
    assert len(table) == 2 * 3 * len(scorers)
    assert table["auroc_mean"].between(0, 1).all() and table["fpr95_mean"].between(0, 1).all()
    nmc = table[(table.scenario == "cil") & (table.strategy == "nmc")].set_index("scorer")
    assert nmc.loc["mahalanobis", "auroc_mean"] > 0.6  # digits' unseen classes are far from the seen ones
    correlation = pd.read_csv(board / "scorer_correlation.csv")
    assert set(correlation["scorer"]) == set(scorers) and correlation["spearman_rho"].between(-1, 1).all()
    assert "Open-set AUROC per scorer" in (board / "leaderboard.md").read_text()
    before = (board / "scorers.csv").read_bytes(), sorted((p.name, p.read_bytes()) for p in board.glob("*/metrics.json"))
    assert main(["rescore", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    assert ((board / "scorers.csv").read_bytes(), sorted((p.name, p.read_bytes()) for p in board.glob("*/metrics.json"))) == before


def test_scorer_entries_are_checked(tmp_path, capsys):
    config = tmp_path / "board.yaml"
    for open_set, needle in (
        ({"scorers": ["msq"]}, "open_set.scorers[0].name"),
        ({"scorers": [{"name": "knn", "k": 0}]}, "open_set.scorers[0].k"),
        ({"scorers": ["msp", "msp"]}, "used twice"),
        ({"scorerz": []}, "open_set.scorerz"),
    ):
        config.write_text(yaml.safe_dump({**BOARD, "open_set": open_set}))
        capsys.readouterr()
        assert main(["run", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 2
        assert needle in capsys.readouterr().err


def test_far_unknowns_from_another_dataset_are_reported_apart(tmp_path, capsys):
    rng = np.random.default_rng(0)
    noise = rng.uniform(size=(60, 1, 8, 8)).astype(np.float32)  # far unknowns: noise images of the digits' shape
    np.savez(tmp_path / "noise.npz", x=noise, y=np.repeat(np.arange(3), 20))
    board = {**BOARD, "scenarios": BOARD["scenarios"][:1], "strategies": ["nmc"], "seeds": [0, 1],
             "open_set": {"scorers": ["msp", "mahalanobis"], "far": {"name": "arrays", "train": str(tmp_path / "noise.npz")}}}
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(board))
    assert main(["run", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    folder = tmp_path / "out" / "scored"
    table = pd.read_csv(folder / "scorers.csv").set_index("scorer")
    assert {"auroc_far_mean", "fpr95_far_mean", "aupr_in_far_mean", "aupr_out_far_mean"} <= set(table.columns)
    assert table.loc["mahalanobis", "auroc_far_mean"] > 0.95  # noise is far from every digit class
    metrics = json.loads(next(folder.glob("*/metrics.json")).read_text())
    assert len(metrics["scorers"]["default"]["auroc_far"]) == len(metrics["steps"])
    assert all(v is not None for v in metrics["scorers"]["msp"]["auroc_far"])  # far unknowns exist at every step, the last included
    assert "far unknowns" in (folder / "leaderboard.md").read_text()
    before = sorted((p.name, p.read_bytes()) for p in folder.glob("*/metrics.json"))
    assert main(["rescore", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    assert sorted((p.name, p.read_bytes()) for p in folder.glob("*/metrics.json")) == before

    np.savez(tmp_path / "flat.npz", x=noise.reshape(60, -1), y=np.repeat(np.arange(3), 20))
    board["open_set"]["far"]["train"] = str(tmp_path / "flat.npz")
    config.write_text(yaml.safe_dump(board))
    capsys.readouterr()
    assert main(["run", str(config), "--output", str(tmp_path / "out2"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "open_set.far" in err and "(64,)" in err and "(1, 8, 8)" in err


def test_spearman_p_value_is_exact_for_a_few_strategies():
    from harness.report.scorers import _p, spearman

    assert spearman([1, 2, 3], [10, 20, 30]) == (1.0, pytest.approx(2 / 6))  # 2 of the 6 orderings reach |ρ| = 1
    rho, p = spearman([1, 2, 3, 4], [1, 3, 2, 4])
    assert rho == pytest.approx(0.8) and p == pytest.approx(8 / 24)  # |ρ| ≥ 0.8: 4 orderings each way
    rho, p = spearman([1, 2, 3, 4, 5, 6], [6, 7, 8, 9, 10, 11])
    assert p == pytest.approx(2 / 720) and _p(p) == "0.003" and _p(2 / 6) == "0.33"  # printed, not rounded to 0.00


def test_a_scorer_the_strategy_cannot_feed_is_skipped_with_the_reason(tmp_path):
    board = {**BOARD, "scenarios": BOARD["scenarios"][:1], "seeds": [0],
             "strategies": ["nmc", {"name": "tests.harness.sweep_strategies:FeaturelessNMC", "label": "featureless"}],
             "open_set": {"scorers": ["msp", "mahalanobis"]}}
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(board))
    assert main(["run", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    folder = tmp_path / "out" / "scored"
    table = pd.read_csv(folder / "scorers.csv", keep_default_na=False).set_index(["strategy", "scorer"])
    assert table.loc[("featureless", "mahalanobis"), "auroc_mean"] == ""  # missing
    assert "the strategy gives no features" in table.loc[("featureless", "mahalanobis"), "skipped"]
    assert table.loc[("featureless", "msp"), "skipped"] == "" and float(table.loc[("featureless", "msp"), "auroc_mean"]) > 0.5
    assert table.loc[("nmc", "mahalanobis"), "skipped"] == ""
    assert "featureless, mahalanobis: skipped: the strategy gives no features" in (folder / "leaderboard.md").read_text()
    before = sorted((p.name, p.read_bytes()) for p in folder.glob("*/metrics.json"))
    assert main(["rescore", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 0  # the reason survives the archive
    assert sorted((p.name, p.read_bytes()) for p in folder.glob("*/metrics.json")) == before
