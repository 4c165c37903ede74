"""Predictions without the dense matrix: a board run with ``predictions: summary`` gives every file
the dense run gives, byte for byte (NMC and TEEN summarise; FeTrIL keeps its logits), on the four
scenario kinds and with the logit scorers; a metric that reads every logit keeps a board dense."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from harness.api.registry import METRICS
from harness.cli import main
from harness.predictions import ARCHIVE, read_archive

QUICKSTART = Path(__file__).resolve().parents[2] / "leaderboards" / "quickstart.yaml"
BOARD_FILES = ("leaderboard.csv", "steps.csv", "comparisons.csv", "scorers.csv")


def _board(tmp_path: Path, predictions: str) -> Path:
    config = yaml.safe_load(QUICKSTART.read_text())
    config.update(
        name="summary-check",
        seeds=[0, 1],
        device="cpu",
        predictions=predictions,
        open_set={"scorers": ["msp", "max_logit", "energy", {"name": "energy", "label": "energy-t2", "temperature": 2.0}]},
    )
    config["strategies"] = [s for s in config["strategies"] if s["name"] != "fetril"] + [
        {"name": "fetril", "backbone": {"arch": "small_cnn", "width": 8, "depth": 1, "epochs": 1}}
    ]
    path = tmp_path / f"{predictions}.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["run", str(path), "--output", str(tmp_path / predictions), "--quiet"]) == 0
    return tmp_path / predictions / "summary-check"


@pytest.fixture(scope="module")
def boards(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("summaries")
    return _board(tmp, "dense"), _board(tmp, "summary")


def _job_folders(board: Path) -> dict[str, Path]:
    return {p.parent.name: p.parent for p in board.glob("*/done")}


def test_summary_board_equals_the_dense_board_byte_for_byte(boards):
    dense, summary = boards
    for name in BOARD_FILES:
        if (dense / name).exists():
            assert (summary / name).read_bytes() == (dense / name).read_bytes(), name
    jobs = _job_folders(dense)
    assert jobs.keys() == _job_folders(summary).keys() and len(jobs) == 4 * 4 * 2
    for job, folder in jobs.items():
        a = json.loads((folder / "metrics.json").read_text())
        b = json.loads((summary / job / "metrics.json").read_text())
        assert a["summary"] == b["summary"] and a["steps"] == b["steps"], job
        arrays_a, arrays_b = read_archive(folder / ARCHIVE), read_archive(summary / job / ARCHIVE)
        assert arrays_a.keys() == arrays_b.keys()
        for key in arrays_a:
            assert np.array_equal(arrays_a[key], arrays_b[key]), (job, key)


def test_the_config_records_which_steps_were_summarised(boards):
    dense, summary = boards
    for job, folder in _job_folders(summary).items():
        config = json.loads((folder / "config.json").read_text())
        steps = len(config["steps"])
        expected = list(range(steps)) if config["strategy"]["name"] in ("nmc", "teen") else []
        assert config["predictions"] == {"mode": "summary", "summarised_steps": expected}, job
        dense_config = json.loads((dense / job / "config.json").read_text())
        assert dense_config["predictions"] == {"mode": "dense", "summarised_steps": []}


def test_a_metric_that_reads_every_logit_refuses_summary_and_keeps_auto_dense(tmp_path, capsys):
    from tests.harness.late_metric import TopFiveAccuracy

    config = {"name": "dense-reader", "dataset": "digits", "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 3}],
              "strategies": ["nmc"], "device": "cpu", "predictions": "summary"}
    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump(config))
    METRICS.in_order()
    METRICS.register("test-top5-dense")(TopFiveAccuracy)
    try:
        assert main(["run", str(path), "--output", str(tmp_path / "out"), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert "predictions" in err and "test-top5-dense" in err
        assert not (tmp_path / "out").exists()
    finally:
        METRICS.unregister("test-top5-dense")
