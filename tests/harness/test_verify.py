"""``owlbench verify``: passes on an untouched board; a changed dataset file, a changed published split
file and a changed config are each reported in one line."""

from __future__ import annotations

import shutil

import numpy as np
import yaml

from harness.cli import main
from harness.datasets import published_splits
from tests.sources import needs_minilm


def _arrays_board(tmp_path) -> dict:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(6), 10)
    np.savez(tmp_path / "feats.npz", x=(rng.normal(size=(60, 4)) + y[:, None]).astype(np.float32), y=y)
    return {
        "name": "audit", "dataset": {"name": "arrays", "train": str(tmp_path / "feats.npz")},
        "scenarios": [{"kind": "cil", "base_classes": 2, "increment": 2}], "strategies": ["nmc"], "seeds": [0, 1], "device": "cpu",
    }


def _run(tmp_path, board) -> str:
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(board))
    assert main(["run", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    return str(config)


def _verify(config, tmp_path, capsys) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = main(["verify", config, "--output", str(tmp_path / "out")])
    return code, capsys.readouterr().out.strip().splitlines()


def test_an_untouched_board_verifies(tmp_path, capsys):
    config = _run(tmp_path, _arrays_board(tmp_path))
    code, lines = _verify(config, tmp_path, capsys)
    assert code == 0 and lines == ["audit: verified 2 finished jobs and every row of leaderboard.csv; nothing changed"]


def test_a_changed_dataset_file_is_one_line(tmp_path, capsys):
    board = _arrays_board(tmp_path)
    config = _run(tmp_path, board)
    with np.load(tmp_path / "feats.npz") as old:
        x, y = old["x"], old["y"]
    np.savez(tmp_path / "feats.npz", x=x + 1e-3, y=y)  # the same shape, other values
    code, lines = _verify(config, tmp_path, capsys)
    assert code == 1
    files = [line for line in lines if line.startswith("file ")]
    assert len(files) == 1 and "feats.npz' changed" in files[0] and "[2 jobs:" in files[0]
    assert any("the train split as loaded changed" in line for line in lines)  # the loaded data, too


def test_a_changed_config_is_one_line(tmp_path, capsys):
    board = _arrays_board(tmp_path)
    config = _run(tmp_path, board)
    board["strategies"] = [{"name": "nmc", "metric": "cosine"}]
    (tmp_path / "board.yaml").write_text(yaml.safe_dump(board))
    code, lines = _verify(config, tmp_path, capsys)
    assert code == 1 and len(lines) == 1
    assert lines[0].startswith('config changed: strategy.params.metric: "euclidean" -> "cosine" [2 jobs:'), lines


def test_a_changed_published_split_file_is_one_line(tmp_path, capsys, monkeypatch):
    copy = tmp_path / "splits"
    shutil.copytree(published_splits._folder("cec").parent, copy / "fscil")
    monkeypatch.setattr(published_splits, "_folder", lambda split: copy / "fscil" / split)
    board = {
        "name": "split", "dataset": "digits",
        "scenarios": [{"kind": "fscil", "split": "cec", "base_classes": 4, "ways": 2, "shots": 5}],
        "strategies": ["nmc"], "seeds": [0], "device": "cpu",
    }
    from harness.datasets.loading import load_dataset
    from harness.datasets.digits import DigitsParams

    labels = load_dataset("digits", DigitsParams()).train_y.numpy()
    sessions = [np.flatnonzero(labels < 4)] + [np.concatenate([np.flatnonzero(labels == c)[:5] for c in pair]) for pair in ((4, 5), (6, 7))]
    (copy / "fscil" / "cec" / "digits").mkdir()
    for t, idx in enumerate(sessions, start=1):  # a split of our own for digits, in the published layout
        (copy / "fscil" / "cec" / "digits" / f"session_{t}.txt").write_text("".join(f"{i}\n" for i in idx))
    config = _run(tmp_path, board)
    assert _verify(config, tmp_path, capsys)[0] == 0
    session = copy / "fscil" / "cec" / "digits" / "session_1.txt"
    session.write_text(session.read_text() + "\n")  # the same samples; the file's bytes differ
    code, lines = _verify(config, tmp_path, capsys)
    assert code == 1 and len(lines) == 1 and lines[0].startswith("file 'cec/digits/session_1.txt' changed"), lines


@needs_minilm
def test_provenance_holds_the_backbone_fingerprint():
    from harness.provenance import backbone_fingerprint

    fingerprint = backbone_fingerprint({"backbone": {"name": "minilm", "label": "minilm", "params": {}}})
    assert len(fingerprint["weights_sha256"]) == 64 and fingerprint["transform"]["pooling"] == "mean"
    assert backbone_fingerprint({"dataset": {}}) is None
