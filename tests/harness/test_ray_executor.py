"""The ray executor on a real local Ray runtime (2 CPUs) gives the leaderboard of the local executor,
failed jobs included."""

import importlib.util

import pytest
import yaml

from harness.cli import main

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="ray is not installed (pip install 'owlbench[ray]')"
)

BOARD = {
    "name": "rayboard",
    "dataset": "digits",
    "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 3}],
    "strategies": [
        {"name": "nmc"},
        # a strategy named by module path: the Ray workers must import the driver's code
        {"name": "tests.harness.sweep_strategies:SlowNMC", "label": "slow", "metric": "cosine"},
        {"name": "tests.harness.sweep_strategies:FlakyNMC", "label": "flaky", "fail_seeds": [0]},
    ],
    "seeds": [0, 1],
    "device": "cpu",
}


def test_ray_matches_local_and_isolates_failures(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump({**BOARD, "executor": {"name": "ray", "num_cpus": 2, "cpus_per_job": 1}}))
    assert main(["run", str(config), "--output", str(tmp_path / "ray"), "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "6 to run (ray)" in captured.out
    assert "failed: cil/flaky/seed0" in captured.err and "planned failure for seed 0" in captured.err
    assert main(["run", str(config), "--output", str(tmp_path / "local"), "--quiet", "--executor", "local"]) == 1
    for name in ("leaderboard.csv", "steps.csv"):
        assert (tmp_path / "ray/rayboard" / name).read_bytes() == (tmp_path / "local/rayboard" / name).read_bytes()
    table = (tmp_path / "ray/rayboard/leaderboard.csv").read_text()
    assert "cil,cil,nmc,complete,2,0,2" in table and "cil,cil,slow,complete,2,0,2" in table
    assert "cil,cil,flaky,failed,1,1,2" in table
