"""Two ``owlbench run`` on one board at once: every job runs exactly once, the leaderboard is a single run's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from harness.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_two_runs_of_one_board_run_each_job_once(tmp_path):
    log = tmp_path / "runs.log"
    board = {
        "name": "twice",
        "dataset": "digits",
        "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 3}],
        "strategies": [{"name": "tests.harness.sweep_strategies:LoggingNMC", "label": "logged", "log": str(log)}],
        "seeds": [0, 1, 2, 3, 4, 5],
        "device": "cpu",
    }
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(board))
    command = [sys.executable, "-m", "harness.cli", "run", str(config), "--output", str(tmp_path / "shared"), "--quiet"]
    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = [p.communicate(timeout=300) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    assert "Traceback" not in "".join(out + err for out, err in outputs)
    assert sorted(log.read_text().split()) == ["0", "1", "2", "3", "4", "5"]  # each job ran once
    assert sum("6 already done, 0 to run" in out for out, _ in outputs) == 1  # the other run waited, then found them done
    shared = tmp_path / "shared" / "twice"
    assert not list(shared.glob(".*"))  # no staging folder left

    single_log = tmp_path / "single.log"
    single = tmp_path / "single.yaml"
    single.write_text(yaml.safe_dump({**board, "strategies": [{**board["strategies"][0], "log": str(single_log)}]}))
    assert main(["run", str(single), "--output", str(tmp_path / "alone"), "--quiet"]) == 0
    # the numbers are the same; the job ids differ (the log file's name is a parameter), and nothing else
    import pandas as pd

    together, alone = (pd.read_csv(folder / "leaderboard.csv") for folder in (shared, tmp_path / "alone" / "twice"))
    assert together.drop(columns="job_ids").equals(alone.drop(columns="job_ids"))
    assert (together["job_ids"] != alone["job_ids"]).all()
