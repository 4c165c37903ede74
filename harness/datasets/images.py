"""Decoding image files into tensors (for image-file datasets loaded as tensors, and image backbones)."""

from __future__ import annotations

import torch


def load_image_file(path, size: int) -> torch.Tensor:
    """One image file as ``3×size×size`` in [0, 1]: shorter side resized to ``size`` (bilinear), centre crop."""
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB")
        w, h = image.size
        scale = size / min(w, h)
        image = image.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BILINEAR)
        w, h = image.size
        left, top = (w - size) // 2, (h - size) // 2
        image = image.crop((left, top, left + size, top + size))
        data = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).reshape(size, size, 3)
    return data.permute(2, 0, 1).float() / 255.0
