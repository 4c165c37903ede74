"""Checks and conversions shared by the datasets that read a user's own files (``arrays``, ``texts``).

Every problem is a ``ValueError`` whose message names the file, the field of the board and the fix;
the board check reports it as ``dataset: cannot load ...`` with exit code 2 before anything runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.datasets.splits import stratified_split


def checked_file(value: str, field: str, suffixes: tuple[str, ...]) -> Path:
    """``value`` as an existing plain file with one of ``suffixes`` (relative paths: from the current folder)."""
    path = Path(value).expanduser()
    suffix = "".join(path.suffixes[-1:]).lower()
    if suffix not in suffixes:
        raise ValueError(f"{field}: {value!r} has suffix {suffix or '(none)'!r}; give a {' / '.join(suffixes)} file")
    if not path.exists():
        raise ValueError(f"{field}: file {str(path)!r} does not exist; check the path (relative paths start from the folder owlbench runs in)")
    if not path.is_file():
        raise ValueError(f"{field}: {str(path)!r} is not a file")
    return path


def label_codes(
    values: np.ndarray, where: str, names: list[str] | None = None, known: tuple[str, ...] | None = None
) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """Integer labels ``0..K-1``, the class names and the classes' label values (as text), from
    integer labels or strings.

    Integers ``0..K-1`` are kept as they are (named by ``names`` when given); other integers and
    strings are numbered in sorted order and named by their values.  ``known`` (the training split's
    label values) maps the test split's labels to the same ids; a test label outside it is an error."""
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"{where}: labels must be one-dimensional; got shape {values.shape}")
    if values.size == 0:
        raise ValueError(f"{where}: holds no samples")
    if values.dtype.kind == "f":
        if not np.isfinite(values).all() or not np.all(values == np.round(values)):
            raise ValueError(f"{where}: labels must be integers or strings; found non-integer or missing values")
        values = values.astype(np.int64)
    if values.dtype.kind not in "iuUSO":
        raise ValueError(f"{where}: labels must be integers or strings; got dtype {values.dtype}")
    if values.dtype.kind == "O" and not all(isinstance(v, str) for v in values):
        raise ValueError(f"{where}: labels must be integers or strings; found missing or mixed values")
    if known is not None:
        index = {name: i for i, name in enumerate(known)}
        keys = [_name(v) for v in values]
        outside = sorted({k for k in keys if k not in index})
        if outside:
            raise ValueError(f"{where}: labels {', '.join(map(repr, outside[:5]))} do not occur in the training split")
        return np.array([index[k] for k in keys], dtype=np.int64), (), known
    unique = np.unique(values)
    keys = tuple(_name(u) for u in unique)
    if values.dtype.kind in "iu" and unique.min() >= 0 and unique.max() == len(unique) - 1:
        if names is not None and len(names) != len(unique):
            raise ValueError(f"{where}: {len(unique)} classes, but class_names lists {len(names)} names")
        return values.astype(np.int64), tuple(names) if names is not None else keys, keys
    if names is not None:
        raise ValueError(f"{where}: class_names needs integer labels 0..K-1; these labels name their classes themselves")
    return np.searchsorted(unique, values).astype(np.int64), keys, keys


def _name(value) -> str:
    return str(int(value)) if isinstance(value, (int, np.integer)) else str(value)


def split_once(labels: np.ndarray, test_fraction: float, seed: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """A stratified, seeded train/test split of one file's samples; every class needs two samples."""
    counts = np.bincount(labels)
    if counts.min() < 2:
        raise ValueError(f"{where}: class {int(np.argmin(counts))} has {int(counts.min())} sample; each class needs 2 to be split (or give a test file)")
    return stratified_split(labels, test_fraction, seed)
