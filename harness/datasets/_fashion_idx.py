"""Fashion-MNIST's gzip IDX files from Debian's ``dataset-fashion-mnist`` as numpy arrays (a small
reader used by the MNIST family; the registered Fashion-MNIST dataset lives in its own module)."""

from __future__ import annotations

import functools
import gzip
import os
from pathlib import Path

import numpy as np

PACKAGE = "dataset-fashion-mnist"
DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")


def read_idx(path: Path) -> np.ndarray:
    """An IDX file: magic ``0 0 dtype ndim``, big-endian uint32 sizes, then the values (uint8 here)."""
    with gzip.open(path, "rb") as handle:
        blob = handle.read()
    if blob[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = blob[3]
    shape = tuple(int.from_bytes(blob[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(blob, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: {data.size} values for shape {shape}")
    return data.reshape(shape)


@functools.lru_cache(maxsize=1)
def fashion_idx_arrays() -> tuple[np.ndarray, np.ndarray]:
    folder = Path(os.environ.get("OWLBENCH_FASHION_MNIST_DIR", DEFAULT_DIR))
    if not (folder / "train-images-idx3-ubyte.gz").is_file():
        raise FileNotFoundError(f"Fashion-MNIST files not found in {folder}; install the Debian package '{PACKAGE}'")
    images = [read_idx(folder / f"{s}-images-idx3-ubyte.gz") for s in ("train", "t10k")]
    labels = [read_idx(folder / f"{s}-labels-idx1-ubyte.gz") for s in ("train", "t10k")]
    return np.concatenate(images), np.concatenate(labels).astype(np.int64)
