"""``texts``: a user's own labelled texts from CSV or JSON Lines, encoded by a text backbone
(``backbone: minilm``, or any registered text backbone).

CSV: a header row, the texts in ``text_column`` (default ``text``), the labels in ``label_column``
(default ``label``).  JSON Lines: one object per line with those two fields.  Give ``test`` for a
split of one's own, or leave it out: the ``train`` file is then split, stratified and seeded by
``split_seed``.  Labels follow the rules of the ``arrays`` dataset (integers ``0..K-1`` named by
``class_names``, or any integers or strings).  Example board entry::

    dataset: {name: texts, train: reviews.csv}
    backbone: minilm
"""

from __future__ import annotations

import json

import numpy as np
import torch
from pydantic import Field

from harness.api.dataset import Dataset, DatasetSource
from harness.api.params import Params
from harness.api.registry import DATASETS
from harness.datasets.user_files import checked_file, label_codes, split_once

SUFFIXES = (".csv", ".jsonl")


class TextsParams(Params):
    train: str = Field(..., description="file of the training texts (.csv with a header, or .jsonl)")
    test: str | None = Field(None, description="file of the test texts, in the same format; null: split 'train'")
    text_column: str = Field("text", min_length=1, description="column (CSV) or field (JSON Lines) of the texts")
    label_column: str = Field("label", min_length=1, description="column (CSV) or field (JSON Lines) of the labels")
    class_names: list[str] | None = Field(None, min_length=1, description="names of classes 0..K-1 (integer labels only)")
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="share of each class held out when there is no 'test' file")
    split_seed: int = Field(0, ge=0, description="seed of that split (fixed across run seeds)")
    name: str = Field("texts", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="the dataset's name in results")


def _jsonl_rows(path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise ValueError(f"{path}: line {number} is not valid JSON") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}: line {number} holds {type(row).__name__}, not an object")
            rows.append(row)
    return rows


def read_texts(file: str, params: TextsParams, split: str) -> tuple[list[str], np.ndarray, str]:
    """Texts, raw labels and a name for messages, from one split's file."""
    import pandas as pd

    path = checked_file(file, split, SUFFIXES)
    try:
        if path.suffix.lower() == ".csv":
            frame = pd.read_csv(path, dtype={params.text_column: object}, keep_default_na=False, na_values={params.label_column: [""]})
            rows = None
        else:
            rows = _jsonl_rows(path)
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    for field, column in (("text_column", params.text_column), ("label_column", params.label_column)):
        if rows is None and column not in frame.columns:
            raise ValueError(f"{path}: no column {column!r} ({field}); columns: {', '.join(map(str, frame.columns[:10]))}")
        if rows is not None:
            lacking = next((i for i, r in enumerate(rows, 1) if column not in r), None)
            if lacking is not None:
                raise ValueError(f"{path}: object {lacking} has no field {column!r} ({field})")
    texts = list(frame[params.text_column]) if rows is None else [r[params.text_column] for r in rows]
    labels = frame[params.label_column].to_numpy() if rows is None else np.array([r[params.label_column] for r in rows], dtype=object)
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()), None)
    if bad is not None:
        raise ValueError(f"{path}: sample {bad} has an empty or non-text {params.text_column!r}")
    if rows is not None and labels.size and all(isinstance(v, int) and not isinstance(v, bool) for v in labels):
        labels = labels.astype(np.int64)
    if rows is None and pd.isna(labels).any():
        raise ValueError(f"{path}: column {params.label_column!r} has {int(pd.isna(labels).sum())} missing labels")
    return texts, labels, str(path)


@DATASETS.register("texts")
class Texts(DatasetSource):
    """A user's own labelled texts from CSV or JSON Lines (needs a text backbone)."""

    Params = TextsParams

    def load(self, params: TextsParams) -> Dataset:
        texts, raw, where = read_texts(params.train, params, "train")
        y, names, keys = label_codes(raw, where, params.class_names)
        if params.test is None:
            train_idx, test_idx = split_once(y, params.test_fraction, params.split_seed, where)
            tr_x, tr_y = tuple(texts[i] for i in train_idx), y[train_idx]
            te_x, te_y = tuple(texts[i] for i in test_idx), y[test_idx]
        else:
            te_texts, raw_te, where_te = read_texts(params.test, params, "test")
            te_y, _, _ = label_codes(raw_te, where_te, known=keys)
            tr_x, tr_y, te_x = tuple(texts), y, tuple(te_texts)
        return Dataset(params.name, tr_x, torch.from_numpy(tr_y), te_x, torch.from_numpy(te_y), names)
