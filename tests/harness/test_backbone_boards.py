"""Boards with a frozen backbone: config checks, features through the shared cache, cache commands."""

import json

import yaml

from harness.cli import main
from harness.backbones.feature_cache import FeatureCache
from tests.sources import needs_minilm, needs_wordnet

TINY_WORDNET = {"name": "wordnet100", "num_classes": 6, "max_per_class": 12, "test_fraction": 0.25}


def _board(tmp_path, **changes):
    board = {
        "name": "text",
        "dataset": TINY_WORDNET,
        "backbone": {"name": "minilm"},
        "scenarios": [{"kind": "cil", "base_classes": 2, "increment": 2}, {"kind": "fscil", "base_classes": 2, "ways": 2, "shots": 3}],
        "strategies": [{"name": "nmc"}],
        "seeds": [0, 1],
        "device": "cpu",
        **changes,
    }
    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump(board))
    return path


@needs_wordnet
def test_text_dataset_without_backbone_is_a_config_error(tmp_path, capsys):
    board = yaml.safe_load(_board(tmp_path).read_text())
    del board["backbone"]
    path = tmp_path / "nobackbone.yaml"
    path.write_text(yaml.safe_dump(board))
    assert main(["run", str(path), "--output", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "backbone: dataset 'wordnet100' holds text inputs" in err and "minilm" in err
    assert not (tmp_path / "out").exists()


def test_backbone_must_accept_the_dataset(tmp_path, capsys):
    path = _board(tmp_path, dataset="digits", scenarios=[{"kind": "cil", "base_classes": 4, "increment": 2}])
    assert main(["run", str(path), "--output", str(tmp_path / "out"), "--quiet"]) == 2
    assert "backbone.name: backbone 'minilm' encodes text inputs; dataset 'digits' holds tensor inputs" in capsys.readouterr().err


def test_unknown_backbone_names_the_known_ones(tmp_path, capsys):
    path = _board(tmp_path, dataset="digits", backbone={"name": "minilmm"})
    assert main(["run", str(path), "--output", str(tmp_path / "out"), "--quiet"]) == 2
    assert "backbone.name: unknown backbone 'minilmm'; did you mean 'minilm'?" in capsys.readouterr().err


@needs_wordnet
@needs_minilm
def test_text_board_computes_features_once_and_reuses_them(tmp_path, shared_cache, capsys):
    cache = FeatureCache(shared_cache)
    path = _board(tmp_path)
    before = len(cache.events())
    assert main(["run", str(path), "--output", str(tmp_path / "a"), "--quiet"]) == 0
    first = cache.events()[before:]
    # 4 jobs, 2 splits each: at most one computation per split (none if another test filled the cache)
    assert len(first) == 8 and sum(e["event"] == "miss" for e in first) <= 2
    assert main(["run", str(path), "--output", str(tmp_path / "b"), "--quiet"]) == 0
    second = cache.events()[before + 8 :]
    assert [e["event"] for e in second] == ["hit"] * 8
    a = (tmp_path / "a/text/leaderboard.csv").read_bytes()
    assert a == (tmp_path / "b/text/leaderboard.csv").read_bytes()
    job = next(p for p in (tmp_path / "a/text").iterdir() if p.is_dir())
    config = json.loads((job / "config.json").read_text())
    assert config["backbone"]["name"] == "minilm"
    metrics = json.loads((job / "metrics.json").read_text())
    assert metrics["summary"]["last_accuracy"] > 1 / 6  # better than chance on real sentence features

    capsys.readouterr()
    assert main(["cache", "list", "--dir", str(shared_cache)]) == 0
    listing = capsys.readouterr().out
    assert "wordnet100" in listing and "minilm" in listing and "train" in listing and "test" in listing


def test_cache_list_and_clear_commands(tmp_path, capsys):
    import torch

    cache = FeatureCache(tmp_path / "c")
    description = {"dataset": {"name": "toy", "params": {}}, "split": "train", "backbone": {"name": "b", "params": {}}}
    cache.get_or_compute(description, lambda: torch.zeros(5, 3))
    assert main(["cache", "list", "--dir", str(cache.root)]) == 0
    out = capsys.readouterr().out
    assert "1 entries" in out and "toy" in out and "5×3" in out
    assert main(["cache", "clear", "--dir", str(cache.root)]) == 0
    assert "removed 1 entries" in capsys.readouterr().out
    assert cache.entries() == []
