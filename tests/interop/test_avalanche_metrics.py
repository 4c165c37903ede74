"""owlbench's continual metrics against avalanche-lib's on the same predictions.

They agree where the definitions agree: the accuracy matrix (avalanche's per-experience accuracy on the
test stream), the accuracy on the classes seen so far, and backward transfer.  They differ where the
names mean different things (docs/avalanche.md): avalanche's forgetting is the drop from the
accuracy right after a step was learned (so it equals −BWT), owlbench's the drop from the best
earlier accuracy; avalanche's stream accuracy counts the test samples of classes not seen yet.
"""

import json

import numpy as np
import pytest
import torch
import yaml

pytest.importorskip("avalanche", reason="the optional avalanche extra is not installed (pip install -e '.[avalanche]')")

from avalanche.evaluation.metrics import BWT, Accuracy, Forgetting  # noqa: E402

from harness.cli import main  # noqa: E402
from harness.metrics.continual import backward_transfer, forgetting  # noqa: E402


def _accuracy(predicted, true) -> float:
    metric = Accuracy()
    metric.update(torch.as_tensor(predicted), torch.as_tensor(true))
    return metric.result()


def _first_minus_last(metric_cls, matrix) -> float:
    """avalanche's standalone ``Forgetting`` (first − last value per key) or ``BWT`` (last − first) with
    first = R[j][j] and last = R[T-1][j], averaged over j < T-1."""
    metric = metric_cls()
    t = len(matrix)
    for j in range(t - 1):
        metric.update(j, matrix[j][j], initial=True)
        metric.update(j, matrix[t - 1][j])
    return float(np.mean(list(metric.result().values())))


def _avalanche_forgetting(matrix) -> float:
    return _first_minus_last(Forgetting, matrix)


def _avalanche_bwt(matrix) -> float:
    return _first_minus_last(BWT, matrix)


@pytest.mark.parametrize("strategy", ["nmc", "avalanche-naive"])
def test_owlbench_and_avalanche_agree_on_the_same_predictions(tmp_path, strategy):
    board = {"name": "m", "dataset": "digits", "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 2}],
             "strategies": [{"name": strategy}], "seeds": [0], "device": "cpu"}
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(board))
    assert main(["run", str(tmp_path / "b.yaml"), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    job = next((tmp_path / "out/m").glob("*/metrics.json")).parent
    metrics = json.loads((job / "metrics.json").read_text())
    config = json.loads((job / "config.json").read_text())
    archive = np.load(job / "predictions.npz")
    y = archive["test_y"]
    steps = config["steps"]
    matrix = []
    for i in range(len(steps)):
        predicted = archive[f"step{i}/predicted"]
        row = [_accuracy(predicted[np.isin(y, steps[j])], y[np.isin(y, steps[j])]) for j in range(i + 1)]
        matrix.append(row)
        seen = np.isin(y, sum(steps[: i + 1], []))
        assert _accuracy(predicted[seen], y[seen]) == pytest.approx(metrics["steps"][i]["accuracy"], abs=1e-12)
        # avalanche's stream accuracy over the whole test stream counts the unseen classes' samples,
        # which a strategy that only knows the seen classes always gets wrong
        stream = _accuracy(predicted[y >= 0], y[y >= 0])
        assert stream == pytest.approx(metrics["steps"][i]["accuracy"] * seen.sum() / (y >= 0).sum(), abs=1e-12)
    ours = metrics["accuracy_matrix"]
    for i, row in enumerate(matrix):
        assert row == pytest.approx(ours[i][: i + 1], abs=1e-12)
    assert _avalanche_bwt(matrix) == pytest.approx(metrics["summary"]["backward_transfer"], abs=1e-12)
    assert _avalanche_forgetting(matrix) == pytest.approx(-metrics["summary"]["backward_transfer"], abs=1e-12)


def test_the_documented_differences_on_a_hand_made_matrix():
    # the base step's accuracy rises after step 1 (0.6 -> 0.9), then falls to 0.5
    matrix = [[0.6, None, None], [0.9, 0.8, None], [0.5, 0.7, 0.9]]
    dense = np.array([[v if v is not None else np.nan for v in row] for row in matrix])
    # owlbench: drop from the best earlier value: ((0.9 - 0.5) + (0.8 - 0.7)) / 2 = 0.25
    assert forgetting(dense) == pytest.approx(0.25)
    # avalanche: drop from the value right after learning: ((0.6 - 0.5) + (0.8 - 0.7)) / 2 = 0.1 = -BWT
    assert _avalanche_forgetting(matrix) == pytest.approx(0.1)
    assert backward_transfer(dense) == pytest.approx(-0.1) == _avalanche_bwt(matrix)
