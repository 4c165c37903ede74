"""Image datasets kept on disk as files (loaded by an image backbone): CUB-200-2011, miniImageNet
(the few-shot class-incremental layout), ImageNet-R and a generic class-per-folder layout.

Layouts under ``root``:

- ``cub200``: ``CUB_200_2011/{images.txt, image_class_labels.txt, train_test_split.txt, classes.txt,
  images/<class>/<file>.jpg}`` (the official release; its own train/test split).  Sample ids are
  ``CUB_200_2011/images/<class>/<file>.jpg``.
- ``mini-imagenet``: ``miniimagenet/images/<file>.jpg`` with ``miniimagenet/split/{train,test}.csv``
  (header, then ``filename,wnid``); sample ids are the file names.
- ``imagenet-r``: ``imagenet-r/<wnid>/<file>``; no official split: stratified, fixed by ``split_seed``.
- ``image-folder``: ``train/<class>/<file>`` and ``test/<class>/<file>``, or one folder per class
  directly under ``root`` (then split like ImageNet-R).

Classes are numbered in sorted folder (or CSV first-appearance) order.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from harness.api.dataset import Dataset, DatasetSource, ImageFiles
from harness.api.params import Params
from harness.api.registry import DATASETS
from harness.datasets.splits import stratified_split

EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"}


class FolderParams(Params):
    root: str = Field(..., description="folder that holds the dataset's layout")
    image_size: int | None = Field(
        None, ge=8, le=1024, description="decode the images into 3×size×size tensors at load time (for strategies that train on "
        "images, e.g. TEEN on miniImageNet at 84); null keeps image files for a frozen backbone",
    )
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="share of each class held out when the layout has no test split")
    split_seed: int = Field(0, ge=0, description="seed of that split")


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def _relative(path: str, source: Path) -> str:
    """A relative path read from an index file, refused when it could leave the dataset folder."""
    parts = Path(path).parts
    if not path or Path(path).is_absolute() or ".." in parts:
        raise ValueError(f"{source}: refusing image path {path!r} (must be relative, without '..')")
    return path


def _class_files(folder: Path) -> tuple[list[str], list[tuple[str, int]]]:
    """Class folders (sorted) and ``(path relative to folder, label)`` of their image files."""
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    samples = [
        (f"{c}/{f.name}", label)
        for label, c in enumerate(classes)
        for f in sorted((folder / c).iterdir())
        if f.suffix.lower() in EXTENSIONS
    ]
    if not samples:
        raise FileNotFoundError(f"no image files in class folders under {folder}")
    return classes, samples


def _inputs(root: Path, samples, image_size: int | None):
    """Image files, or with ``image_size`` the decoded images (shorter side resized, centre crop;
    float32 in [0, 1]: 3 × size² × 4 bytes each, about 85 KB at 84 and 600 KB at 224)."""
    files = ImageFiles(root, tuple(p for p, _ in samples))
    if image_size is None:
        return files
    from tqdm.auto import tqdm

    from harness.datasets.images import load_image_file

    paths = tqdm(files.paths, desc=f"decoding {root.name}", unit="image", leave=False, disable=len(files) < 2000)
    return torch.stack([load_image_file(root / p, image_size) for p in paths]) if len(files) else torch.zeros(0, 3, image_size, image_size)


def _dataset(name, root, train, test, classes, train_ids=None, image_size: int | None = None) -> Dataset:
    return Dataset(
        name=name,
        train_x=_inputs(root, train, image_size),
        train_y=torch.tensor([y for _, y in train], dtype=torch.int64),
        test_x=_inputs(root, test, image_size),
        test_y=torch.tensor([y for _, y in test], dtype=torch.int64),
        class_names=tuple(classes),
        train_ids=train_ids,
    )


def _split(samples, params: FolderParams):
    labels = np.array([y for _, y in samples])
    train, test = stratified_split(labels, params.test_fraction, params.split_seed)
    return [samples[i] for i in train], [samples[i] for i in test]


@DATASETS.register("cub200")
class CUB200(DatasetSource):
    """CUB-200-2011 (200 bird species, 5,994 train / 5,794 test images, official split); image files."""

    Params = FolderParams

    def load(self, params: FolderParams) -> Dataset:
        root = Path(params.root).expanduser()
        base = _require(root / "CUB_200_2011", "CUB_200_2011 folder")
        read = lambda name: [line.split() for line in _require(base / name, name).read_text().splitlines() if line.strip()]  # noqa: E731
        paths = dict(read("images.txt"))
        labels = {i: int(c) - 1 for i, c in read("image_class_labels.txt")}
        is_train = {i: flag == "1" for i, flag in read("train_test_split.txt")}
        classes = [c for _, c in sorted(read("classes.txt"), key=lambda r: int(r[0]))]
        train, test = [], []
        for image_id in sorted(paths, key=int):
            sample = (f"CUB_200_2011/images/{_relative(paths[image_id], base / 'images.txt')}", labels[image_id])
            (train if is_train[image_id] else test).append(sample)
        return _dataset("cub200", root, train, test, classes, train_ids=tuple(p for p, _ in train), image_size=params.image_size)


@DATASETS.register("mini-imagenet")
class MiniImageNet(DatasetSource):
    """miniImageNet as used for few-shot class-incremental learning: 100 classes, 500 train and 100
    test images each, listed in ``split/train.csv`` and ``split/test.csv``; image files."""

    Params = FolderParams

    def load(self, params: FolderParams) -> Dataset:
        root = Path(params.root).expanduser() / "miniimagenet"
        classes: list[str] = []
        splits = {}
        for split in ("train", "test"):
            with open(_require(root / "split" / f"{split}.csv", f"{split}.csv"), newline="") as handle:
                rows = list(csv.reader(handle))[1:]
            for _, wnid in rows:
                if wnid not in classes:
                    classes.append(wnid)
            csv_path = root / "split" / f"{split}.csv"
            splits[split] = [(f"images/{_relative(name, csv_path)}", classes.index(wnid)) for name, wnid in rows]
        return _dataset(
            "mini-imagenet", root, splits["train"], splits["test"], classes,
            train_ids=tuple(p.removeprefix("images/") for p, _ in splits["train"]), image_size=params.image_size,
        )


@DATASETS.register("imagenet-r")
class ImageNetR(DatasetSource):
    """ImageNet-R (200 ImageNet classes as renditions: art, cartoons, ...), ``imagenet-r/<wnid>/``;
    stratified train/test split fixed by ``split_seed``; image files."""

    Params = FolderParams

    def load(self, params: FolderParams) -> Dataset:
        root = _require(Path(params.root).expanduser() / "imagenet-r", "imagenet-r folder")
        classes, samples = _class_files(root)
        train, test = _split(samples, params)
        return _dataset("imagenet-r", root, train, test, classes, image_size=params.image_size)


@DATASETS.register("image-folder")
class ImageFolder(DatasetSource):
    """Any class-per-folder image set: ``root/train/<class>/`` and ``root/test/<class>/``, or class
    folders directly under ``root`` (split by ``test_fraction``); image files."""

    Params = FolderParams

    def load(self, params: FolderParams) -> Dataset:
        root = _require(Path(params.root).expanduser(), "image folder")
        if (root / "train").is_dir() and (root / "test").is_dir():
            classes, train = _class_files(root / "train")
            test_classes, test = _class_files(root / "test")
            if test_classes != classes:
                raise ValueError(f"{root}: train/ and test/ hold different class folders")
            return _dataset(
                "image-folder", root, [(f"train/{p}", y) for p, y in train], [(f"test/{p}", y) for p, y in test], classes
            )
        classes, samples = _class_files(root)
        train, test = _split(samples, params)
        return _dataset("image-folder", root, train, test, classes)
