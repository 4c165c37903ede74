"""Third-party strategies: the example package under tests/plugin_example, by entry point and by
``package.module:Class``, with no change to owlbench; clear errors for bad plugin names."""

import csv
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from harness.api.registry import STRATEGIES
from harness.cli import main
from harness.config import parse_config
from harness.api.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "plugin_example"
BOARD = {
    "name": "plug",
    "dataset": "digits",
    "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 3}],
    "strategies": [{"name": "nmc"}],
    "seeds": [0],
    "device": "cpu",
}
INSTALLED = any(ep.name == "knn1" for ep in metadata.entry_points(group=STRATEGIES.group))


def _run(tmp_path, strategies) -> dict[str, dict]:
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump({**BOARD, "strategies": strategies}))
    assert main(["run", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    with open(tmp_path / "out/plug/leaderboard.csv", newline="") as handle:
        return {r["strategy"]: r for r in csv.DictReader(handle)}


@pytest.mark.skipif(not INSTALLED, reason="the example plugin is not installed (pip install ./tests/plugin_example)")
def test_installed_plugin_runs_by_entry_point_name(tmp_path, capsys):
    rows = _run(tmp_path, [{"name": "nmc"}, {"name": "knn1"}, {"name": "knn1", "label": "knn1-cos", "metric": "cosine"}])
    assert {k: r["status"] for k, r in rows.items()} == {"nmc": "complete", "knn1": "complete", "knn1-cos": "complete"}
    # 1-NN on digits is far better than the class means (about 98 % against 88 % on these 10 classes)
    assert float(rows["knn1"]["last_accuracy_mean"]) > float(rows["nmc"]["last_accuracy_mean"]) + 0.05
    capsys.readouterr()
    assert main(["list", "strategies"]) == 0
    assert "knn1" in capsys.readouterr().out


def test_class_path_from_the_example_package(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    rows = _run(tmp_path, [{"name": "owlbench_example.knn:OneNearestNeighbour"}])
    assert rows["onenearestneighbour"]["status"] == "complete"
    assert float(rows["onenearestneighbour"]["last_accuracy_mean"]) > 0.95


def test_entry_point_is_loaded_lazily_and_registered(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    fake = metadata.EntryPoint(name="knn-fake", value="owlbench_example.knn:OneNearestNeighbour", group=STRATEGIES.group)
    monkeypatch.setattr(STRATEGIES, "_entry_points", lambda: {"knn-fake": fake})
    monkeypatch.setattr(STRATEGIES, "_entries", dict(STRATEGIES._entries))
    config = parse_config({**BOARD, "strategies": ["knn-fake"]})
    assert config.strategies[0].label == "knn-fake"
    assert STRATEGIES.get("knn-fake").__name__ == "OneNearestNeighbour"


@pytest.mark.parametrize(
    "name, words",
    [
        ("os.path:join", "not a subclass of harness.api.strategy.Strategy"),
        ("no_such_module_xyz:Thing", "cannot import module 'no_such_module_xyz'"),
        ("strategies.nmc:Missing", "has no attribute 'Missing'"),
        ("../evil:Thing", "not of the form package.module:Class"),
        ("strategies.nmc:NMC.__init__", "not of the form"),
        ("knn-unknown", "unknown strategy 'knn-unknown'"),
    ],
)
def test_bad_plugin_names_give_one_clear_error(name, words):
    with pytest.raises(ConfigError) as info:
        parse_config({**BOARD, "strategies": [name]})
    assert info.value.path == "strategies[0].name" and words in info.value.message


def test_broken_entry_point_is_reported(monkeypatch, capsys):
    broken = metadata.EntryPoint(name="broken", value="no_such_module_xyz.mod:Cls", group=STRATEGIES.group)
    monkeypatch.setattr(STRATEGIES, "_entry_points", lambda: {"broken": broken})
    with pytest.raises(ConfigError) as info:
        parse_config({**BOARD, "strategies": ["broken"]})
    assert "entry point 'broken'" in info.value.message and "failed to load" in info.value.message
    assert main(["list", "strategies"]) == 0
    assert "warning: entry point 'broken'" in capsys.readouterr().err
