"""Every malformed config exits with 2 and one line naming the field, and writes nothing."""

import copy
from pathlib import Path

import pytest
import yaml

from harness.cli import main

VALID = {
    "name": "board",
    "dataset": {"name": "digits"},
    "scenarios": [
        {"kind": "cil", "base_classes": 4, "increment": 2},
        {"kind": "fscil", "base_classes": 4, "ways": 2, "shots": 5},
    ],
    "strategies": [{"name": "nmc"}],
    "seeds": [0],
    "device": "cpu",
}


def _set(cfg, path, value):
    node = cfg
    for key in path[:-1]:
        node = node[key]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value


DELETE = object()

CASES = [
    # (id, edit path, value, field named in the message, a word of the hint)
    ("unknown top-level key", ("colour",), "red", "colour", "valid keys"),
    ("missing scenarios", ("scenarios",), DELETE, "scenarios", "missing"),
    ("missing dataset", ("dataset",), DELETE, "dataset", "missing"),
    ("seeds wrong type", ("seeds",), "zero", "seeds", "list"),
    ("negative seed", ("seeds",), [0, -1], "seeds", ">= 0"),
    ("duplicate seeds", ("seeds",), [1, 1], "seeds", "distinct"),
    ("bad device", ("device",), "tpu", "device", "auto, cpu"),
    ("bad board name", ("name",), "../escape", "name", "letters"),
    ("unknown dataset", ("dataset", "name"), "digitz", "dataset.name", "did you mean 'digits'"),
    ("dataset param out of range", ("dataset", "test_fraction"), 1.5, "dataset.test_fraction", "less than 1"),
    ("unknown dataset param", ("dataset", "colour"), 1, "dataset.colour", "test_fraction"),
    ("unknown scenario kind", ("scenarios", 0, "kind"), "cill", "scenarios[0].kind", "did you mean 'cil'"),
    ("scenario kind missing", ("scenarios", 0, "kind"), DELETE, "scenarios[0].kind", "missing"),
    ("unknown scenario param", ("scenarios", 0, "shots"), 5, "scenarios[0].shots", "base_classes"),
    ("increment wrong type", ("scenarios", 0, "increment"), "two", "scenarios[0].increment", "integer"),
    ("increment zero", ("scenarios", 0, "increment"), 0, "scenarios[0].increment", "greater than or equal to 1"),
    ("uneven increments", ("scenarios", 0, "increment"), 4, "scenarios[0].increment", "split evenly"),
    ("too many base classes", ("scenarios", 0, "base_classes"), 11, "scenarios[0].base_classes", "at most the 10"),
    ("more shots than samples", ("scenarios", 1, "shots"), 500, "scenarios[1].shots", "at most"),
    ("missing shots", ("scenarios", 1, "shots"), DELETE, "scenarios[1].shots", "missing"),
    ("class order out of range", ("scenarios", 0, "class_order"), [0, 1, 2, 3, 4, 5, 6, 7, 8, 12], "scenarios[0].class_order", "outside"),
    ("class order repeats", ("scenarios", 0, "class_order"), [0, 0, 1, 2, 3, 4, 5, 6, 7, 8], "scenarios[0].class_order", "twice"),
    ("unknown strategy", ("strategies", 0, "name"), "ncm", "strategies[0].name", "known: "),
    ("strategy param wrong value", ("strategies", 0, "metric"), "manhattan", "strategies[0].metric", "euclidean"),
    ("strategy param wrong type", ("strategies", 0, "normalize_means"), "maybe", "strategies[0].normalize_means", "bool"),
    ("duplicate labels", ("strategies",), [{"name": "nmc"}, {"name": "nmc"}], "strategies[1].label", "twice"),
    ("bad scenario label", ("scenarios", 0, "label"), "a b", "scenarios[0].label", "letters"),
    ("empty strategies", ("strategies",), [], "strategies", "at least 1"),
    ("scenario not a mapping", ("scenarios", 0), 42, "scenarios[0]", "mapping"),
]


def _run(tmp_path: Path, config) -> tuple[int, str, Path]:
    path = tmp_path / "board.yaml"
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    out = tmp_path / "out"
    return path, out


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_config_gives_one_line_and_exit_2(case, tmp_path, capsys):
    _, edit, value, field, hint = case
    cfg = copy.deepcopy(VALID)
    _set(cfg, edit, value)
    path, out = _run(tmp_path, cfg)
    out.mkdir()
    (out / "keep.txt").write_text("untouched")
    code = main(["run", str(path), "--output", str(out), "--quiet"])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2
    assert len(lines) == 1, lines
    assert f": {field}: " in lines[0], lines[0]
    assert hint in lines[0], lines[0]
    assert captured.out == ""
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_yaml_syntax_error_names_the_line(tmp_path, capsys):
    path, out = _run(tmp_path, "name: x\nscenarios: [\n")
    assert main(["run", str(path), "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "line" in err[0]
    assert not out.exists()


def test_missing_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_top_level_not_mapping(tmp_path, capsys):
    path, _ = _run(tmp_path, "- a\n- b\n")
    assert main(["run", str(path)]) == 2
    assert "must be a mapping" in capsys.readouterr().err


def test_strategy_supporting_none_of_the_scenarios_is_refused(tmp_path, capsys, monkeypatch):
    from strategies.nmc import NMC

    monkeypatch.setattr(NMC, "supports", frozenset({"ncd"}))
    path, out = _run(tmp_path, VALID)
    assert main(["run", str(path), "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "strategies[0].name" in err[0] and "supports none of this board's scenario kinds (cil, fscil)" in err[0]
    assert not out.exists()
