"""Atomic writes: a reader sees the old file or the new one, never half of either.

Files and folders made here follow the user's umask, like any other tool's output (a temporary
file from :mod:`tempfile` is owner-only until it is given the usual mode).  Nothing is ever
deleted to make room: :func:`set_aside` renames a damaged file or folder next to where it was.
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def file_mode() -> int:
    return 0o666 & ~_umask()


def folder_mode() -> int:
    return 0o777 & ~_umask()


def make_temp_dir(parent: Path, prefix: str) -> Path:
    """A new folder in ``parent`` (made if needed) with the usual permissions."""
    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(path, folder_mode())
    return path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), file_mode())
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def dumps_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n"


def finite_json(obj: Any) -> Any:
    """``obj`` with every non-finite float written as the string ``"nan"``, ``"inf"`` or ``"-inf"``
    (for records that must be written whatever they hold, such as ``failed.json``)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    return obj


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, dumps_json(obj))


def publish_dir(staging: Path, final: Path) -> None:
    """Move a fully written staging folder into place, replacing an unfinished one."""
    if final.is_dir() and not final.is_symlink():
        shutil.rmtree(final)
    elif final.exists() or final.is_symlink():
        set_aside(final)
    os.replace(staging, final)


def set_aside(path: Path, tag: str = "damaged") -> Path:
    """Rename ``path`` to ``<name>.<tag>-N`` (the first free N) beside it; return the new path."""
    n = 1
    while (target := path.with_name(f"{path.name}.{tag}-{n}")).exists() or target.is_symlink():
        n += 1
    os.replace(path, target)
    return target
