"""A sweep killed with SIGKILL midway resumes: finished jobs are kept, the leaderboard is the same."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from harness.cli import main

ROOT = Path(__file__).resolve().parents[2]
BOARD = {
    "name": "killme",
    "dataset": "digits",
    "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 2}],
    # 4 steps × 0.15 s: each job takes about 0.6 s, so the sweep can be killed between jobs
    "strategies": [{"name": "tests.harness.sweep_strategies:SlowNMC", "label": "slow", "delay": 0.15}],
    "seeds": [0, 1, 2, 3, 4, 5],
    "device": "cpu",
}


def _done(board: Path) -> dict[str, int]:
    """Finished jobs: folder name -> modification time of its metrics."""
    return {p.parent.name: (p.parent / "metrics.json").stat().st_mtime_ns for p in board.glob("*/done")}


def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path, capsys):
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(BOARD))
    board = tmp_path / "killed" / "killme"
    command = [sys.executable, "-m", "harness.cli", "run", str(config), "--output", str(tmp_path / "killed"), "--quiet"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(_done(board)) < 2 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    before = _done(board)
    assert 2 <= len(before) < 6, f"the sweep was not interrupted midway: {len(before)} jobs done"
    assert not (board / "leaderboard.csv").exists()

    assert main(["run", str(config), "--output", str(tmp_path / "killed"), "--quiet"]) == 0
    assert f"{len(before)} already done, {6 - len(before)} to run" in capsys.readouterr().out
    after = _done(board)
    assert len(after) == 6
    assert {k: after[k] for k in before} == before  # finished jobs were not run again
    assert not list(board.glob(".*"))  # no staging folder of the killed job is left

    assert main(["run", str(config), "--output", str(tmp_path / "whole"), "--quiet"]) == 0
    resumed = (board / "leaderboard.csv").read_bytes()
    assert resumed == (tmp_path / "whole" / "killme" / "leaderboard.csv").read_bytes()
    assert b"complete,6,0,6" in resumed
