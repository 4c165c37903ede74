"""The synthetic Gaussian classes: shapes, seeding, the prefix property, and classes NMC can tell apart."""

import torch

from harness.datasets.gaussian import GaussianParams
from harness.datasets.loading import load_dataset


def _load(**kw):
    return load_dataset("gaussian-classes", GaussianParams(**kw))


def test_shapes_labels_and_seed():
    data = _load(num_classes=5000, dim=16, train_per_class=3, test_per_class=2)
    assert data.train_x.shape == (15000, 16) and data.test_x.shape == (10000, 16)
    assert data.train_counts().tolist() == [3] * 5000 and data.num_classes == 5000
    again = _load(num_classes=5000, dim=16, train_per_class=3, test_per_class=2)
    assert torch.equal(data.train_x, again.train_x) and torch.equal(data.test_x, again.test_x)
    other = _load(num_classes=5000, dim=16, train_per_class=3, test_per_class=2, seed=1)
    assert not torch.equal(data.train_x, other.train_x)


def test_a_larger_board_holds_the_classes_of_a_smaller_one():
    small, large = _load(num_classes=10, dim=8), _load(num_classes=9000, dim=8)
    assert torch.equal(large.train_x[: len(small.train_x)], small.train_x)
    assert torch.equal(large.test_x[: len(small.test_x)], small.test_x)


def test_default_classes_are_separable_by_their_means():
    data = _load(num_classes=200)
    means = data.train_x.view(200, 10, -1).mean(1)
    accuracy = (torch.cdist(data.test_x, means).argmin(1) == data.test_y).double().mean()
    assert accuracy > 0.9


def test_test_classes_keeps_the_test_samples_of_evenly_spread_classes():
    full, kept = _load(num_classes=1000, dim=8, test_per_class=2), _load(num_classes=1000, dim=8, test_per_class=2, test_classes=10)
    assert sorted(set(kept.test_y.tolist())) == list(range(0, 1000, 100)) and len(kept.test_y) == 20
    assert torch.equal(kept.train_x, full.train_x)
    assert torch.equal(kept.test_x, full.test_x[torch.isin(full.test_y, torch.arange(0, 1000, 100))])
