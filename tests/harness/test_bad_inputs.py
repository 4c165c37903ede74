"""Nothing a user can put on disk makes owlbench crash or lose work.

Each case gives one malformed input and checks: the exit code (2 for input errors, 0 where the harness
recovers, 1 where one job fails and the board completes), exactly one message line naming the file
or field, no traceback, and nothing overwritten or lost (the output folder is compared before and
after; a damaged job folder is moved aside intact and the recovered ``leaderboard.csv`` equals a
clean run's byte for byte).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
import yaml

from harness.cli import main

BOARD = {
    "name": "bad",
    "dataset": "digits",
    "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 3}],
    "strategies": [{"name": "nmc"}],
    "seeds": [0, 1],
    "device": "cpu",
}


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every file below ``folder`` with its bytes (folders as ``None``)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def _run(args: list[str], capsys) -> tuple[int, list[str], str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, [line for line in captured.err.splitlines() if line.strip()], captured.out


def _assert_one_error(code: int, err: list[str], *words: str) -> None:
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert "Traceback" not in err[0] and len(err[0]) < 700
    for word in words:
        assert word in err[0], err[0]


# ---------------------------------------------------------------------------- config bytes and YAML
BILLION_LAUGHS = "\n".join(
    ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
    + ["name: *i", "dataset: digits", "scenarios: [{kind: cil, base_classes: 4, increment: 3}]", "strategies: [nmc]"]
)
WIDE_ALIASES = "\n".join(
    ["x: &x [" + ", ".join(["v"] * 3000) + "]", "y: &y [" + ", ".join(["*x"] * 90) + "]"]
    + ["name: bad", "dataset: digits", "scenarios: [{kind: cil, base_classes: 4, increment: 3, grid: {shuffle: *y}}]", "strategies: [nmc]"]
)

RAW_CASES = [
    # (id, file bytes, words the one error line must hold)
    ("not UTF-8", b"name: caf\xe9\n", ("not UTF-8", "byte 9")),
    ("UTF-16 with BOM", "name: bad\n".encode("utf-16"), ("not UTF-8", "byte 0")),
    ("billion laughs", BILLION_LAUGHS.encode(), ("aliases",)),
    ("few aliases expanding widely", WIDE_ALIASES.encode(), ("expands to more than",)),
    ("duplicate key", yaml.safe_dump(BOARD).encode() + b"seeds: [3]\n", ("'seeds' appears twice", "lines")),
    ("duplicate nested key", b"name: bad\ndataset: {name: digits, name: digits}\n", ("'name' appears twice",)),
    ("over a MiB", b"name: " + b"x" * (1 << 20) + b"\n", ("at most 1,048,576",)),
    ("YAML syntax", b"name: [unclosed\n", ("YAML syntax error", "line")),
    ("a list, not a mapping", b"- name: bad\n", ("must be a mapping",)),
    ("empty file", b"", ("must be a mapping",)),
    ("unhashable key", b"? [1, 2]\n: 3\n", ("YAML syntax error",)),
    ("nested too deeply", b"name: " + b"[" * 5000 + b"]" * 5000 + b"\n", ("nested too deeply",)),
    ("integer of 5000 digits", b"name: bad\nseeds: [" + b"9" * 5000 + b"]\n", ("cannot be read",)),
    ("control bytes", b"name: \x00\x01bad\n", ("YAML",)),
]


@pytest.mark.parametrize("blob, words", [c[1:] for c in RAW_CASES], ids=[c[0] for c in RAW_CASES])
def test_config_bytes_give_one_error_and_write_nothing(tmp_path, capsys, blob, words):
    config = tmp_path / "board.yaml"
    config.write_bytes(blob)
    out = tmp_path / "out"
    started = time.perf_counter()
    code, err, _ = _run(["run", str(config), "--output", str(out), "--quiet"], capsys)
    assert time.perf_counter() - started < 20
    _assert_one_error(code, err, "board.yaml", *words)
    assert not out.exists()


EDIT_CASES = [
    # (id, top-level or nested edits, field named, a word of the message)
    ("seed given as true", {"seeds": [True]}, "seeds[0]", "integer"),
    ("seed of 2^70", {"seeds": [2**70]}, "seeds", "at most 4294967295"),
    ("seed as float", {"seeds": [1.5]}, "seeds[0]", "integer"),
    ("boolean for a count", {"scenarios": [{"kind": "cil", "base_classes": True, "increment": 3}]}, "scenarios[0].base_classes", "boolean"),
    ("boolean for a fraction", {"dataset": {"name": "digits", "test_fraction": True}}, "dataset.test_fraction", "boolean"),
    ("grid of 10^8", {"strategies": [{"name": "nmc", "grid": {"normalize_features": [True, False], "metric": ["cosine", "euclidean"],
                                                                  "label_smoothing_unused": list(range(10**4)), "x": list(range(10**4))}}]},
     "strategies[0].grid", "combinations"),
    ("more jobs than max_jobs", {"seeds": list(range(30)), "max_jobs": 20}, "max_jobs", "jobs"),
    ("a 100 KB board name", {"name": "b" * 100_000}, "name", "more characters"),
    ("CUDA on a machine without it", {"device": "cuda:0"}, "device", "CUDA"),
    ("a config folder as output", {"output": "{tmp}/board.yaml"}, "output", "is a file"),
]


@pytest.mark.parametrize("edits, field, word", [c[1:] for c in EDIT_CASES], ids=[c[0] for c in EDIT_CASES])
def test_config_values_give_one_error_and_write_nothing(tmp_path, capsys, edits, field, word):
    if edits.get("device", "").startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA")
    board = {**BOARD, **json.loads(json.dumps(edits).replace("{tmp}", str(tmp_path)))}
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(board))
    before = _snapshot(tmp_path)
    args = ["run", str(config), "--quiet"] + ([] if "output" in edits else ["--output", str(tmp_path / "out")])
    code, err, _ = _run(args, capsys)
    _assert_one_error(code, err, f"{field}:", word)
    assert _snapshot(tmp_path) == before


# ---------------------------------------------------------------------------- command line and paths
def _good_config(tmp_path) -> Path:
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(BOARD))
    return config


def test_config_that_is_a_folder(tmp_path, capsys):
    (tmp_path / "folder.yaml").mkdir()
    code, err, _ = _run(["run", str(tmp_path / "folder.yaml"), "--quiet"], capsys)
    _assert_one_error(code, err, "is a folder")


def test_config_that_does_not_exist(tmp_path, capsys):
    code, err, _ = _run(["run", str(tmp_path / "absent.yaml"), "--quiet"], capsys)
    _assert_one_error(code, err, "does not exist")


@pytest.mark.parametrize("where", ["file", "below-a-file"])
def test_output_through_a_file(tmp_path, capsys, where):
    config = _good_config(tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_text("keep me")
    output = blocker if where == "file" else blocker / "deeper" / "still"
    code, err, _ = _run(["run", str(config), "--output", str(output), "--quiet"], capsys)
    _assert_one_error(code, err, "output:", "is a file")
    assert blocker.read_text() == "keep me"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write anywhere")
def test_output_folder_not_writable(tmp_path, capsys):
    config = _good_config(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code, err, _ = _run(["run", str(config), "--output", str(locked), "--quiet"], capsys)
    finally:
        locked.chmod(0o755)
    _assert_one_error(code, err, "output:", "cannot write")


@pytest.mark.parametrize("name", ["leaderboard.csv", "leaderboard.html", "board.json", "accuracy.png"])
def test_report_file_taken_by_a_folder(tmp_path, capsys, name):
    config = _good_config(tmp_path)
    board = tmp_path / "out" / "bad"
    (board / name).mkdir(parents=True)
    (board / name / "precious.txt").write_text("mine")
    before = _snapshot(tmp_path / "out")
    code, err, _ = _run(["run", str(config), "--output", str(tmp_path / "out"), "--quiet"], capsys)
    _assert_one_error(code, err, "output:", name, "in the way")
    assert _snapshot(tmp_path / "out") == before


# ---------------------------------------------------------------------------- damaged results folders
def _damage_metrics(content: bytes):
    def damage(folder: Path) -> None:
        (folder / "metrics.json").write_bytes(content)

    return damage


def _remove(name: str):
    def damage(folder: Path) -> None:
        (folder / name).unlink()

    return damage


def _replace_by_folder(name: str):
    def damage(folder: Path) -> None:
        (folder / name).unlink()
        (folder / name).mkdir()

    return damage


def _folder_becomes_file(folder: Path) -> None:
    shutil.rmtree(folder)
    folder.write_text("not a job folder")


def _emptied(folder: Path) -> None:
    for p in folder.iterdir():
        p.unlink()


def _garbage_config(folder: Path) -> None:
    (folder / "config.json").write_bytes(b"\x89PNG")


DAMAGE = [
    ("truncated metrics", _damage_metrics(b'{"summary": {"last_accuracy": 0.9')),
    ("empty metrics", _damage_metrics(b"")),
    ("null metrics", _damage_metrics(b"null")),
    ("empty object metrics", _damage_metrics(b"{}")),
    ("binary metrics", _damage_metrics(bytes(range(256)))),
    ("metrics of the wrong shape", _damage_metrics(b'{"summary": [], "steps": {}}')),
    ("done marker without metrics", _remove("metrics.json")),
    ("metrics.json is a folder", _replace_by_folder("metrics.json")),
    ("done marker is a folder", _replace_by_folder("done")),
    ("job folder replaced by a file", _folder_becomes_file),
    ("job folder emptied", _emptied),
    ("unreadable config.json", _garbage_config),
]


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    """A finished board and its leaderboard.csv."""
    root = tmp_path_factory.mktemp("clean")
    config = _good_config(root)
    assert main(["run", str(config), "--output", str(root / "out"), "--quiet"]) == 0
    return root / "out" / "bad", (root / "out" / "bad" / "leaderboard.csv").read_bytes()


@pytest.mark.parametrize("damage", [d[1] for d in DAMAGE], ids=[d[0] for d in DAMAGE])
def test_damaged_job_folder_is_set_aside_and_rerun(tmp_path, capsys, clean_run, damage):
    board, expected_csv = clean_run
    out = tmp_path / "out"
    shutil.copytree(board, out / "bad")
    job_id = sorted(p.name for p in (out / "bad").iterdir() if p.is_dir())[0]
    damage(out / "bad" / job_id)
    damaged = _snapshot(out / "bad" / job_id) if (out / "bad" / job_id).is_dir() else (out / "bad" / job_id).read_bytes()
    config = _good_config(tmp_path)
    code, err, printed = _run(["run", str(config), "--output", str(out), "--quiet"], capsys)
    assert code == 0, err
    assert len(err) == 1 and err[0].startswith("damaged: ") and job_id in err[0] and "Traceback" not in err[0]
    assert "1 to run" in printed
    aside = out / "bad" / f"{job_id}.damaged-1"
    assert (_snapshot(aside) if aside.is_dir() else aside.read_bytes()) == damaged  # kept intact
    assert (out / "bad" / "leaderboard.csv").read_bytes() == expected_csv


def test_failed_record_that_does_not_parse_is_set_aside(tmp_path, capsys, clean_run):
    board, expected_csv = clean_run
    out = tmp_path / "out"
    shutil.copytree(board, out / "bad")
    job_id = sorted(p.name for p in (out / "bad").iterdir() if p.is_dir())[0]
    folder = out / "bad" / job_id
    shutil.rmtree(folder)
    folder.mkdir()
    (folder / "failed.json").write_bytes(b"[1, 2")
    code, err, _ = _run(["run", str(_good_config(tmp_path)), "--output", str(out), "--quiet"], capsys)
    assert code == 0 and len(err) == 1 and "failed.json does not parse" in err[0]
    assert (out / "bad" / f"{job_id}.damaged-1" / "failed.json").read_bytes() == b"[1, 2"
    assert (out / "bad" / "leaderboard.csv").read_bytes() == expected_csv


# ---------------------------------------------------------------------------- predictions
FAULTS = ["nan-logits", "inf-logits", "nan-score", "short-logits", "unseen-class", "float-classes"]


@pytest.mark.parametrize("fault", FAULTS)
def test_bad_predictions_fail_only_their_job(tmp_path, capsys, fault):
    board = {**BOARD, "strategies": [{"name": "nmc"}, {"name": "tests.harness.sweep_strategies:BrokenNMC", "label": "broken", "fault": fault}]}
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(board))
    code, err, _ = _run(["run", str(config), "--output", str(tmp_path / "out"), "--quiet"], capsys)
    assert code == 1
    failures = [line for line in err if line.startswith("failed: ")]
    assert len(failures) == 2 and all("strategy 'broken' at step 1" in line for line in failures)
    assert "Traceback" not in "\n".join(err)
    records = [json.loads(p.read_text()) for p in (tmp_path / "out" / "bad").glob("*/failed.json")]
    assert len(records) == 2 and all("InvalidPrediction" in r["error"] for r in records)
    csv_text = (tmp_path / "out" / "bad" / "leaderboard.csv").read_text()
    assert "cil,cil,nmc,complete,2,0,2" in csv_text and "cil,cil,broken,failed,0,2,2" in csv_text


def test_failed_records_encode_non_finite_numbers():
    from harness.io import dumps_json, finite_json

    text = dumps_json(finite_json({"a": float("nan"), "b": [float("inf"), -float("inf"), 1.5], "c": "x"}))
    assert json.loads(text) == {"a": "nan", "b": ["inf", "-inf", 1.5], "c": "x"}


def test_a_record_that_cannot_be_written_fails_only_its_job(tmp_path):
    from harness.executors.base import Outcome, record_outcome
    from harness.jobs import FAILED_FILE
    from harness.sweep import expand
    from harness.config import parse_config

    job = expand(parse_config({**BOARD, "seeds": [0]}))[0]
    record = {"config": {}, "metrics": {"summary": {"last_accuracy": float("nan")}, "steps": []}, "wall_time_s": 1.0}
    outcome = record_outcome(Outcome(job, record), tmp_path)
    assert not outcome.ok and "could not be written" in outcome.error
    failed = json.loads((tmp_path / job.id / FAILED_FILE).read_text())
    assert failed["status"] == "failed" and "nan" in failed["error"].lower()
    assert sorted(p.name for p in tmp_path.iterdir()) == [job.id]  # no staging folder left


# ---------------------------------------------------------------------------- --set overrides
SET_CASES = [
    ("no equals sign", "seeds", "--set", "expected key=value"),
    ("not a path", "strategies..x=1", "--set", "not a dotted path"),
    ("index past the end", "strategies[5].metric=cosine", "--set strategies[5].metric", "no entry [5]"),
    ("value not YAML", "seeds=[0, 1", "--set seeds", "not valid YAML"),
    ("typed like the file", "seeds=true", "seeds", "list"),
    ("unknown parameter", "strategies[0].colour=red", "strategies[0].colour", "unknown key"),
]


@pytest.mark.parametrize("assignment, field, word", [c[1:] for c in SET_CASES], ids=[c[0] for c in SET_CASES])
def test_bad_overrides_give_one_error(tmp_path, capsys, assignment, field, word):
    config = _good_config(tmp_path)
    code, err, _ = _run(["run", str(config), "--output", str(tmp_path / "out"), "--quiet", "--set", assignment], capsys)
    _assert_one_error(code, err, f"{field}:", word)
    assert not (tmp_path / "out").exists()


def test_overrides_reach_the_jobs_and_are_recorded(tmp_path, capsys):
    board = {**BOARD, "strategies": ["nmc"]}
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(board))
    sets = ["strategies[0].metric=cosine", "seeds=[4]", "scenarios[0].increment=2"]
    args = ["run", str(config), "--output", str(tmp_path / "out"), "--quiet"]
    assert main([*args, *[x for s in sets for x in ("--set", s)]]) == 0
    (config_json,) = list((tmp_path / "out" / "bad").glob("*/config.json"))
    record = json.loads(config_json.read_text())
    assert record["overrides"] == sets and record["seed"] == 4
    assert record["strategy"]["params"]["metric"] == "cosine" and record["scenario"]["params"]["increment"] == 2
