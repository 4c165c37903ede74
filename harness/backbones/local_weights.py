"""Any torchvision or timm architecture with a local weights file, as a frozen image backbone.

The weights file is a state dict read with ``torch.load(weights_only=True)`` (or a ``.safetensors``
file) and loaded with ``strict=True``; the classifier is then replaced by the identity, so the
features are the model's pre-classifier representation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from pydantic import Field, field_validator
from torch import nn

from harness.training.weights import read_state_dict
from harness.api.backbone import Backbone, batches, file_sha256
from harness.backbones.images import image_batch
from harness.api.params import Params
from harness.api.registry import BACKBONES

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HEADS = ("fc", "classifier", "head", "heads")  # torchvision's names of the final classifier


class LocalWeightsParams(Params):
    arch: str = Field(..., description="architecture name, e.g. resnet18 (torchvision) or vit_small_patch16_224 (timm)")
    weights: str = Field(..., description="local state-dict file (.pt/.pth read with weights_only=True, or .safetensors)")
    image_size: int = Field(224, ge=16, le=1024, description="inputs are resized to image_size × image_size")
    mean: tuple[float, float, float] = Field(IMAGENET_MEAN, description="per-channel mean subtracted from RGB in [0, 1]")
    std: tuple[float, float, float] = Field(IMAGENET_STD, description="per-channel standard deviation")
    batch_size: int = Field(64, ge=1, description="images per forward pass")

    @field_validator("weights")
    @classmethod
    def _exists(cls, value: str) -> str:
        if not Path(value).expanduser().is_file():
            raise ValueError(f"weights file {value!r} does not exist")
        return value


class LocalWeightsBackbone(Backbone):
    modality = "image"
    library = ""

    def __init__(self, params: LocalWeightsParams):
        super().__init__(params)
        self._model: nn.Module | None = None

    def build(self) -> nn.Module:  # pragma: no cover - interface
        raise NotImplementedError

    def fingerprint(self) -> dict[str, Any]:
        p = self.params
        return {
            "weights_sha256": file_sha256(Path(p.weights).expanduser()),
            "transform": {"size": p.image_size, "resize": "bilinear-antialias", "grey": "repeat-rgb", "mean": list(p.mean), "std": list(p.std)},
        }

    def encode(self, inputs: Any, device: torch.device) -> torch.Tensor:
        if self._model is None:
            self._model = self.build().eval().to(device)
        mean = torch.tensor(self.params.mean, device=device).view(1, 3, 1, 1)
        std = torch.tensor(self.params.std, device=device).view(1, 3, 1, 1)
        out = []
        with torch.inference_mode():
            for start, stop in batches(len(inputs), self.params.batch_size):
                batch = (image_batch(inputs, start, stop, self.params.image_size).to(device) - mean) / std
                out.append(self._model(batch).flatten(1).cpu())
        return torch.cat(out).float()


@BACKBONES.register("torchvision")
class TorchvisionBackbone(LocalWeightsBackbone):
    """A torchvision classification model (``arch``) with a local weights file; classifier removed."""

    pretrained_on = "whatever the local weights file was trained on (declared by its source, not by owlbench)"

    Params = LocalWeightsParams

    def build(self) -> nn.Module:
        import torchvision

        state = read_state_dict(Path(self.params.weights).expanduser())
        model = torchvision.models.get_model(self.params.arch, weights=None)
        model.load_state_dict(state, strict=True)
        for name in HEADS:
            if hasattr(model, name):
                setattr(model, name, nn.Identity())
                return model
        raise ValueError(f"torchvision model {self.params.arch!r} has none of the classifier attributes {HEADS}")


@BACKBONES.register("timm")
class TimmBackbone(LocalWeightsBackbone):
    """A timm model (``arch``) with a local weights file (needs the package ``timm``); classifier removed."""

    Params = LocalWeightsParams

    def build(self) -> nn.Module:
        try:
            import timm
        except ImportError:
            raise ImportError("the 'timm' backbone needs the Python package 'timm' (pip install timm)") from None
        model = timm.create_model(self.params.arch, pretrained=False)
        model.load_state_dict(read_state_dict(Path(self.params.weights).expanduser()), strict=True)
        model.reset_classifier(0)
        return model
