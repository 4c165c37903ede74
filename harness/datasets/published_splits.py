"""Published few-shot class-incremental splits: one index list per session (the CEC/TEEN format).

``harness/datasets/splits_data/fscil/<split>/<dataset>/session_<t>.txt`` lists the training samples of
session ``t`` (1 = base), one per line: an integer index into the training set, or a relative
image path.  Paths are matched against the dataset's ``train_ids``, exactly or by file name (the
miniImageNet lists name ``MINI-ImageNet/train/<wnid>/<file>`` while the images sit in one folder).
"""

from __future__ import annotations

from importlib import resources

import numpy as np

from harness.api.dataset import Dataset
from harness.api.errors import ConfigError

SPLITS = ("cec",)


def _folder(split: str):
    return resources.files("harness.datasets").joinpath("splits_data", "fscil", split)


def available(split: str) -> list[str]:
    return sorted(p.name for p in _folder(split).iterdir() if p.is_dir())


def session_lists(split: str, dataset: str) -> list[list[str]]:
    """The lines of each session file, in session order."""
    if dataset not in available(split):
        raise ConfigError("split", f"split {split!r} has session lists for {', '.join(available(split))}; not for dataset {dataset!r}")
    folder = _folder(split).joinpath(dataset)
    count = sum(1 for p in folder.iterdir() if p.name.startswith("session_"))
    return [[line.strip() for line in folder.joinpath(f"session_{t}.txt").read_text().splitlines() if line.strip()] for t in range(1, count + 1)]


def resolve_indices(entries: list[str], data: Dataset) -> np.ndarray:
    """Positions in ``data``'s training set of the listed samples."""
    n = len(data.train_y)
    if data.train_ids is None:
        try:
            idx = np.array([int(e) for e in entries], dtype=np.int64)
        except ValueError:
            raise ConfigError("split", f"dataset {data.name!r} has no sample ids to match paths such as {entries[0]!r}") from None
        if idx.min() < 0 or idx.max() >= n:
            raise ConfigError("split", f"index {int(idx.max())} is outside the {n} training samples of {data.name!r}")
        return idx
    exact = {sample_id: i for i, sample_id in enumerate(data.train_ids)}
    by_name = {sample_id.rsplit("/", 1)[-1]: i for i, sample_id in enumerate(data.train_ids)}
    out = []
    for entry in entries:
        i = exact.get(entry, by_name.get(entry.rsplit("/", 1)[-1]))
        if i is None:
            raise ConfigError("split", f"listed sample {entry!r} is not in the training set of {data.name!r}")
        out.append(i)
    return np.array(out, dtype=np.int64)


def sessions(split: str, data: Dataset) -> list[tuple[np.ndarray, list[int]]]:
    """Per session: training indices and the dataset labels it introduces (sorted)."""
    labels = data.train_y.numpy()
    out, seen = [], set()
    for t, entries in enumerate(session_lists(split, data.name), start=1):
        idx = resolve_indices(entries, data)
        classes = sorted(set(int(c) for c in labels[idx]))
        if seen & set(classes):
            raise ConfigError("split", f"session {t} of {split!r} repeats classes of earlier sessions on {data.name!r}")
        seen |= set(classes)
        out.append((np.sort(idx), classes))
    return out


def split_files(split: str, dataset: str) -> dict[str, bytes]:
    """``{name: content}`` of the session files of ``split`` for ``dataset`` (empty when there are none),
    named ``<split>/<dataset>/session_<t>.txt`` (for provenance hashes)."""
    if dataset not in available(split):
        return {}
    folder = _folder(split).joinpath(dataset)
    return {f"{split}/{dataset}/{p.name}": p.read_bytes() for p in sorted(folder.iterdir(), key=lambda p: p.name) if p.name.startswith("session_")}
