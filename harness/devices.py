"""Turning a ``device`` setting into a torch device: the one resolver of the runner, the trainers and
the prototype store (a leaf module: it imports torch only)."""

from __future__ import annotations

import torch


def resolve_device(name: str | torch.device) -> torch.device:
    """``auto`` picks CUDA when present, else the CPU; ``cpu``, ``cuda``, ``cuda:N`` and torch devices
    are taken as given, and a CUDA device on a machine without CUDA is refused with the fix."""
    if isinstance(name, torch.device):
        device = name
    elif name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {str(name)!r} was asked for but CUDA is not available; use device: auto or cpu")
    return device
