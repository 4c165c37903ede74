"""Synthetic stand-ins for the paper boards' datasets and weights, written in the real on-disk layouts:
CIFAR-100's pickles, miniImageNet's CSV folders, CUB-200-2011's text files, ImageNet-R's class folders,
and local weights files of the right architectures.  Tiny and random: for smoke runs, never results."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch


def _jpeg(path: Path, rng: np.random.Generator, size: int = 8) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path, quality=90)


def cifar100(root: Path, train_per_class: int = 3, test_per_class: int = 1) -> None:
    """``root/cifar-100-python/{train,test,meta}``: latin-1 pickles with ``data`` (N×3072 uint8) and ``fine_labels``."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", train_per_class), ("test", test_per_class)):
        labels = np.repeat(np.arange(100), n)
        entry = {"data": rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8), "fine_labels": labels.tolist(),
                 "coarse_labels": (labels // 5).tolist(), "filenames": [f"{split}_{i}.png" for i in range(len(labels))]}
        (folder / split).write_bytes(pickle.dumps(entry, protocol=2))
    (folder / "meta").write_bytes(pickle.dumps({"fine_label_names": [f"class_{i:02d}" for i in range(100)],
                                                "coarse_label_names": [f"super_{i:02d}" for i in range(20)]}, protocol=2))


def mini_imagenet(root: Path, train_per_class: int = 3, test_per_class: int = 1) -> None:
    """``root/miniimagenet/images/<file>.jpg`` and ``split/{train,test}.csv`` (``filename,label``)."""
    base = root / "miniimagenet"
    rng = np.random.default_rng(1)
    for split, n in (("train", train_per_class), ("test", test_per_class)):
        rows = ["filename,label"]
        for c in range(100):
            wnid = f"n{c:08d}"
            for i in range(n):
                name = f"{wnid}{split}{i:04d}.jpg"
                _jpeg(base / "images" / name, rng)
                rows.append(f"{name},{wnid}")
        (base / "split").mkdir(parents=True, exist_ok=True)
        (base / "split" / f"{split}.csv").write_text("\n".join(rows) + "\n")


def cub200(root: Path, train_per_class: int = 2, test_per_class: int = 1) -> None:
    """``root/CUB_200_2011/`` with ``images.txt``, ``image_class_labels.txt``, ``train_test_split.txt``,
    ``classes.txt`` and ``images/<class>/<file>.jpg``."""
    base = root / "CUB_200_2011"
    rng = np.random.default_rng(2)
    images, labels, split, classes = [], [], [], []
    image_id = 1
    for c in range(200):
        name = f"{c + 1:03d}.Bird_{c + 1:03d}"
        classes.append(f"{c + 1} {name}")
        for i in range(train_per_class + test_per_class):
            relative = f"{name}/Bird_{c + 1:03d}_{i:04d}.jpg"
            _jpeg(base / "images" / relative, rng)
            images.append(f"{image_id} {relative}")
            labels.append(f"{image_id} {c + 1}")
            split.append(f"{image_id} {1 if i < train_per_class else 0}")
            image_id += 1
    for file, lines in (("images.txt", images), ("image_class_labels.txt", labels), ("train_test_split.txt", split), ("classes.txt", classes)):
        (base / file).write_text("\n".join(lines) + "\n")


def imagenet_r(root: Path, per_class: int = 5) -> None:
    """``root/imagenet-r/<wnid>/<file>.jpg`` for 200 classes."""
    rng = np.random.default_rng(3)
    for c in range(200):
        for i in range(per_class):
            _jpeg(root / "imagenet-r" / f"n{c:08d}" / f"art_{i}.jpg", rng)


def resnet18_weights(path: Path) -> None:
    """An ImageNet-layout torchvision ResNet-18 state dict (random), with its ``fc``."""
    from torchvision.models import resnet18

    torch.save(resnet18(weights=None).state_dict(), path)


def vit_weights(path: Path, arch: str = "vit_tiny_patch16_224", **kwargs) -> None:
    import timm

    torch.save(timm.create_model(arch, pretrained=False, **kwargs).state_dict(), path)
