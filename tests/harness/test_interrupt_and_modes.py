"""Ctrl-C ends a run within seconds with one line (and a rerun resumes); results follow the umask."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from harness.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _board(tmp_path, executor: str, pids: Path) -> Path:
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump({
        "name": "ctrlc", "dataset": "digits", "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 2}],
        "strategies": [{"name": "tests.harness.sweep_strategies:PidNMC", "label": "pid", "pid_dir": str(pids), "delay": 0.4}],
        "seeds": list(range(6)), "device": "cpu", "executor": executor,
    }))
    return config


@pytest.mark.parametrize("executor", ["local", "process"])
def test_ctrl_c_ends_the_run_with_one_line(tmp_path, executor):
    pids = tmp_path / "pids"
    pids.mkdir()
    config = _board(tmp_path, executor, pids)
    run = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", str(config), "--output", str(tmp_path / "out"), "--quiet"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        # a shell's background jobs inherit SIGINT ignored, and Python then never raises KeyboardInterrupt
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not list(pids.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    os.killpg(run.pid, signal.SIGINT)  # what a terminal sends to the whole foreground group
    started = time.monotonic()
    out, err = run.communicate(timeout=60)
    assert time.monotonic() - started < 15
    assert run.returncode == 130, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("interrupted")]
    assert len(lines) == 1 and "run the same command again to resume" in lines[0]
    assert main(["run", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 0  # resumes


def test_results_follow_the_umask(tmp_path):
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump({
        "name": "modes", "dataset": "digits", "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 3}],
        "strategies": ["nmc"], "seeds": [0], "device": "cpu",
    }))
    old = os.umask(0o022)
    try:
        from harness import io

        io._umask.cache_clear()
        assert main(["run", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    finally:
        os.umask(old)
        io._umask.cache_clear()
    board = tmp_path / "out" / "modes"
    modes = {p.relative_to(board).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in board.rglob("*")}
    assert modes and all(mode == (0o755 if (board / name).is_dir() else 0o644) for name, mode in modes.items()), modes
