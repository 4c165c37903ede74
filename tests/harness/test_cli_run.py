"""The quickstart board end to end: outputs, resume, byte-identical leaderboard."""

import json
import shutil
from pathlib import Path

from harness.cli import main
from harness.config import load_config
from harness.sweep import expand

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_runs_resumes_and_is_reproducible(tmp_path, capsys):
    out = tmp_path / "results"
    assert main(["run", str(ROOT / "leaderboards/quickstart.yaml"), "--output", str(out), "--quiet"]) == 0
    board = out / "quickstart"
    jobs = [p for p in board.iterdir() if p.is_dir()]
    n_jobs = len(expand(load_config(ROOT / "leaderboards/quickstart.yaml")))
    assert len(jobs) == n_jobs
    for job in jobs:
        assert sorted(p.name for p in job.iterdir()) == ["config.json", "done", "metrics.json", "predictions.npz", "steps.csv"]
        config = json.loads((job / "config.json").read_text())
        assert sorted(config["class_order"]) == list(range(10))
        assert config["versions"]["torch"]
    for name in ("leaderboard.csv", "leaderboard.md", "accuracy.png"):
        assert (board / name).stat().st_size > 0
    # the open-world scenarios appear in the CSV and the markdown table with their clustering metrics
    import pandas as pd

    table = pd.read_csv(board / "leaderboard.csv")
    assert list(table["kind"].unique()) == ["cil", "fscil", "ncd", "cgcd"]
    open_world = table[table["kind"].isin(["ncd", "cgcd"])]
    assert open_world["last_clustering_accuracy_mean"].between(0.3, 1.0).all()
    assert (open_world["new_classes_estimated_mean"] == open_world["new_classes_true_mean"]).all()  # number given
    assert table[table["kind"] == "cil"]["last_clustering_accuracy_mean"].isna().all()
    markdown = (board / "leaderboard.md").read_text()
    assert "clust acc All" in markdown and "| ncd | nmc |" in markdown and "| cgcd | nmc-cosine |" in markdown
    first_csv = (board / "leaderboard.csv").read_bytes()
    mtimes = {p.name: (p / "metrics.json").stat().st_mtime_ns for p in jobs}
    capsys.readouterr()

    assert main(["run", str(ROOT / "leaderboards/quickstart.yaml"), "--output", str(out), "--quiet"]) == 0
    assert f"{n_jobs} already done, 0 to run" in capsys.readouterr().out
    assert (board / "leaderboard.csv").read_bytes() == first_csv
    assert {p.name: (p / "metrics.json").stat().st_mtime_ns for p in jobs} == mtimes

    # a fresh run into another folder gives the same numbers (determinism on CPU)
    other = tmp_path / "again"
    assert main(["run", str(ROOT / "leaderboards/quickstart.yaml"), "--output", str(other), "--quiet"]) == 0
    assert (other / "quickstart" / "leaderboard.csv").read_bytes() == first_csv

    # a job without a done marker is run again
    shutil.rmtree(jobs[0])
    capsys.readouterr()
    assert main(["run", str(ROOT / "leaderboards/quickstart.yaml"), "--output", str(out), "--quiet"]) == 0
    assert f"{n_jobs - 1} already done, 1 to run" in capsys.readouterr().out
    assert (board / "leaderboard.csv").read_bytes() == first_csv


def test_list_prints_registered_names(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    for word in ("datasets:", "digits", "scenarios:", "cil", "fscil", "strategies:", "nmc"):
        assert word in out
