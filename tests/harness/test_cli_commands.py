"""The command line's conveniences: --version, suggestions, plan, report, list, and the printed table's width."""

from __future__ import annotations

import re
from pathlib import Path
import shutil

import pytest
import yaml

from harness import __version__
from harness.cli import main

QUICKSTART = str(Path(__file__).resolve().parents[2] / "leaderboards" / "quickstart.yaml")
from harness.commands.listing import first_sentence

SMALL = {
    "name": "small", "dataset": "digits",
    "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 3}, {"kind": "ncd", "known_classes": 5}],
    "strategies": ["nmc", {"name": "nmc", "label": "nmc-cosine", "metric": "cosine"}], "seeds": [0, 1], "device": "cpu",
}


def _board(tmp_path, board=SMALL):
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(board))
    return str(config)


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith(f"owlbench {__version__} ")


@pytest.mark.parametrize("typed, meant", [("runn", "run"), ("rnu", "run"), ("plna", "plan"), ("reprot", "report"), ("lsit", "list")])
def test_a_mistyped_command_gets_the_closest_one(capsys, typed, meant):
    assert main([typed, "board.yaml"]) == 2
    err = capsys.readouterr().err
    assert f"did you mean {meant!r}" in err and "Traceback" not in err


def test_a_mistyped_option_gets_the_closest_one(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "board.yaml", "--rerunn"])
    assert exit_.value.code == 2 and "did you mean '--rerun'" in capsys.readouterr().err


def test_a_missing_board_file_is_not_taken_for_a_command(tmp_path, capsys):
    assert main([str(tmp_path / "nothing.yaml")]) == 2
    assert "did you mean" not in capsys.readouterr().err


def test_plan_on_the_quickstart_lists_48_jobs_and_runs_none(tmp_path, capsys):
    assert main(["plan", QUICKSTART, "--output", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if re.match(r"^  [0-9a-f]{12}  ", line)]
    assert len(rows) == 48 and all(line.rstrip().endswith("would run") for line in rows)
    assert "48 jobs: 0 done, 48 would run" in out and "nothing was run" in out
    assert not (tmp_path / "out").exists()  # nothing written


def test_plan_tells_done_would_run_and_skipped_jobs_apart(tmp_path, capsys):
    config = _board(tmp_path, {**SMALL, "strategies": ["nmc", "napa-vq"]})
    out_dir = tmp_path / "out"
    assert main(["run", config, "--output", str(out_dir), "--quiet", "--only", "nmc"]) == 0
    capsys.readouterr()
    assert main(["plan", config, "--output", str(out_dir)]) == 0
    out = capsys.readouterr().out
    states = re.findall(r"^  [0-9a-f]{12}  (\S+)\s+(\S+)\s+\d+\s+(.+?)\s*$", out, flags=re.M)
    assert sorted(set(states)) == [("cil", "napa-vq", "would run"), ("cil", "nmc", "done"), ("ncd", "nmc", "done")], states
    assert len(states) == 6  # 3 pairs × 2 seeds; napa-vq × ncd is skipped
    assert "skipped: ncd × napa-vq: strategy 'napa-vq' does not support scenario kind 'ncd'" in out
    assert "6 jobs: 4 done, 2 would run; 1 pair skipped; nothing was run" in out


def test_report_rebuilds_byte_identical_tables(tmp_path, capsys):
    config = _board(tmp_path)
    board = tmp_path / "out" / "small"
    assert main(["run", config, "--output", str(tmp_path / "out"), "--quiet"]) == 0
    names = ["leaderboard.csv", "leaderboard.md", "steps.csv", "comparisons.csv", "ranks.csv", "leaderboard.html"]
    before = {name: (board / name).read_bytes() for name in names}
    for name in names:
        (board / name).unlink()
    assert main(["report", config, "--output", str(tmp_path / "out"), "--quiet"]) == 0
    assert {name: (board / name).read_bytes() for name in names} == before


def test_report_without_results_is_one_clear_error(tmp_path, capsys):
    assert main(["report", _board(tmp_path), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "run 'owlbench run" in err[0]


def test_the_printed_table_fits_120_columns(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    config = _board(tmp_path)
    assert main(["run", config, "--output", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    table = out[out.index("\nsmall\n"):]
    assert max(len(line) for line in table.splitlines()) <= 120
    assert "last acc" in table and "clust acc All" in table  # both families, each with its own header
    assert any(len(line) > 120 for line in (tmp_path / "out" / "small" / "leaderboard.md").read_text().splitlines())  # the file keeps every column
    assert shutil.get_terminal_size().columns == 120


def test_list_prints_whole_sentences_without_markup(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "``" not in out and ":class:" not in out and ":func:" not in out
    assert max(len(line) for line in out.splitlines()) <= 100
    starts = {len(m.group(1)) for m in re.finditer(r"^  (\S+\s+)\S", out, flags=re.M)}
    from harness.cli import KINDS

    assert len(starts) <= len(KINDS)  # one description column per kind


def test_first_sentence():
    doc = "Nearest class mean: the mean of each class,\n    e.g. of its features.  More here.\n\nDetails."
    assert first_sentence(doc) == "Nearest class mean: the mean of each class, e.g. of its features."
    assert first_sentence("Reads ``x.npz`` via :class:`~harness.api.Dataset`.\n\nDetails.") == "Reads x.npz via Dataset."
    assert first_sentence(None) == ""
