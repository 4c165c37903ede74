"""scenarios.md states what each scenario gives the strategies; ``owlbench export`` writes one JSON per row
that holds the row's numbers and the provenance of its jobs; each row of leaderboard.csv lists its jobs."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from harness.cli import main
from harness.report.scenario_cards import _pretrained_on

BOARD = {
    "name": "cards", "dataset": "digits",
    "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 3}, {"kind": "ncd", "known_classes": 6}],
    "strategies": ["nmc", {"name": "nmc", "label": "nmc-cosine", "metric": "cosine"}], "seeds": [0, 1], "device": "cpu",
}


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cards")
    (tmp / "board.yaml").write_text(yaml.safe_dump(BOARD))
    assert main(["run", str(tmp / "board.yaml"), "--output", str(tmp / "out"), "--quiet"]) == 0
    return tmp


def test_scenario_cards_state_steps_hidden_labels_and_hashes(board):
    text = (board / "out" / "cards" / "scenarios.md").read_text()
    config = json.loads(next((board / "out" / "cards").glob("*/config.json")).read_text())
    assert "## cil (cil)" in text and "## ncd (ncd)" in text
    assert config["provenance"]["dataset"]["train"] in text and config["provenance"]["dataset"]["test"] in text
    assert "| 0 | 4 |" in text and "| 1 | 3 |" in text  # cil: 4 base classes, then 3 per step
    ncd = text[text.index("## ncd"):]
    assert "| 1 | 4 |" in ncd and "unlabeled | inputs only (labels hidden); the number of new classes is given" in ncd
    assert "drawn from each job's seed" in text and "no frozen backbone" in text


def test_a_backbone_states_its_pretraining_data():
    assert "ImageNet-1k" in _pretrained_on({"name": "efficientnet-lite0"})
    assert "sentence pairs" in _pretrained_on({"name": "minilm"})


def test_rows_list_their_jobs_and_export_holds_them(board, capsys):
    folder = board / "out" / "cards"
    table = pd.read_csv(folder / "leaderboard.csv")
    manifest = json.loads((folder / "board.json").read_text())
    for row in table.itertuples():
        expected = [j["id"] for j in manifest["jobs"] if (j["scenario"], j["strategy"]) == (row.scenario, row.strategy)]
        assert row.job_ids.split() == expected
    assert main(["export", str(board / "board.yaml"), "--output", str(board / "out"), "--to", str(board / "rows")]) == 0
    files = sorted((board / "rows").glob("*.json"))
    assert [f.name for f in files] == sorted(f"{r.scenario}__{r.strategy}.json" for r in table.itertuples())
    entry = json.loads((board / "rows" / "cil__nmc.json").read_text())
    row = table[(table.scenario == "cil") & (table.strategy == "nmc")].iloc[0]
    assert entry["format"] == "owlbench-row/1" and entry["metrics"]["last_accuracy"]["mean"] == pytest.approx(row.last_accuracy_mean, abs=1e-6)
    assert [j["id"] for j in entry["jobs"]] == row.job_ids.split()
    assert all(j["provenance"]["plan"] and j["cost"]["samples_given"] > 0 for j in entry["jobs"])
    assert entry["entries"]["strategy"]["name"] == "nmc"
