"""Save and load a prototype store as safetensors (tensors plus string metadata, no pickle)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from harness.io import atomic_write_bytes

FORMAT = "owlbench.prototype_store"
VERSION = "1"
REQUIRED = ("class_ids", "proto_class", "proto_slot", "counts", "means")


def write(path: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Write atomically (through :func:`harness.io.atomic_write_bytes`)."""
    from safetensors.torch import save

    data = save(
        {k: v.detach().contiguous().cpu() for k, v in tensors.items()},
        metadata={"format": FORMAT, "version": VERSION, "meta": json.dumps(meta)},
    )
    atomic_write_bytes(Path(path), data)


def read(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and metadata of a store file; any problem is a ``ValueError`` naming the file."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such prototype store file")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types for truncated or garbled files
        raise ValueError(f"{path}: not a readable prototype store file ({type(e).__name__}: {e})") from None
    if header.get("format") != FORMAT:
        raise ValueError(f"{path}: not a prototype store file (format {header.get('format')!r})")
    if header.get("version") != VERSION:
        raise ValueError(f"{path}: prototype store format version {header.get('version')!r}, expected {VERSION}")
    try:
        meta = json.loads(header["meta"])
    except (KeyError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: corrupt prototype store metadata ({e})") from None
    missing = [k for k in REQUIRED if k not in tensors]
    if missing:
        raise ValueError(f"{path}: prototype store file lacks tensors {missing}")
    return tensors, meta
