"""Training records, the markdown marks and ``owlbench publish``, on a digits board run for real:
``metrics.json`` holds one record per epoch with validation accuracy, ``training.png`` is drawn, the
best entry is bold, and the README sections and ``docs/claims.md`` are written from the folder alone
(nothing outside the markers changes; a missing folder is an error with exit 2)."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
import yaml

from harness.cli import main

BOARD = {
    "name": "pub",
    "dataset": "digits",
    "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 3}],
    "strategies": [
        {"name": "nmc"},
        {"name": "fetril", "backbone": {"arch": "small_cnn", "width": 8, "depth": 1, "epochs": 2, "validation_fraction": 0.2}},
    ],
    "seeds": [0, 1],
    "device": "cpu",
    "output": "results",
    "claims": [{"claim": "FeTrIL beats NMC", "source": "a paper", "scenario": "cil", "metric": "last_accuracy",
                "treatment": "fetril", "control": "nmc"}],
}
README = "# Title\n\nHand-written intro.\n\n<!-- results: boards/pub.yaml -->\nold text\n<!-- /results -->\n\nHand-written notes.\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    (root / "boards").mkdir()
    (root / "boards" / "pub.yaml").write_text("# A digits board: NMC and FeTrIL,\n# two seeds.\n" + yaml.safe_dump(BOARD))
    (root / "README.md").write_text(README)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        assert main(["run", "boards/pub.yaml", "--quiet"]) == 0
    finally:
        os.chdir(cwd)
    return root


def test_training_records_per_epoch_with_validation_accuracy(project):
    folder = project / "results" / "pub"
    manifest = json.loads((folder / "board.json").read_text())
    fetril = [j for j in manifest["jobs"] if j["strategy"] == "fetril"]
    training = json.loads((folder / fetril[0]["id"] / "metrics.json").read_text())["training"]
    assert [r["epoch"] for r in training] == [0, 1] and all(r["step"] == 0 for r in training)
    assert all(r["train_loss"] > 0 and 0 <= r["val_accuracy"] <= 1 for r in training)
    nmc = [j for j in manifest["jobs"] if j["strategy"] == "nmc"]
    assert json.loads((folder / nmc[0]["id"] / "metrics.json").read_text())["training"] == []
    assert (folder / "training.png").read_bytes().startswith(b"\x89PNG")


def test_best_mean_is_bold_in_the_markdown(project):
    folder = project / "results" / "pub"
    table = pd.read_csv(folder / "leaderboard.csv")
    best = table.loc[table["last_accuracy_mean"].idxmax(), "strategy"]
    row = next(line for line in (folder / "leaderboard.md").read_text().splitlines() if line.startswith(f"| cil | {best} |"))
    assert "**" in row


def test_publish_writes_sections_and_claims_from_the_folder(project, capsys):
    os.chdir(project)
    try:
        assert main(["publish", "README.md", "--claims", "docs/claims.md"]) == 0
        text = (project / "README.md").read_text()
        assert text.startswith("# Title\n\nHand-written intro.\n\n<!-- results: boards/pub.yaml -->\n")
        assert text.endswith("<!-- /results -->\n\nHand-written notes.\n") and "old text" not in text
        assert "Protocol (boards/pub.yaml): A digits board: NMC and FeTrIL, two seeds." in text
        assert "`owlbench run boards/pub.yaml` — 4 of 4 jobs done, seeds 0, 1;" in text
        table = pd.read_csv(project / "results" / "pub" / "leaderboard.csv")
        nmc = table[table["strategy"] == "nmc"].iloc[0]
        assert f"{100 * nmc['last_accuracy_mean']:.1f}" in text  # the number comes from the results
        assert "results/pub/training.png" in text
        claims = (project / "docs" / "claims.md").read_text()
        assert "| FeTrIL beats NMC | a paper |" in claims and "`owlbench run boards/pub.yaml`" in claims
        assert main(["publish", "README.md"]) == 0
        assert (project / "README.md").read_text() == text  # from the same folder: the same text
    finally:
        os.chdir(os.path.dirname(__file__))


@pytest.mark.parametrize(
    "readme, message",
    [
        ("<!-- results: boards/missing.yaml -->\n<!-- /results -->\n", "not a board YAML"),
        ("<!-- results: ../outside.yaml -->\n<!-- /results -->\n", "not a board YAML"),
        ("no markers here\n", "no '<!-- results"),
    ],
)
def test_publish_errors_exit_2_and_leave_the_document(tmp_path, capsys, readme, message):
    doc = tmp_path / "README.md"
    doc.write_text(readme)
    assert main(["publish", str(doc)]) == 2
    assert message in capsys.readouterr().err and doc.read_text() == readme


def test_publish_before_the_board_ran_says_which_command_to_run(tmp_path, capsys):
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({**BOARD, "output": str(tmp_path / "nothing")}))
    doc = tmp_path / "README.md"
    doc.write_text("<!-- results: b.yaml -->\n<!-- /results -->\n")
    assert main(["publish", str(doc)]) == 2
    assert "owlbench run b.yaml" in capsys.readouterr().err


def test_keep_missing_leaves_unrun_sections_and_writes_the_others(project, capsys):
    (project / "boards" / "later.yaml").write_text("# Not run yet.\n" + yaml.safe_dump({**BOARD, "name": "later"}))
    doc = project / "TWO.md"
    pending = "<!-- results: boards/later.yaml -->\npending\n<!-- /results -->\n"
    doc.write_text("<!-- results: boards/pub.yaml -->\n<!-- /results -->\n" + pending)
    assert main(["publish", str(doc)]) == 2
    assert "owlbench run boards/later.yaml" in capsys.readouterr().err
    assert main(["publish", str(doc), "--keep-missing", "--claims", str(project / "c.md")]) == 0
    text = doc.read_text()
    assert text.endswith(pending) and "4 of 4 jobs done" in text
    assert "- `later`: not run yet (`owlbench run boards/later.yaml`)" in (project / "c.md").read_text()
    assert "1 kept (not run yet)" in capsys.readouterr().out
