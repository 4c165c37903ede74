"""Archived predictions: ``owlbench rescore`` recomputes every metric from them, byte for byte, also a
metric registered after the run; a damaged archive is refused with one line naming it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from harness.api.experience import Prediction
from harness.api.registry import METRICS
from harness.api.scenario import ScenarioPlan, StepPlan
from harness.cli import main

QUICKSTART = str(Path(__file__).resolve().parents[2] / "leaderboards" / "quickstart.yaml")
from harness.predictions import ARCHIVE, ArchiveError, PredictionRecorder, prediction_at, read_archive

FILES = ("metrics.json", "steps.csv")


def _snapshot(board):
    out = {name: (board / name).read_bytes() for name in ("leaderboard.csv", "steps.csv", "comparisons.csv")}
    for folder in sorted(p.parent for p in board.glob("*/done")):
        out.update({f"{folder.name}/{name}": (folder / name).read_bytes() for name in FILES})
    return out


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    out = tmp_path_factory.mktemp("rescore")
    assert main(["run", QUICKSTART, "--output", str(out), "--quiet"]) == 0
    return out


def test_rescore_equals_the_run_byte_for_byte(quickstart, capsys):
    board = quickstart / "quickstart"
    kinds = {j["kind"] for j in json.loads((board / "board.json").read_text())["jobs"]}
    assert kinds == {"cil", "fscil", "ncd", "cgcd"}  # closed-world and open-world scenarios
    before = _snapshot(board)
    assert len(before) == 3 + 48 * len(FILES)
    assert main(["rescore", QUICKSTART, "--output", str(quickstart), "--quiet"]) == 0
    assert "rescored 48 of 48" in capsys.readouterr().out
    assert _snapshot(board) == before


def test_a_metric_registered_after_the_run_is_filled_in_by_rescore(tmp_path):
    from tests.harness.late_metric import TopFiveAccuracy

    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump({
        "name": "late", "dataset": "digits", "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 3}],
        "strategies": ["nmc"], "seeds": [0, 1], "device": "cpu",
    }))
    assert main(["run", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    board = tmp_path / "out" / "late"
    assert "last_top5_accuracy_mean" not in pd.read_csv(board / "leaderboard.csv").columns
    METRICS.in_order()
    METRICS.register("test-top5")(TopFiveAccuracy)
    try:
        assert main(["rescore", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    finally:
        METRICS.unregister("test-top5")
    table = pd.read_csv(board / "leaderboard.csv")
    for folder in (p.parent for p in board.glob("*/done")):
        arrays = read_archive(folder / ARCHIVE)
        last = max(int(k[4:].split("/")[0]) for k in arrays if k.startswith("step"))
        seen = np.isin(arrays["test_y"], [c for s in json.loads(str(arrays["plan"]))["steps"][: last + 1] for c in s["new_classes"]])
        expected = (arrays[f"step{last}/top_classes"][seen] == arrays["test_y"][seen][:, None]).any(axis=1).mean()
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["summary"]["last_top5_accuracy"] == pytest.approx(expected)
        assert metrics["summary"]["last_top5_accuracy"] >= metrics["summary"]["last_accuracy"]
    assert table.loc[0, "last_top5_accuracy_mean"] > table.loc[0, "last_accuracy_mean"]


def test_a_damaged_archive_is_named_in_one_line_and_the_others_are_rescored(quickstart, capsys):
    board = quickstart / "quickstart"
    victim = sorted(board.glob(f"*/{ARCHIVE}"))[0]
    victim.write_bytes(victim.read_bytes()[:200])
    with pytest.raises(ArchiveError) as caught:
        read_archive(victim)
    assert str(victim) in str(caught.value) and "\n" not in str(caught.value)
    capsys.readouterr()
    assert main(["rescore", QUICKSTART, "--output", str(quickstart), "--quiet"]) == 1
    captured = capsys.readouterr()
    kept = [line for line in captured.err.splitlines() if line.startswith("kept:")]
    assert len(kept) == 1 and str(victim) in kept[0] and "damaged predictions archive" in kept[0]
    assert "rescored 47 of 48" in captured.out


def test_archive_top_k_zero_keeps_no_archive(tmp_path):
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump({
        "name": "bare", "dataset": "digits", "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 3}],
        "strategies": ["nmc"], "seeds": [0], "device": "cpu", "archive_top_k": 0,
    }))
    assert main(["run", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    assert not list((tmp_path / "out" / "bare").glob(f"*/{ARCHIVE}"))
    assert main(["rescore", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 1


def test_the_rebuilt_prediction_keeps_argmax_top_k_and_the_task_aware_choice():
    plan = ScenarioPlan("cil", (0, 1, 2, 3), (StepPlan(np.arange(2), (0, 1)), StepPlan(np.arange(2), (2, 3))))
    logits = torch.tensor([[5.0, 1.0, 3.0, 2.0], [2.0, 2.0, 1.0, 0.5], [0.0, 4.0, 4.0, 4.0]])
    prediction = Prediction(logits, torch.tensor([0, 1, 2, 3]), torch.tensor([5.0, 2.0, 4.0]))
    recorder = PredictionRecorder(plan, np.array([0, 1, 3]), top_k=1)
    recorder.add(1, 2, prediction)
    rebuilt = prediction_at(recorder.arrays, 1, 3)
    assert rebuilt.predicted_classes().tolist() == prediction.predicted_classes().tolist() == [0, 0, 1]  # ties: the first
    assert recorder.arrays["step1/new_best_class"].tolist() == [2, 2, 2]  # best of classes 2, 3 (not of step 0)
    assert rebuilt.logits[:, 2:].argmax(1).tolist() == logits[:, 2:].argmax(1).tolist()
    # finite: the predicted class, the top-1 (torch.topk may break a tie the other way) and the task-aware best
    top = recorder.arrays["step1/top_classes"][:, 0].tolist()
    finite = [set(np.flatnonzero(np.isfinite(row.numpy())).tolist()) for row in rebuilt.logits]
    assert all(finite[i] == {int(prediction.predicted_classes()[i]), top[i], 2} for i in range(3))
    assert all(rebuilt.logits[i, j] == logits[i, j] for i in range(3) for j in finite[i])  # the run's values
    assert rebuilt.known_score.dtype == torch.float32 and rebuilt.known_score.tolist() == [5.0, 2.0, 4.0]
