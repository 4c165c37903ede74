"""Where offline data lives: ``$OWLBENCH_DATA_DIR``, else ``$XDG_CACHE_HOME/owlbench/data``
(``~/.cache/owlbench/data``); a dataset's ``root`` parameter overrides it."""

from __future__ import annotations

import os
from pathlib import Path

ENV_DATA = "OWLBENCH_DATA_DIR"


def data_dir(root: str | None = None) -> Path:
    if root:
        return Path(root).expanduser()
    if os.environ.get(ENV_DATA):
        return Path(os.environ[ENV_DATA]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "owlbench" / "data"
