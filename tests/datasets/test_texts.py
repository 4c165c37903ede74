"""The ``texts`` dataset on CSV and JSON Lines files the tests write, and one bad file per kind of problem."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from harness.cli import main
from harness.datasets.texts import Texts, TextsParams
from tests.sources import needs_minilm

TOPICS = {"fruit": ["apple", "pear", "plum", "cherry", "mango", "grape"], "tool": ["hammer", "saw", "drill", "wrench", "chisel", "pliers"],
          "animal": ["horse", "otter", "eagle", "tiger", "whale", "mouse"], "vehicle": ["truck", "bicycle", "tram", "canoe", "scooter", "bus"]}


def _rows():
    return [{"text": f"a {word} is a kind of {topic}", "label": topic} for topic, words in TOPICS.items() for word in words]


def _write(path, rows, fmt):
    if fmt == "csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_both_formats_read_the_same_texts(tmp_path, fmt):
    rows = _rows()
    data = Texts().load(TextsParams(train=_write(tmp_path / f"train.{fmt}", rows, fmt), test=_write(tmp_path / f"test.{fmt}", rows[::-1], fmt)))
    assert data.modality == "text" and data.class_names == tuple(sorted(TOPICS))
    assert data.train_x == tuple(r["text"] for r in rows)
    assert [data.class_names[i] for i in data.test_y.tolist()] == [r["label"] for r in rows[::-1]]


def test_one_file_is_split_and_integer_labels_take_names(tmp_path):
    rows = [{"text": r["text"], "label": sorted(TOPICS).index(r["label"])} for r in _rows()]
    path = _write(tmp_path / "all.jsonl", rows, "jsonl")
    data = Texts().load(TextsParams(train=path, test_fraction=0.34, class_names=sorted(TOPICS)))
    assert len(data.test_x) == 8 and len(data.train_x) == 16 and data.class_names == tuple(sorted(TOPICS))
    assert Texts().load(TextsParams(train=path, test_fraction=0.34)).test_x == data.test_x  # seeded


@pytest.mark.parametrize(
    "case, needle",
    [
        ("missing column", "no column 'text' (text_column)"),
        ("missing field", "object 2 has no field 'label' (label_column)"),
        ("empty text", "sample 1 has an empty or non-text 'text'"),
        ("bad json", "line 2 is not valid JSON"),
        ("not an object", "line 1 holds list, not an object"),
        ("not utf-8", "not UTF-8"),
        ("missing label", "missing labels"),
        ("unknown test label", "do not occur in the training split"),
        ("wrong suffix", "give a .csv / .jsonl file"),
    ],
)
def test_each_problem_gets_one_clear_error(tmp_path, case, needle):
    good = _write(tmp_path / "good.csv", _rows(), "csv")
    bad = tmp_path / ("bad.jsonl" if case in ("missing field", "bad json", "not an object") else "bad.txt" if case == "wrong suffix" else "bad.csv")
    if case == "missing column":
        pd.DataFrame({"sentence": ["a", "b"], "label": [0, 1]}).to_csv(bad, index=False)
    elif case == "missing field":
        bad.write_text('{"text": "a", "label": 0}\n{"text": "b"}\n')
    elif case == "empty text":
        pd.DataFrame({"text": ["a", " ", "c"], "label": [0, 1, 1]}).to_csv(bad, index=False)
    elif case == "bad json":
        bad.write_text('{"text": "a", "label": 0}\n{"text": "b", label: 1}\n')
    elif case == "not an object":
        bad.write_text('["a", 0]\n')
    elif case == "not utf-8":
        bad.write_bytes("text,label\ncaf\u00e9,0\n".encode("latin-1"))
    elif case == "missing label":
        bad.write_text("text,label\na,0\nb,\n")
    elif case == "wrong suffix":
        bad.write_text("a\n")
    params = {"train": good, "test": _write(bad, [{"text": "a zebra", "label": "zebra"}], "csv")} if case == "unknown test label" else {"train": str(bad)}
    with pytest.raises(ValueError) as caught:
        Texts().load(TextsParams(**params))
    assert needle in str(caught.value), str(caught.value)


def _board(tmp_path, **extra) -> dict:
    return {
        "name": "own-texts", "dataset": {"name": "texts", "train": _write(tmp_path / "train.csv", _rows(), "csv"), "test_fraction": 0.34},
        "scenarios": [{"kind": "cil", "base_classes": 2, "increment": 1}], "strategies": ["nmc"], "seeds": [0], "device": "cpu", **extra,
    }


def test_texts_without_a_text_backbone_is_a_config_error(tmp_path, capsys):
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(_board(tmp_path)))
    assert main(["run", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 2
    assert "backbone" in capsys.readouterr().err


@needs_minilm
def test_a_board_on_texts_runs_with_minilm(tmp_path):
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(_board(tmp_path, backbone="minilm")))
    assert main(["run", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    table = pd.read_csv(tmp_path / "out" / "own-texts" / "leaderboard.csv")
    assert table.loc[0, "last_accuracy_mean"] > 0.5  # four well separated topics
