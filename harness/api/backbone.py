"""The interface of a frozen backbone, and checksums of its weights (part of the feature-cache key)."""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import Any, ClassVar

import torch

from harness.api.params import Params

CHUNK = 1 << 20


class Backbone:
    """A frozen encoder: turns a dataset's inputs into feature vectors.

    A subclass declares ``Params``, ``modality`` (``text`` or ``image``: what it accepts) and
    implements :meth:`fingerprint` (cheap, never loads the model: the weights checksum and the input
    transform, both part of the feature-cache key) and :meth:`encode`.  The model itself is built on
    the first :meth:`encode`, so a cache hit never loads it.
    """

    Params: ClassVar[type[Params]] = Params
    modality: ClassVar[str] = ""
    registered_name: ClassVar[str] = ""
    pretrained_on: ClassVar[str] = "not declared by the backbone"  # the data its weights were trained on (scenario cards)

    def __init__(self, params: Params):
        self.params = params

    def fingerprint(self) -> dict[str, Any]:  # pragma: no cover - interface
        raise NotImplementedError

    def encode(self, inputs: Any, device: torch.device) -> torch.Tensor:  # pragma: no cover - interface
        """Features of ``inputs`` as an ``N×D`` float32 CPU tensor, in input order."""
        raise NotImplementedError


@functools.lru_cache(maxsize=64)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, remembered per (path, size, mtime) within the process."""
    stat = os.stat(path)
    return _file_sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


def folder_sha256(folder: Path) -> str:
    """SHA-256 over the relative paths and checksums of every file below ``folder`` (sorted)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(folder).as_posix()}\0{file_sha256(path)}\n".encode())
    return digest.hexdigest()


def batches(n: int, size: int):
    """``(start, stop)`` bounds of consecutive batches covering ``range(n)``."""
    for start in range(0, n, size):
        yield start, min(n, start + size)
