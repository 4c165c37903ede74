"""Turning image inputs (``C×H×W`` tensors in [0, 1], or image files) into RGB batches for a backbone."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from harness.api.dataset import ImageFiles
from harness.datasets.images import load_image_file


def rgb_batch(images: torch.Tensor, size: int) -> torch.Tensor:
    """``N×C×H×W`` in [0, 1] to ``N×3×size×size``: grey repeated to three channels, bilinear resize."""
    images = images.float()
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"an image backbone needs N×C×H×W inputs with C = 1 or 3; got shape {tuple(images.shape)}")
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    if images.shape[-2:] != (size, size):
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return images


def image_batch(inputs, start: int, stop: int, size: int) -> torch.Tensor:
    """Samples ``start:stop`` of a tensor or :class:`ImageFiles` input as ``N×3×size×size`` in [0, 1]."""
    if isinstance(inputs, ImageFiles):
        return torch.stack([load_image_file(inputs.root / p, size) for p in inputs.paths[start:stop]])
    return rgb_batch(inputs[start:stop], size)
