"""Fashion-MNIST from the Debian package dataset-fashion-mnist (tests skip when it is not installed)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from harness.config import parse_config
from harness.datasets.fashion_mnist import DEBIAN_DIR, FashionMNIST, FashionMNISTParams, subsample_per_class
from harness.api.errors import ConfigError

needs_package = pytest.mark.skipif(
    not (Path(DEBIAN_DIR) / "train-images-idx3-ubyte.gz").is_file(),
    reason="Fashion-MNIST files absent: install the Debian package dataset-fashion-mnist",
)


@needs_package
def test_loads_subsampled_images(tmp_path):
    params = FashionMNISTParams(cache_dir=str(tmp_path), max_per_class=20, max_test_per_class=10)
    data = FashionMNIST().load(params)
    assert data.train_x.shape == (200, 1, 28, 28) and data.test_x.shape == (100, 1, 28, 28)
    assert data.train_x.dtype == torch.float32 and 0.0 <= data.train_x.min() and data.train_x.max() <= 1.0
    assert data.train_counts().tolist() == [20] * 10 and data.test_counts().tolist() == [10] * 10
    assert data.class_names[0] == "T-shirt/top" and len(data.class_names) == 10
    again = FashionMNIST().load(params)  # second load reads the prepared cache
    assert torch.equal(data.train_x, again.train_x) and torch.equal(data.test_y, again.test_y)
    assert sorted(p.name for p in (tmp_path / "FashionMNIST" / "raw").iterdir()) == [
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
    ]


@needs_package
def test_full_split_sizes(tmp_path):
    data = FashionMNIST().load(FashionMNISTParams(cache_dir=str(tmp_path)))
    assert len(data.train_x) == 60_000 and len(data.test_x) == 10_000


def test_subsampling_is_per_class_and_seeded():
    labels = np.array([0] * 5 + [1] * 2 + [2] * 9)
    keep = subsample_per_class(labels, 3, seed=1)
    assert np.bincount(labels[keep]).tolist() == [3, 2, 3]
    assert np.array_equal(keep, subsample_per_class(labels, 3, seed=1))
    assert np.array_equal(subsample_per_class(labels, None, seed=1), np.arange(16))


def test_missing_files_name_the_package(tmp_path):
    with pytest.raises(ConfigError, match="dataset-fashion-mnist") as err:
        parse_config(
            {
                "name": "f",
                "dataset": {"name": "fashion-mnist", "source_dir": str(tmp_path / "absent"), "cache_dir": str(tmp_path)},
                "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 2}],
                "strategies": ["nmc"],
            }
        )
    assert err.value.path == "dataset"
