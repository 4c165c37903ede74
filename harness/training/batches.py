"""Minibatches of one epoch, shared by every hand-written training loop."""

from __future__ import annotations

import torch


def epoch_batches(n: int, batch_size: int, generator: torch.Generator, device: torch.device | None = None) -> list[torch.Tensor]:
    """A permutation of ``range(n)`` drawn from ``generator`` (one ``randperm`` per epoch), cut into
    consecutive batches of ``batch_size`` (the last may be shorter), on ``device`` when given."""
    order = torch.randperm(n, generator=generator)
    if device is not None:
        order = order.to(device)
    return list(order.split(batch_size))
