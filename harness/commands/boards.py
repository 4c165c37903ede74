"""What the commands that read a board's results share: its config, and a board folder that has run."""

from __future__ import annotations

import sys

from harness.api.errors import ConfigError


def ran_board(config_path: str, output: str | None):
    """The board's config when its folder holds a run's ``board.json``; else ``None``, after one
    ``error:`` line on stderr (the caller exits with 2)."""
    from harness.config import load_config
    from harness.jobs import MANIFEST

    try:
        config = load_config(config_path, output=output)
    except ConfigError as exc:
        print(f"error: {config_path}: {exc}", file=sys.stderr)
        return None
    if not (config.board_dir / MANIFEST).is_file():
        print(f"error: {config_path}: output: {config.board_dir} holds no {MANIFEST}; run 'owlbench run {config_path}' first", file=sys.stderr)
        return None
    return config
