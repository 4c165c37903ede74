"""The process executor under faults: a killed run leaves no process behind; a killed worker fails
only its own job; files in the working folder cannot shadow the standard library in workers."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _children() -> dict[int, int]:
    """``{pid: parent pid}`` of every process."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            out[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def _descendants(pid: int) -> set[int]:
    parents = _children()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _board(tmp_path, strategy: dict, seeds: int) -> Path:
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump({
        "name": "faults", "dataset": "digits", "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 2}],
        "strategies": [strategy], "seeds": list(range(seeds)), "device": "cpu", "executor": {"name": "process", "workers": 2},
    }))
    return config


def _owlbench(config: Path, out: Path, cwd: Path = ROOT, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(config), "--output", str(out), "--quiet"],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def test_sigkill_of_the_run_leaves_no_process_alive(tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    config = _board(tmp_path, {"name": "tests.harness.sweep_strategies:PidNMC", "label": "pid", "pid_dir": str(pids), "delay": 0.5}, 6)
    run = _owlbench(config, tmp_path / "out")
    deadline = time.monotonic() + 120
    while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(list(pids.iterdir())) >= 2, run.stderr.read() if run.poll() is not None else "no job started"
    family = _descendants(run.pid)
    assert len(family) >= 3  # the fork server and two workers (and maybe the resource tracker)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in family) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in family if _alive(p)]


def test_sigkill_of_a_worker_fails_only_its_job(tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    config = _board(tmp_path, {"name": "tests.harness.sweep_strategies:PidNMC", "label": "pid", "pid_dir": str(pids), "delay": 0.3}, 6)
    run = _owlbench(config, tmp_path / "out")
    victim = pids / "2.pid"
    deadline = time.monotonic() + 120
    while not victim.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)
    os.kill(int(victim.read_text()), signal.SIGKILL)
    out, err = run.communicate(timeout=300)
    assert run.returncode == 1, err
    failures = [line for line in err.splitlines() if line.startswith("failed: ")]
    assert len(failures) == 1 and "cil/pid/seed2" in failures[0] and "worker process died (signal SIGKILL)" in failures[0]
    with open(tmp_path / "out" / "faults" / "leaderboard.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert (row["seeds_done"], row["seeds_failed"]) == ("5", "1")


def test_working_folder_cannot_shadow_the_standard_library(tmp_path):
    # the installed command (``python -m`` would put the folder first on the main process's own path)
    command = Path(sys.executable).parent / "owlbench"
    if not command.is_file():
        pytest.skip("the owlbench command is not installed beside this Python")
    (tmp_path / "concurrent.py").write_text("raise ImportError('this file shadows the standard library')\n")
    config = _board(tmp_path, {"name": "nmc"}, 2)
    run = subprocess.run([str(command), "run", str(config), "--output", str(tmp_path / "out"), "--quiet"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "complete,2,0,2" in (tmp_path / "out" / "faults" / "leaderboard.csv").read_text()
