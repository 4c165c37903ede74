"""Fashion-MNIST (70,000 grey 28×28 images, 10 classes) read with torchvision's ``FashionMNIST``.

Offline source: the Debian package ``dataset-fashion-mnist`` puts the original gzip IDX files in
``/usr/share/datasets/fashion-mnist/`` (``$OWLBENCH_FASHION_MNIST_DIR`` or ``source_dir`` point
elsewhere).  They are decompressed once into ``<cache_dir>/FashionMNIST/raw/`` (``cache_dir``
defaults to the data folder, ``$OWLBENCH_DATA_DIR`` or ``~/.cache/owlbench/data``; written to a
temporary name, then renamed), where torchvision reads them.  With ``download: true`` and no local files, torchvision's own downloader fills that
folder instead (for machines with internet access).

``max_per_class`` / ``max_test_per_class`` keep a seeded random subset of each class (drawn with
``subsample_seed``, fixed across run seeds) so that CPU runs stay short; null keeps everything.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from harness.io import atomic_write_bytes
from harness.api.dataset import Dataset, DatasetSource
from harness.datasets.paths import data_dir
from harness.datasets.splits import cap_per_class
from harness.api.params import Params
from harness.api.registry import DATASETS

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
DEBIAN_PACKAGE = "dataset-fashion-mnist"
ENV_SOURCE = "OWLBENCH_FASHION_MNIST_DIR"
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class FashionMNISTParams(Params):
    source_dir: str | None = Field(
        None, description="folder holding the four gzip IDX files (default: $OWLBENCH_FASHION_MNIST_DIR, else the Debian folder)"
    )
    cache_dir: str | None = Field(None, description="where FashionMNIST/raw/ is prepared (default: the data folder)")
    download: bool = Field(False, description="let torchvision download the files when they are not found locally")
    max_per_class: int | None = Field(None, ge=1, description="keep at most this many training images per class")
    max_test_per_class: int | None = Field(None, ge=1, description="keep at most this many test images per class")
    subsample_seed: int = Field(0, ge=0, description="seed of the per-class subsampling (fixed across run seeds)")


def prepare_raw_folder(source_dir: Path, cache_dir: Path) -> Path:
    """Decompress the gzip IDX files of ``source_dir`` into ``cache_dir/FashionMNIST/raw``; return ``cache_dir``."""
    raw = cache_dir / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        target = raw / name
        if target.is_file():
            continue
        with gzip.open(source_dir / f"{name}.gz", "rb") as src:
            atomic_write_bytes(target, src.read())
    return cache_dir


subsample_per_class = cap_per_class  # the name this dataset's options and tests use


def official_splits(params: FashionMNISTParams) -> tuple[list[tuple[torch.Tensor, np.ndarray]], tuple[str, ...]]:
    """The official train and test splits (uint8 ``N×28×28`` images, int64 labels) and the class
    names, read by torchvision from the raw folder (prepared from the local files, or downloaded)."""
    from torchvision.datasets import FashionMNIST as TorchvisionFashionMNIST

    source = Path(params.source_dir or os.environ.get(ENV_SOURCE) or DEBIAN_DIR).expanduser()
    cache = data_dir(params.cache_dir)
    have_source = all((source / f"{n}.gz").is_file() for n in FILES)
    if have_source:
        prepare_raw_folder(source, cache)
    elif not params.download:
        raise FileNotFoundError(
            f"Fashion-MNIST files not found in {str(source)!r}: install the Debian package {DEBIAN_PACKAGE} "
            f"(apt-get install {DEBIAN_PACKAGE}), give source_dir, or set download: true"
        )
    splits = []
    for train in (True, False):
        ds = TorchvisionFashionMNIST(str(cache), train=train, download=params.download and not have_source)
        splits.append((ds.data, ds.targets.numpy().astype(np.int64)))
    return splits, tuple(ds.classes)


@DATASETS.register("fashion-mnist")
class FashionMNIST(DatasetSource):
    """Fashion-MNIST: 70,000 grey 28×28 images of clothing, 10 classes.

    Images scaled to [0, 1] as ``1×28×28`` tensors; the official 60k/10k train/test split."""

    Params = FashionMNISTParams

    def load(self, params: FashionMNISTParams) -> Dataset:
        splits, classes = official_splits(params)
        parts = []
        for (images, y), limit, stream in zip(splits, (params.max_per_class, params.max_test_per_class), (0, 1)):
            keep = cap_per_class(y, limit, params.subsample_seed * 2 + stream)
            x = images[torch.from_numpy(keep)].float().div_(255.0).unsqueeze(1)
            parts.append((x, torch.from_numpy(y[keep])))
        (train_x, train_y), (test_x, test_y) = parts
        return Dataset("fashion-mnist", train_x, train_y, test_x, test_y, classes)
