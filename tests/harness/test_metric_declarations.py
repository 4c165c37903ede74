"""A metric added in its own module with one registration reaches metrics.json, the CSV, the
markdown table and the HTML page, without a change to the evaluator or the report."""

import csv
import json

import pytest
import yaml

from harness.api.registry import METRICS
from harness.cli import main

BOARD = {
    "name": "extra",
    "dataset": "digits",
    "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 3}, {"kind": "ncd", "known_classes": 5}],
    "strategies": [{"name": "nmc"}],
    "seeds": [0, 1],
    "device": "cpu",
}


@pytest.fixture
def extra_metric():
    METRICS.in_order()  # the built-ins first
    from tests.harness import extra_metric

    if "test-known-classes" not in METRICS:
        METRICS.register("test-known-classes")(extra_metric.KnownClasses)
    yield extra_metric.KnownClasses
    METRICS.unregister("test-known-classes")


def test_a_registered_metric_appears_everywhere(tmp_path, extra_metric):
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(BOARD))
    assert main(["run", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    board = tmp_path / "out" / "extra"
    records = [json.loads(p.read_text()) for p in board.glob("*/metrics.json")]
    assert len(records) == 4
    # cil: 4, 7, 10 classes after its three steps; ncd: the 5 known + 5 discovered
    assert sorted(r["summary"]["last_known_classes"] for r in records) == [10, 10, 10, 10]
    cil = [r for r in records if len(r["steps"]) == 3]
    assert [s["known_classes"] for s in cil[0]["steps"]] == [4, 7, 10]
    with open(board / "leaderboard.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["last_known_classes_mean"]) for r in rows] == [10.0, 10.0]
    markdown = (board / "leaderboard.md").read_text()
    header = markdown.splitlines()[2]
    assert "| known classes |" in header and "| 10.000 ± 0.000 |" in markdown
    page = (board / "leaderboard.html").read_text()
    assert 'data-column="last_known_classes"' in page and ">known classes</th>" in page


def test_declarations_replace_the_restated_lists():
    from harness.metrics import ClusteringQuality, ContinualAccuracy, OpenSetDetection
    from harness.report import SUMMARY_KEYS

    declared = [k.name for m in (ContinualAccuracy, OpenSetDetection, ClusteringQuality) for k in m.summary_keys]
    assert list(SUMMARY_KEYS)[: len(declared)] == declared
    assert ContinualAccuracy.higher_is_better()["forgetting"] is False
    assert OpenSetDetection.higher_is_better()["mean_fpr95"] is False
