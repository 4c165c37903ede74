"""Sweeps: unsupported pairs skipped and listed, job selection, failure isolation, executors."""

import csv
import json
from pathlib import Path

import yaml

from harness.cli import main
from harness.config import parse_config
from harness.sweep import expand, select, skipped

BOARD = {
    "name": "sw",
    "dataset": "digits",
    "scenarios": [
        {"kind": "cil", "base_classes": 4, "increment": 3},
        {"kind": "fscil", "base_classes": 4, "ways": 3, "shots": 5},
    ],
    "strategies": [{"name": "nmc"}, {"name": "nmc", "label": "nmc-cos", "metric": "cosine"}],
    "seeds": [0, 1],
    "device": "cpu",
}


def _write(tmp_path: Path, board: dict) -> Path:
    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump(board))
    return path


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_job_ids_are_stable_and_distinct():
    jobs = expand(parse_config(BOARD))
    assert len(jobs) == 8 and len({j.id for j in jobs}) == 8
    assert [j.id for j in jobs] == [j.id for j in expand(parse_config(BOARD))]
    assert [j.title for j in jobs[:3]] == ["cil/nmc/seed0", "cil/nmc/seed1", "cil/nmc-cos/seed0"]


def test_only_and_exclude_globs():
    jobs = expand(parse_config(BOARD))
    assert {j.strategy.label for j in select(jobs, only=["*cos"])} == {"nmc-cos"}
    assert {j.scenario.label for j in select(jobs, only=["fscil"])} == {"fscil"}
    assert [j.title for j in select(jobs, only=["cil/nmc"])] == ["cil/nmc/seed0", "cil/nmc/seed1"]
    assert {(j.scenario.label, j.strategy.label) for j in select(jobs, exclude=["fscil", "nmc-cos"])} == {("cil", "nmc")}
    assert select(jobs, only=["nothing*"]) == []


def test_unsupported_pairs_are_skipped_and_listed(tmp_path, capsys, monkeypatch):
    from strategies.nmc import NMC

    monkeypatch.setattr(NMC, "supports", frozenset({"cil"}))
    board = {**BOARD, "strategies": [{"name": "nmc"}], "seeds": [0]}
    config = parse_config(board)
    assert [(s.scenario, s.strategy) for s in skipped(config)] == [("fscil", "nmc")]
    assert [j.title for j in expand(config)] == ["cil/nmc/seed0"]

    out = tmp_path / "out"
    assert main(["run", str(_write(tmp_path, board)), "--output", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "skipped: fscil × nmc: strategy 'nmc' does not support scenario kind 'fscil' (it supports: cil)" in printed
    assert _rows(out / "sw" / "skipped.csv") == [
        {"scenario": "fscil", "strategy": "nmc", "reason": "strategy 'nmc' does not support scenario kind 'fscil' (it supports: cil)"}
    ]
    assert [r["scenario"] for r in _rows(out / "sw" / "leaderboard.csv")] == ["cil"]
    assert "Skipped (not run)" in (out / "sw" / "leaderboard.md").read_text()
    assert 'id="skipped"' in (out / "sw" / "leaderboard.html").read_text()


def test_failed_jobs_are_isolated_recorded_and_reported(tmp_path, capsys):
    board = {
        **BOARD,
        "scenarios": BOARD["scenarios"][:1],
        "strategies": [{"name": "nmc"}, {"name": "tests.harness.sweep_strategies:FlakyNMC", "label": "flaky", "fail_seeds": [1]}],
    }
    out = tmp_path / "out"
    assert main(["run", str(_write(tmp_path, board)), "--output", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "failed: cil/flaky/seed1" in err and "planned failure for seed 1" in err and "1 of 4 jobs failed" in err
    rows = {r["strategy"]: r for r in _rows(out / "sw" / "leaderboard.csv")}
    assert (rows["nmc"]["status"], rows["nmc"]["seeds_done"], rows["nmc"]["seeds_failed"]) == ("complete", "2", "0")
    assert (rows["flaky"]["status"], rows["flaky"]["seeds_done"], rows["flaky"]["seeds_failed"]) == ("failed", "1", "1")
    failed = [json.loads(p.read_text()) for p in (out / "sw").glob("*/failed.json")]
    assert len(failed) == 1 and failed[0]["status"] == "failed" and "RuntimeError" in failed[0]["traceback"]
    assert "| cil | flaky | failed | 1/2 (1 failed) |" in (out / "sw" / "leaderboard.md").read_text()
    assert '<tr class="failed">' in (out / "sw" / "leaderboard.html").read_text()

    # the failed job is tried again on the next run; the finished ones are not
    capsys.readouterr()
    assert main(["run", str(_write(tmp_path, board)), "--output", str(out), "--quiet"]) == 1
    assert "3 already done, 1 to run" in capsys.readouterr().out


def test_process_executor_gives_the_local_leaderboard(tmp_path, capsys):
    board = {**BOARD, "scenarios": BOARD["scenarios"][:1], "strategies": [{"name": "nmc"}, {"name": "tests.harness.sweep_strategies:FlakyNMC", "label": "flaky"}]}
    path = _write(tmp_path, board)
    assert main(["run", str(path), "--output", str(tmp_path / "a"), "--quiet"]) == 0
    assert main(["run", str(path), "--output", str(tmp_path / "b"), "--quiet", "--workers", "2"]) == 0
    assert "(process)" in capsys.readouterr().out
    assert (tmp_path / "a/sw/leaderboard.csv").read_bytes() == (tmp_path / "b/sw/leaderboard.csv").read_bytes()
    assert (tmp_path / "a/sw/steps.csv").read_bytes() == (tmp_path / "b/sw/steps.csv").read_bytes()


def test_executor_in_yaml_and_errors(tmp_path, capsys):
    config = parse_config({**BOARD, "executor": {"name": "process", "workers": 3}})
    assert config.executor.name == "process" and config.executor.params.workers == 3
    # the command line keeps the YAML's parameters of the same executor and overrides the rest
    over = parse_config({**BOARD, "executor": {"name": "process", "workers": 3, "start_method": "fork"}}, executor={"name": "process", "workers": 2})
    assert (over.executor.params.workers, over.executor.params.start_method) == (2, "fork")
    assert parse_config({**BOARD, "executor": "process"}, executor={"name": "local"}).executor.name == "local"

    path = _write(tmp_path, {**BOARD, "executor": {"name": "process", "workers": 0}})
    assert main(["run", str(path), "--output", str(tmp_path / "o")]) == 2
    assert "executor.workers: " in capsys.readouterr().err
    assert main(["run", str(_write(tmp_path, BOARD)), "--executor", "slurm", "--output", str(tmp_path / "o")]) == 2
    assert "executor.name: unknown executor 'slurm'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_only_runs_the_selected_jobs_and_reports_the_whole_board(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(_write(tmp_path, BOARD)), "--output", str(out), "--quiet", "--only", "cil/*", "--exclude", "*cos"]) == 0
    assert "8 jobs, 6 filtered out, 0 already done, 2 to run" in capsys.readouterr().out
    rows = _rows(out / "sw" / "leaderboard.csv")
    assert [(r["scenario"], r["strategy"], r["status"]) for r in rows] == [
        ("cil", "nmc", "complete"),
        ("cil", "nmc-cos", "pending"),
        ("fscil", "nmc", "pending"),
        ("fscil", "nmc-cos", "pending"),
    ]


def test_rerun_runs_finished_jobs_again(tmp_path, capsys):
    board = {**BOARD, "scenarios": BOARD["scenarios"][:1], "strategies": [{"name": "nmc"}]}
    path, out = _write(tmp_path, board), tmp_path / "out"
    assert main(["run", str(path), "--output", str(out), "--quiet"]) == 0
    first = (out / "sw" / "leaderboard.csv").read_bytes()
    marker = next((out / "sw").glob("*/done"))
    stamp = marker.stat().st_mtime_ns
    capsys.readouterr()
    assert main(["run", str(path), "--output", str(out), "--quiet", "--rerun"]) == 0
    assert "2 jobs, 0 already done, 2 to run" in capsys.readouterr().out
    assert marker.stat().st_mtime_ns != stamp
    assert (out / "sw" / "leaderboard.csv").read_bytes() == first
