"""Optimisers and learning-rate schedules of the training recipes, built from torch's own classes.

``schedule``: ``cosine`` (annealed to 0 over every iteration, stepped per batch: owlbench's default),
``cosine_epoch`` (annealed over the epochs, stepped once per epoch: TEEN's and FeTrIL's base training),
``multistep`` (× ``gamma`` at each epoch of ``milestones``: PyCIL, NAPA-VQ) or ``constant``; with
``warmup_epochs`` the rate first rises linearly from 1 / (warmup + 1) of its value (torch's
``LinearLR`` chained by ``SequentialLR``).
"""

from __future__ import annotations

import torch


def build_optimizer(name: str, parameters, lr: float, momentum: float, weight_decay: float, nesterov: bool) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(parameters, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)


def build_schedule(
    optimizer: torch.optim.Optimizer, schedule: str, epochs: int, steps_per_epoch: int, milestones: list[int], gamma: float, warmup_epochs: int
) -> tuple[torch.optim.lr_scheduler.LRScheduler, bool]:
    """``(scheduler, stepped per iteration?)``."""
    per_iteration = schedule in ("cosine", "constant")
    unit = steps_per_epoch if per_iteration else 1
    warmup = warmup_epochs * unit
    total = max(1, epochs * unit - warmup)
    if schedule in ("cosine", "cosine_epoch"):
        main = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    elif schedule == "multistep":
        main = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[m - warmup_epochs for m in milestones], gamma=gamma)
    else:
        main = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    if not warmup:
        return main, per_iteration
    ramp = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1.0 / (warmup + 1), total_iters=warmup)
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [ramp, main], milestones=[warmup]), per_iteration
