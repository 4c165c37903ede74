"""Starting the ``process`` executor's fork server early, while the command line is still busy.

The server imports :mod:`harness.executors._worker_warmup` (torch and the rest, a few seconds) in its own
process.  Started before the board is parsed, that import runs alongside the command line's own
imports instead of after them; the pool later connects to the same server.  Nothing heavy is
imported here: the standard library and the board's YAML reader (no torch).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from pathlib import Path
from typing import Any

WORKER_PRELOAD = ["harness.executors._worker_warmup"]


@contextlib.contextmanager
def safe_path():
    """New Python processes started meanwhile do not put the working folder first on their path
    (``PYTHONSAFEPATH``), so a file such as ``concurrent.py`` there cannot shadow the standard
    library in the fork server or the workers; they get this process's path from multiprocessing."""
    old = os.environ.get("PYTHONSAFEPATH")
    os.environ["PYTHONSAFEPATH"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTHONSAFEPATH", None)
        else:
            os.environ["PYTHONSAFEPATH"] = old


def start(context: Any = None) -> None:
    """Start the fork server now (no-op when it runs); it preloads :data:`WORKER_PRELOAD`."""
    context = context or multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WORKER_PRELOAD)
    from multiprocessing import forkserver

    with safe_path():
        forkserver.ensure_running()


def board_uses_forkserver(config_path: str | Path, override: dict | None) -> bool:
    """Best guess, from the raw YAML and the command line's executor override, whether the run will
    use the ``process`` executor with fork-server workers.  Errors are left to the config check."""
    from harness.config import executor_entry, read_yaml

    try:
        board = read_yaml(Path(config_path))
    except Exception:  # noqa: BLE001 - unreadable or malformed: the config check reports it
        return False
    entry = executor_entry(board.get("executor", "local") if isinstance(board, dict) else None, override)
    return entry.get("name") == "process" and entry.get("start_method", "forkserver") == "forkserver"
