"""scikit-learn's bundled digits: 1,797 grey 8×8 images of 10 classes; needs no download."""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from harness.api.dataset import Dataset, DatasetSource
from harness.api.params import Params
from harness.api.registry import DATASETS
from harness.datasets.splits import stratified_split


class DigitsParams(Params):
    test_fraction: float = Field(0.3, gt=0.0, lt=1.0, description="share of each class held out for testing")
    split_seed: int = Field(0, ge=0, description="seed of the train/test split (fixed across run seeds)")


@DATASETS.register("digits")
class Digits(DatasetSource):
    """scikit-learn's 1,797 handwritten digits, 10 classes, bundled (no download).

    Images scaled to [0, 1] as ``1×8×8`` tensors; a stratified split fixed by ``split_seed``."""

    Params = DigitsParams

    def load(self, params: DigitsParams) -> Dataset:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        x = torch.from_numpy((bunch.images / 16.0).astype(np.float32)).unsqueeze(1)
        y = torch.from_numpy(bunch.target.astype(np.int64))
        train_idx, test_idx = stratified_split(bunch.target, params.test_fraction, params.split_seed)
        return Dataset(
            name="digits",
            train_x=x[train_idx],
            train_y=y[train_idx],
            test_x=x[test_idx],
            test_y=y[test_idx],
            class_names=tuple(str(c) for c in range(10)),
        )
