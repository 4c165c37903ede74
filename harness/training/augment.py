"""Data augmentation of training batches, as the reference implementations train, from
``torchvision.transforms.v2``, applied image by image on the run's device.

Each batch is augmented under a CPU random state seeded from the job's seed, the epoch and the
batch's position in the epoch, so the same seed gives the same augmented batches on the CPU (v2's
transforms draw their parameters from torch's global generator; :func:`torch.random.fork_rng`
keeps the rest of the run's random state untouched).

Presets (the reference each follows):

- ``cifar``: random crop with 4-pixel zero padding + horizontal flip (TEEN, FeTrIL, PyCIL);
- ``crop``: the same random crop without the flip (digits and letters, whose mirror image is another
  glyph or none);
- ``imagenet``: random-resized crop to the input size + horizontal flip (TEEN on miniImageNet / CUB);
- ``autoaugment_cutout``: crop + flip + brightness jitter 63/255 + AutoAugment's CIFAR-10 policy +
  Cutout of one 16-pixel square (PyCIL's ``iCIFAR100_AA``; Cutout is written here: torchvision has no
  transform that clips a square centred anywhere in the image, RandomErasing keeps it inside);
- ``augmix``: crop + flip + AugMix (torchvision's defaults);
- ``napa_vq``: crop + flip + brightness jitter 63/255 (the pipeline of PASS, which NAPA-VQ's code
  builds on; not checked against NAPA-VQ's own repository here).

AutoAugment and AugMix work on 8-bit images: the batch is quantised to uint8 for them and returned
as float in [0, 1].  Feature vectors and texts are never augmented (the preset ``none``).
"""

from __future__ import annotations

from typing import Callable, Literal

import torch

Preset = Literal["none", "cifar", "crop", "imagenet", "autoaugment_cutout", "augmix", "napa_vq"]
PRESETS: tuple[str, ...] = ("none", "cifar", "crop", "imagenet", "autoaugment_cutout", "augmix", "napa_vq")


class Cutout(torch.nn.Module):
    """Zero one ``length × length`` square centred at a uniformly drawn pixel, clipped at the borders
    (DeVries & Taylor, 2017, as PyCIL applies it: one hole of 16 pixels)."""

    def __init__(self, length: int = 16):
        super().__init__()
        self.length = length

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        cy, cx = int(torch.randint(h, (1,))), int(torch.randint(w, (1,)))
        half = self.length // 2
        out = image.clone()
        out[..., max(0, cy - half) : min(h, cy + half), max(0, cx - half) : min(w, cx + half)] = 0
        return out


def _as_uint8(v2, *transforms) -> list:
    return [v2.ToDtype(torch.uint8, scale=True), *transforms, v2.ToDtype(torch.float32, scale=True)]


def preset_transform(preset: str, image_shape: tuple[int, ...]) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The per-image pipeline of ``preset`` for images of shape ``(C, H, W)``; ``None`` for ``none``."""
    if preset == "none":
        return None
    from torchvision.transforms import v2  # imported here: torchvision pulls in torch's compiler stack

    if len(image_shape) != 3:
        raise ValueError(f"augmentation {preset!r} needs images (C, H, W); the inputs have shape {image_shape}")
    size = tuple(image_shape[1:])
    crop_flip = [v2.RandomCrop(size, padding=4), v2.RandomHorizontalFlip()]
    pipelines = {
        "cifar": crop_flip,
        "crop": crop_flip[:1],
        "imagenet": [v2.RandomResizedCrop(size, antialias=True), v2.RandomHorizontalFlip()],
        "autoaugment_cutout": [*crop_flip, v2.ColorJitter(brightness=63 / 255), *_as_uint8(v2, v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10)), Cutout(16)],
        "augmix": [*crop_flip, *_as_uint8(v2, v2.AugMix())],
        "napa_vq": [*crop_flip, v2.ColorJitter(brightness=63 / 255)],
    }
    return v2.Compose(pipelines[preset])


class BatchAugmenter:
    """Augments training batches with a preset, deterministically per (seed, epoch, batch)."""

    def __init__(self, preset: str, image_shape: tuple[int, ...], seed: int):
        self.transform = preset_transform(preset, image_shape)
        self.seed = int(seed)

    def __bool__(self) -> bool:
        return self.transform is not None

    def __call__(self, batch: torch.Tensor, epoch: int, index: int) -> torch.Tensor:
        if self.transform is None:
            return batch
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed((self.seed * 1_000_003 + epoch * 10_007 + index) % 2**63)
            return torch.stack([self.transform(image) for image in batch])


# per-dataset channel statistics (mean, std) of the training images in [0, 1]
NORMALIZATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "mnist": ((0.1307,), (0.3081,)),
    "fashion-mnist": ((0.2860,), (0.3530,)),
}


class Normalized(torch.nn.Module):
    """``network((x - mean) / std)``: the normalisation travels with the network, so its features at
    test time see inputs normalised exactly as in training."""

    def __init__(self, network: torch.nn.Module, stats: str):
        super().__init__()
        mean, std = NORMALIZATION[stats]
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))
        self.network = network
        self.out_dim = network.out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.mean.shape[1]:
            raise ValueError(f"normalisation statistics for {self.mean.shape[1]} channels; the inputs have {x.shape[1]}")
        return self.network((x - self.mean) / self.std)
