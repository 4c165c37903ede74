"""The in-memory form every dataset source returns, and the interface a source implements."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from harness.api.params import Params


@dataclass(frozen=True)
class ImageFiles:
    """Images kept on disk: ``root / path`` for each relative path (loaded by an image backbone)."""

    root: Path
    paths: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.paths)


Inputs = torch.Tensor | tuple[str, ...] | ImageFiles


@dataclass(frozen=True)
class Dataset:
    """Train and test inputs with integer labels ``0 .. num_classes - 1``.

    ``train_x``/``test_x`` are tensors in their natural shape (images as ``C×H×W`` floats in [0, 1]),
    texts (a tuple of strings) or :class:`ImageFiles`; texts and image files become tensors only
    through a frozen backbone (``harness.backbones.inputs``).  ``train_ids`` optionally names each training
    sample (a relative image path, or the index in the original release) so that published index
    lists can select samples.  The harness holds this object; strategies only ever see experiences.
    """

    name: str
    train_x: Inputs
    train_y: torch.Tensor
    test_x: Inputs
    test_y: torch.Tensor
    class_names: tuple[str, ...]
    train_ids: tuple[str, ...] | None = None

    @property
    def modality(self) -> str:
        """``tensor``, ``text`` or ``image-files``: what a backbone must accept to encode the inputs."""
        if isinstance(self.train_x, torch.Tensor):
            return "tensor"
        return "image-files" if isinstance(self.train_x, ImageFiles) else "text"

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def train_counts(self) -> np.ndarray:
        """Number of training samples of each class."""
        return np.bincount(self.train_y.numpy(), minlength=self.num_classes)

    def test_counts(self) -> np.ndarray:
        return np.bincount(self.test_y.numpy(), minlength=self.num_classes)


class DatasetSource:
    """A registered dataset: declares its ``Params`` and builds a :class:`Dataset` from them."""

    Params: ClassVar[type[Params]] = Params
    registered_name: ClassVar[str] = ""

    def load(self, params: Params) -> Dataset:  # pragma: no cover - interface
        raise NotImplementedError
