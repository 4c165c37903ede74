"""Base training with augmentation: owlbench's recipe loop against a plain hand-written torch loop
doing the same work (same network, optimiser, schedule, per-image v2 crop + flip, and one pass that
recomputes the BatchNorm statistics at the end), measured in one run.  Prints images per second of
each and their ratio (owlbench / plain; the target is at least 0.9).

    python bench/base_training.py [--images 4000] [--epochs 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness.training import BackboneParams  # noqa: E402
from harness.training.base_training import train_base_backbone  # noqa: E402
from harness.training.heads import build_head  # noqa: E402
from harness.training.networks import build_network  # noqa: E402


def plain_loop(params: BackboneParams, x: torch.Tensor, y: torch.Tensor, seed: int) -> None:
    from torchvision.transforms import v2

    torch.manual_seed(seed)
    network = build_network(params, tuple(x.shape[1:]))
    head = build_head(params.classifier, network.out_dim, int(y.max()) + 1, params.temperature)
    optimizer = torch.optim.SGD([*network.parameters(), *head.parameters()], lr=params.lr, momentum=params.momentum,
                                weight_decay=params.weight_decay)
    steps = params.epochs * -(-len(x) // params.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    augment = v2.Compose([v2.RandomCrop(tuple(x.shape[2:]), padding=4), v2.RandomHorizontalFlip()])
    generator = torch.Generator().manual_seed(seed)
    for _ in range(params.epochs):
        network.train()
        for batch in torch.randperm(len(x), generator=generator).split(params.batch_size):
            images = torch.stack([augment(image) for image in x[batch]])
            loss = F.cross_entropy(head(network(images)), y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
    norms = [m for m in network.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    with torch.no_grad():
        for start in range(0, len(x), params.batch_size):
            network(x[start : start + params.batch_size])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each, interleaved; the best is reported")
    args = parser.parse_args(argv)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(args.images, 3, 32, 32, generator=g)
    y = torch.arange(args.images) % 10
    params = BackboneParams(arch="resnet", width=16, resnet_blocks=[1, 1, 1], epochs=args.epochs, batch_size=128,
                            augment="cifar", cpu_threads=None)
    best = {"owlbench": float("inf"), "plain": float("inf")}
    for _ in range(args.repeats):
        for name, run in (("owlbench", lambda: train_base_backbone(params, x, y, seed=0)), ("plain", lambda: plain_loop(params, x, y, 0))):
            started = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - started)
    rate = {k: args.images * args.epochs / v for k, v in best.items()}
    print(f"base training, ResNet (width 16, 1 block per stage), {args.images} images 3x32x32, {args.epochs} epochs, crop + flip, "
          f"{torch.get_num_threads()} torch threads")
    for name in ("owlbench", "plain"):
        print(f"  {name:<9} {rate[name]:8.0f} images/s  (best of {args.repeats}: {best[name]:.2f} s)")
    print(f"  ratio owlbench / plain: {rate['owlbench'] / rate['plain']:.2f}")


if __name__ == "__main__":
    main()
