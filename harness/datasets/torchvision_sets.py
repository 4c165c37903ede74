"""Standard image sets through torchvision: CIFAR-10, CIFAR-100 and MNIST, from ``root`` (default
``$OWLBENCH_DATA_DIR``) with ``download: true`` for machines that can reach the dataset hosts.

Images are ``C×H×W`` floats in [0, 1]; the official train/test split and the torchvision sample
order are kept, so published index lists (e.g. the CIFAR-100 few-shot sessions) select the same
images.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from harness.api.dataset import Dataset, DatasetSource
from harness.datasets.paths import data_dir
from harness.api.params import Params
from harness.api.registry import DATASETS


class TorchvisionParams(Params):
    root: str | None = Field(None, description="folder torchvision reads (and downloads into); default $OWLBENCH_DATA_DIR")
    download: bool = Field(False, description="download the files into root when missing")


def _images(data) -> torch.Tensor:
    array = data.numpy() if isinstance(data, torch.Tensor) else np.asarray(data)
    x = torch.from_numpy(np.ascontiguousarray(array))
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)  # grey N×H×W, colour N×H×W×C
    return x.float().div_(255.0).contiguous()


class TorchvisionSource(DatasetSource):
    Params = TorchvisionParams
    tv_class = ""

    def load(self, params: TorchvisionParams) -> Dataset:
        import torchvision

        cls = getattr(torchvision.datasets, self.tv_class)
        root = data_dir(params.root)
        try:
            train = cls(str(root), train=True, download=params.download)
            test = cls(str(root), train=False, download=params.download)
        except RuntimeError as exc:
            raise FileNotFoundError(f"{self.tv_class} not found under {root} ({exc}); set root, or download: true") from None
        return Dataset(
            name=self.registered_name,
            train_x=_images(train.data),
            train_y=torch.as_tensor(np.asarray(train.targets), dtype=torch.int64),
            test_x=_images(test.data),
            test_y=torch.as_tensor(np.asarray(test.targets), dtype=torch.int64),
            class_names=tuple(train.classes),
        )


@DATASETS.register("cifar10")
class CIFAR10(TorchvisionSource):
    """CIFAR-10: 50,000 train / 10,000 test colour 32×32 images, 10 classes (torchvision)."""

    tv_class = "CIFAR10"


@DATASETS.register("cifar100")
class CIFAR100(TorchvisionSource):
    """CIFAR-100: 50,000 train / 10,000 test colour 32×32 images, 100 classes (torchvision)."""

    tv_class = "CIFAR100"


@DATASETS.register("mnist")
class MNIST(TorchvisionSource):
    """MNIST: 60,000 train / 10,000 test grey 28×28 digits (torchvision)."""

    tv_class = "MNIST"
