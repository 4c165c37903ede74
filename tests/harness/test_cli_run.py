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
        assert sorted(p.name for p in job.iterdir()) == ["config.json", "done", "metrics.json", "steps.csv"]
        config = json.loads((job / "config.json").read_text())
        assert sorted(config["class_order"]) == list(range(10))
        assert config["versions"]["torch"]
    for name in ("leaderboard.csv", "leaderboard.md", "accuracy.png"):
        assert (board / name).stat().st_size > 0
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
