"""A linear layer trained from scratch on fixed features (cross-entropy, SGD, cosine schedule per epoch)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from harness.training.batches import epoch_batches


def train_linear_layer(
    features: torch.Tensor,
    targets: torch.Tensor,
    num_classes: int,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    weight_decay: float,
    momentum: float,
    seed: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights ``(C, D)`` and bias ``(C,)`` of ``nn.Linear`` trained on ``(features, targets)``.

    ``targets`` are ``0 .. num_classes-1``.  Initialisation and shuffling are seeded by ``seed``; the
    learning rate follows a cosine annealing over ``epochs`` (stepped once per epoch).
    """
    device = features.device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layer = nn.Linear(features.shape[1], num_classes).to(device)
    optimizer = torch.optim.SGD(layer.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs))
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for batch in epoch_batches(len(features), batch_size, generator, device):
            loss = F.cross_entropy(layer(features[batch]), targets[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        scheduler.step()
    return layer.weight.detach().clone(), layer.bias.detach().clone()
