"""A plugin whose source changed after its jobs ran: the rerun says which jobs are stale and keeps
them; ``--rerun-stale`` runs them again."""

from __future__ import annotations

import importlib
import sys
import textwrap

import yaml

from harness.cli import main

PLUGIN = '''
from strategies.nmc import NMC


class PluginNMC(NMC):
    """NMC under another name, from a module outside owlbench."""
'''


def test_changed_plugin_source_is_reported_stale(tmp_path, monkeypatch, capsys):
    package = tmp_path / "plugin_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mine.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    board = {
        "name": "stale",
        "dataset": "digits",
        "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 3}],
        "strategies": [{"name": "nmc"}, {"name": "plugin_pkg.mine:PluginNMC", "label": "plugin"}],
        "seeds": [0, 1],
        "device": "cpu",
    }
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(board))
    args = ["run", str(config), "--output", str(tmp_path / "out"), "--quiet"]
    assert main(args) == 0
    capsys.readouterr()
    folder = tmp_path / "out" / "stale"
    mtimes = {p.parent.name: p.stat().st_mtime_ns for p in folder.glob("*/metrics.json")}

    assert main(args) == 0  # unchanged code: nothing is stale
    assert "stale" not in capsys.readouterr().err

    (package / "mine.py").write_text(textwrap.dedent(PLUGIN) + "\n# a change\n")
    importlib.invalidate_caches()
    assert main(args) == 0
    captured = capsys.readouterr()
    stale_lines = [line for line in captured.err.splitlines() if line.startswith("stale: ")]
    assert len(stale_lines) == 2 and all("cil/plugin/seed" in line and "strategy source changed" in line for line in stale_lines)
    assert "4 already done, 0 to run" in captured.out
    assert {p.parent.name: p.stat().st_mtime_ns for p in folder.glob("*/metrics.json")} == mtimes  # kept

    assert main([*args, "--rerun-stale"]) == 0
    assert "2 already done, 2 to run" in capsys.readouterr().out
    after = {p.parent.name: p.stat().st_mtime_ns for p in folder.glob("*/metrics.json")}
    assert sum(after[k] != v for k, v in mtimes.items()) == 2  # only the plugin's jobs ran again
    sys.modules.pop("plugin_pkg.mine", None)
    sys.modules.pop("plugin_pkg", None)
