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
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from harness.datasets._fashion_idx import DEFAULT_DIR, PACKAGE
from harness.api.dataset import Dataset, DatasetSource
from harness.datasets.paths import data_dir
from harness.api.params import Params
from harness.api.registry import DATASETS

DEBIAN_DIR = str(DEFAULT_DIR)
DEBIAN_PACKAGE = PACKAGE
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
        source = source_dir / f"{name}.gz"
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=raw)
        try:
            with gzip.open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return cache_dir


def subsample_per_class(labels: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """Sorted indices keeping at most ``limit`` random samples of every class (all when ``limit`` is None)."""
    if limit is None:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    keep = [rng.permutation(np.flatnonzero(labels == c))[:limit] for c in np.unique(labels)]
    return np.sort(np.concatenate(keep))


@DATASETS.register("fashion-mnist")
class FashionMNIST(DatasetSource):
    """Images scaled to [0, 1] as ``1×28×28`` tensors; the official 60k/10k train/test split."""

    Params = FashionMNISTParams

    def load(self, params: FashionMNISTParams) -> Dataset:
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
        parts = []
        for train, limit, stream in ((True, params.max_per_class, 0), (False, params.max_test_per_class, 1)):
            ds = TorchvisionFashionMNIST(str(cache), train=train, download=params.download and not have_source)
            y = ds.targets.numpy().astype(np.int64)
            keep = subsample_per_class(y, limit, params.subsample_seed * 2 + stream)
            x = ds.data[torch.from_numpy(keep)].float().div_(255.0).unsqueeze(1)
            parts.append((x, torch.from_numpy(y[keep])))
            classes = tuple(ds.classes)
        (train_x, train_y), (test_x, test_y) = parts
        return Dataset("fashion-mnist", train_x, train_y, test_x, test_y, classes)
