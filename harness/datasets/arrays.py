"""``arrays``: a user's own feature vectors (or any arrays), read from ``.npz``, ``.npy``,
``.safetensors``, Parquet or CSV, so that features extracted elsewhere (CLIP, DINO, one's own
network) go on a board without a dataset plugin.

- ``.npz`` / ``.safetensors``: one file holds the features (key ``features_key``, default ``x``) and
  the labels (``labels_key``, default ``y``);
- ``.npy``: the features alone; the labels come from ``train_labels`` / ``test_labels`` (``.npy``);
- Parquet / CSV: one row per sample, the labels in ``label_column`` (default ``label``), the features
  in ``feature_columns`` (default: every other column, all numeric).

Give ``test`` for a split of one's own, or leave it out: the ``train`` file is then split, stratified
and seeded by ``split_seed``.  Labels are integers ``0..K-1`` (named by ``class_names`` when given) or
any integers or strings (numbered in sorted order, named by their values).  Parquet needs pyarrow
(``pip install 'owlbench[tables]'``).  Example board entry::

    dataset: {name: arrays, train: feats/train.npz, test: feats/test.npz}
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from harness.api.dataset import Dataset, DatasetSource
from harness.api.params import Params
from harness.api.registry import DATASETS
from harness.datasets.user_files import checked_file, label_codes, split_once

SUFFIXES = (".npz", ".npy", ".safetensors", ".parquet", ".csv")
MAX_DIMS = 4


class ArraysParams(Params):
    train: str = Field(..., description="file of the training samples (.npz, .npy, .safetensors, .parquet or .csv)")
    test: str | None = Field(None, description="file of the test samples, in the same format; null: split 'train'")
    train_labels: str | None = Field(None, description="labels of 'train' as a 1-D .npy (only with a .npy 'train')")
    test_labels: str | None = Field(None, description="labels of 'test' as a 1-D .npy (only with a .npy 'test')")
    features_key: str = Field("x", min_length=1, description="array of the features in .npz / .safetensors files")
    labels_key: str = Field("y", min_length=1, description="array of the labels in .npz / .safetensors files")
    label_column: str = Field("label", min_length=1, description="column of the labels in Parquet / CSV files")
    feature_columns: list[str] | None = Field(None, min_length=1, description="columns of the features; default: every column but the label")
    class_names: list[str] | None = Field(None, min_length=1, description="names of classes 0..K-1 (integer labels only)")
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="share of each class held out when there is no 'test' file")
    split_seed: int = Field(0, ge=0, description="seed of that split (fixed across run seeds)")
    standardize: bool = Field(False, description="subtract the training mean and divide by the training std, per feature")
    name: str = Field("arrays", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="the dataset's name in results")


def _keyed(path, key_field: str, key: str, labels_field: str, labels_key: str) -> tuple[np.ndarray, np.ndarray]:
    if path.suffix.lower() == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {k: archive[k] for k in archive.files}
        except ValueError as exc:  # object arrays need pickle, which is refused
            raise ValueError(f"{path}: cannot read it without pickle ({exc}); save plain numeric arrays") from None
    else:
        from safetensors.numpy import load_file

        arrays = load_file(str(path))
    for field, name in ((key_field, key), (labels_field, labels_key)):
        if name not in arrays:
            raise ValueError(f"{path}: no array {name!r} ({field}); it holds {', '.join(sorted(arrays)) or 'none'}")
    return arrays[key], arrays[labels_key]


def _table(path, params: ArraysParams) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    if path.suffix.lower() == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except ImportError:
            raise ValueError(f"{path}: reading Parquet needs pyarrow: pip install 'owlbench[tables]'") from None
    else:
        frame = pd.read_csv(path)
    if params.label_column not in frame.columns:
        raise ValueError(f"{path}: no column {params.label_column!r} (label_column); columns: {', '.join(map(str, frame.columns[:10]))}")
    columns = params.feature_columns or [c for c in frame.columns if c != params.label_column]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: no column {missing[0]!r} (feature_columns)")
    if not columns:
        raise ValueError(f"{path}: no feature column besides {params.label_column!r}")
    text = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if text:
        raise ValueError(f"{path}: feature column {text[0]!r} is not numeric; list the numeric ones in feature_columns")
    labels = frame[params.label_column]
    if labels.isna().any():
        raise ValueError(f"{path}: column {params.label_column!r} has {int(labels.isna().sum())} missing labels")
    return frame[columns].to_numpy(), labels.to_numpy()


def read_split(file: str, labels_file: str | None, params: ArraysParams, split: str) -> tuple[np.ndarray, np.ndarray, str]:
    """Features, raw labels and a name for messages, from one split's file(s)."""
    path = checked_file(file, split, SUFFIXES)
    suffix = path.suffix.lower()
    labels_field = f"{split}_labels"
    if suffix == ".npy":
        if labels_file is None:
            raise ValueError(f"{split}: a .npy file holds the features alone; give {labels_field}: a 1-D .npy of labels")
        x = np.load(path, allow_pickle=False)
        y = np.load(checked_file(labels_file, labels_field, (".npy",)), allow_pickle=False)
    elif labels_file is not None:
        raise ValueError(f"{labels_field}: only for a .npy {split} file; {path.name} holds its labels")
    elif suffix in (".npz", ".safetensors"):
        x, y = _keyed(path, "features_key", params.features_key, "labels_key", params.labels_key)
    else:
        x, y = _table(path, params)
    return _checked_features(x, str(path)), y, str(path)


def _checked_features(x: np.ndarray, where: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise ValueError(f"{where}: features must be numeric; got dtype {x.dtype}")
    if not 2 <= x.ndim <= MAX_DIMS:
        raise ValueError(f"{where}: features must have shape (samples, features...) with 2 to {MAX_DIMS} dimensions; got {x.shape}")
    x = x.astype(np.float32)
    bad = ~np.isfinite(x)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise ValueError(f"{where}: {int(bad.sum())} non-finite feature values (NaN or infinite), the first in sample {row}")
    return x


@DATASETS.register("arrays")
class Arrays(DatasetSource):
    """A user's own arrays (features and labels) from .npz, .npy, .safetensors, Parquet or CSV files."""

    Params = ArraysParams

    def load(self, params: ArraysParams) -> Dataset:
        x, raw, where = read_split(params.train, params.train_labels, params, "train")
        if len(raw) != len(x):
            raise ValueError(f"{where}: {len(x)} feature rows but {len(raw)} labels")
        y, names, keys = label_codes(raw, where, params.class_names)
        if params.test is None:
            if params.test_labels is not None:
                raise ValueError("test_labels: given without a 'test' file")
            train_idx, test_idx = split_once(y, params.test_fraction, params.split_seed, where)
            x_tr, y_tr, x_te, y_te = x[train_idx], y[train_idx], x[test_idx], y[test_idx]
        else:
            x_te, raw_te, where_te = read_split(params.test, params.test_labels, params, "test")
            if len(raw_te) != len(x_te):
                raise ValueError(f"{where_te}: {len(x_te)} feature rows but {len(raw_te)} labels")
            if x_te.shape[1:] != x.shape[1:]:
                raise ValueError(f"{where_te}: test features have shape {x_te.shape[1:]} per sample, training ones {x.shape[1:]}")
            y_te, _, _ = label_codes(raw_te, where_te, known=keys)
            x_tr, y_tr = x, y
        if params.standardize:
            mean, std = x_tr.mean(0), x_tr.std(0)
            std = np.where(std > 0, std, 1.0)
            x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
        as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
        return Dataset(params.name, as_tensor(x_tr.astype(np.float32)), as_tensor(y_tr), as_tensor(x_te.astype(np.float32)), as_tensor(y_te), names)
