"""Feature extractors trained on the base session: a small CNN, an MLP, a CIFAR-style ResNet, identity.

Each maps a batch of inputs in their natural shape to features of shape ``(N, out_dim)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from harness.training.params import BackboneParams


class _PooledConvNet(nn.Module):
    """Convolutional layers, then global average pooling into ``out_dim`` features."""

    def pool_into_features(self, layers: list[nn.Module], channels: int) -> None:
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out_dim = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class MaxPool2d(nn.MaxPool2d):
    """2×2 max-pooling computed in channels-last layout and returned contiguous: the same values and
    gradients (a maximum does not depend on the layout), 3.7× faster forward + backward on one CPU
    thread for a (64, 32, 28, 28) batch than torch's channels-first kernel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or x.dim() != 4:
            return super().forward(x)
        return super().forward(x.contiguous(memory_format=torch.channels_last)).contiguous()


class SmallCNN(_PooledConvNet):
    """``depth`` blocks of conv3×3 → BatchNorm → ReLU → 2×2 max-pool (pooling stops at 1×1), channels
    ``width·2^i``, then global average pooling; ``out_dim = width·2^(depth-1)``."""

    def __init__(self, in_shape: tuple[int, ...], width: int, depth: int):
        super().__init__()
        channels, size = in_shape[0], min(in_shape[1:])
        layers: list[nn.Module] = []
        for i in range(depth):
            out = width * 2**i
            layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            if size >= 2:
                layers.append(MaxPool2d(2))
                size //= 2
            channels = out
        self.pool_into_features(layers, channels)


class MLP(nn.Module):
    """Flatten, then ``depth`` × (Linear(width) → ReLU); ``out_dim = width``."""

    def __init__(self, in_shape: tuple[int, ...], width: int, depth: int):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        size = math.prod(in_shape)
        for _ in range(depth):
            layers += [nn.Linear(size, width), nn.ReLU(inplace=True)]
            size = width
        self.body = nn.Sequential(*layers)
        self.out_dim = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class BasicBlock(nn.Module):
    """Two conv3×3 with BatchNorm; identity shortcut, or a 1×1 conv when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet(_PooledConvNet):
    """CIFAR-style ResNet: conv3×3(width) stem, stages of basic blocks (stage ``s``: ``width·2^s``
    channels, stride 2 from the second stage on), global average pooling.  ``blocks=[2,2,2,2]``,
    ``width=64`` is ResNet-18 for small images; ``[3,3,3]``, ``width=16`` is ResNet-20."""

    def __init__(self, in_shape: tuple[int, ...], width: int, blocks: list[int]):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_shape[0], width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        cin = width
        for s, n in enumerate(blocks):
            cout = width * 2**s
            for b in range(n):
                layers.append(BasicBlock(cin, cout, stride=2 if (s > 0 and b == 0) else 1))
                cin = cout
        self.pool_into_features(layers, cin)


class Identity(nn.Module):
    """The flattened inputs themselves; ``out_dim = prod(in_shape)``."""

    def __init__(self, in_shape: tuple[int, ...]):
        super().__init__()
        self.out_dim = math.prod(in_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(len(x), -1)


class TorchvisionResNet18(nn.Module):
    """torchvision's ImageNet ResNet-18 (7×7 stem, max-pool, four stages) without its classifier;
    ``out_dim = 512``.  TEEN and CEC use it for miniImageNet and CUB-200 (pretrained on ImageNet for
    CUB).  Its state dict has torchvision's key names, so an ImageNet file loads strictly into it;
    the file's ``fc.*`` entries are left out (:meth:`load_state_dict`)."""

    def __init__(self, in_shape: tuple[int, ...]):
        super().__init__()
        from torchvision.models import resnet18

        self.model = resnet18(weights=None)
        if in_shape[0] != 3:
            self.model.conv1 = nn.Conv2d(in_shape[0], 64, 7, 2, 3, bias=False)
        self.model.fc = nn.Identity()
        self.out_dim = 512

    def load_state_dict(self, state, strict: bool = True, assign: bool = False):
        state = {k.removeprefix("model."): v for k, v in state.items() if not k.removeprefix("model.").startswith("fc.")}
        return self.model.load_state_dict(state, strict=strict, assign=assign)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


IMAGE_ARCHS = ("small_cnn", "resnet", "resnet18")


def arch_input_problem(arch: str, in_shape: tuple[int, ...]) -> str | None:
    """Why ``arch`` cannot take inputs of shape ``in_shape`` (one sample), or None when it can."""
    if arch in IMAGE_ARCHS and len(in_shape) != 3:
        shown = "feature vectors" if in_shape == (-1,) else f"input shape {tuple(in_shape)}"
        return f"{arch!r} needs image inputs (C×H×W); this board gives {shown}: use mlp or identity"
    return None


def arch_field_problem(field: str, arch: str, in_shape: tuple[int, ...]) -> tuple[str, str] | None:
    """:meth:`harness.api.strategy.Strategy.input_problem` for a strategy whose network is the
    parameter ``field`` (e.g. ``"backbone.arch"``): ``(field, why)``, or None."""
    problem = arch_input_problem(arch, in_shape)
    return (field, problem) if problem else None


def build_network(params: BackboneParams, in_shape: tuple[int, ...]) -> nn.Module:
    """The network ``params.arch`` names for inputs of shape ``in_shape`` (one sample)."""
    problem = arch_input_problem(params.arch, in_shape)
    if problem:
        raise ValueError(f"backbone.arch {problem}")
    builders = {
        "small_cnn": lambda: SmallCNN(in_shape, params.width, params.depth),
        "mlp": lambda: MLP(in_shape, params.width, params.depth),
        "resnet": lambda: ResNet(in_shape, params.width, params.resnet_blocks),
        "resnet18": lambda: TorchvisionResNet18(in_shape),
        "identity": lambda: Identity(in_shape),
    }
    return builders[params.arch]()
