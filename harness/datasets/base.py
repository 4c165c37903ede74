"""The in-memory form every dataset source returns, and the interface a source implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from harness.params import Params


@dataclass(frozen=True)
class Dataset:
    """Train and test inputs with integer labels ``0 .. num_classes - 1``.

    ``train_x``/``test_x`` keep their natural shape (images as ``C×H×W`` floats); the runner turns
    them into features.  The harness holds this object; strategies only ever see experiences.
    """

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    class_names: tuple[str, ...]

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
