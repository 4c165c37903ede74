"""A timm Vision Transformer whose self-attention layers accept prefix prompts.

Each block's attention module is wrapped; the wrapper recomputes attention from the module's own
weights (``qkv``, optional ``q_norm``/``k_norm``, ``proj``) with the prompt's prefix keys and values
prepended, so any timm ``VisionTransformer`` works, with pretrained weights or without.  The feature
is what timm's own head would see (``forward_head(..., pre_logits=True)``: the class token for the
usual ``global_pool='token'``).  The encoder is frozen and kept in eval mode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from harness.components.prefix_tuning import OnePrompt, attention_with_prefix
from harness.training.weights import read_state_dict


class _PrefixAttention(nn.Module):
    def __init__(self, inner: nn.Module, layer: int, holder: "PromptedViT"):
        super().__init__()
        self.inner, self.layer = inner, layer
        object.__setattr__(self, "holder", holder)  # not a submodule: avoids a reference cycle in modules()

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        a = self.inner
        b, n, c = x.shape
        heads = a.num_heads
        q, k, v = a.qkv(x).reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        q, k = getattr(a, "q_norm", nn.Identity())(q), getattr(a, "k_norm", nn.Identity())(k)
        prompt = self.holder.active_prompt
        out = attention_with_prefix(q, k, v, prompt.prefix(self.layer, b) if prompt is not None else None)
        out = out.transpose(1, 2).reshape(b, n, c)
        out = getattr(a, "norm", nn.Identity())(out)
        return a.proj_drop(a.proj(out))


class PromptedViT(nn.Module):
    """``forward(images, prompt=None)`` → features ``(B, embed_dim)`` of a frozen timm ViT."""

    def __init__(self, vit: nn.Module):
        super().__init__()
        self.vit = vit
        self.dim = vit.embed_dim
        self.depth = len(vit.blocks)
        self.active_prompt: OnePrompt | None = None
        for i, block in enumerate(vit.blocks):
            block.attn = _PrefixAttention(block.attn, i, self)
        vit.requires_grad_(False)
        vit.eval()

    @classmethod
    def create(cls, name: str, weights: str | None = None, **kwargs: Any) -> "PromptedViT":
        """A timm model by name (``num_classes=0``), optionally with weights from a local file
        (``.safetensors`` or a ``torch.save`` state dict, loaded with ``weights_only=True``)."""
        try:
            import timm
        except ImportError as exc:
            raise ImportError("OVOR on a ViT needs the PyPI package timm: pip install timm") from exc
        vit = timm.create_model(name, pretrained=False, num_classes=0, **kwargs)
        if weights:
            path = Path(weights)
            if not path.is_file():
                raise FileNotFoundError(f"ViT weights file {str(path)!r} does not exist")
            state = read_state_dict(path)
            state = {k: v for k, v in state.items() if not k.startswith("head.")}
            missing, unexpected = vit.load_state_dict(state, strict=False)
            if unexpected or [m for m in missing if not m.startswith("head")]:
                raise ValueError(f"weights in {path} do not fit {name}: missing {missing[:5]}, unexpected {unexpected[:5]}")
        return cls(vit)

    def train(self, mode: bool = True) -> "PromptedViT":  # frozen: always eval
        return super().train(False)

    @property
    def input_size(self) -> tuple[int, int]:
        """The image size the ViT takes (its patch embedding's)."""
        size = self.vit.patch_embed.img_size
        return tuple(size) if isinstance(size, (tuple, list)) else (size, size)

    def forward(self, images: torch.Tensor, prompt: OnePrompt | None = None) -> torch.Tensor:
        """Features of ``images``; grey images are repeated to three channels and every image is
        resized (bilinear, antialiased) to the ViT's input size, as the reference resizes CIFAR to 224."""
        if images.shape[1] == 1 and getattr(getattr(self.vit.patch_embed, "proj", None), "in_channels", 3) == 3:
            images = images.expand(-1, 3, -1, -1)
        if tuple(images.shape[-2:]) != self.input_size:
            images = torch.nn.functional.interpolate(images, size=self.input_size, mode="bilinear", align_corners=False, antialias=True)
        self.active_prompt = prompt
        try:
            tokens = self.vit.forward_features(images)
            return self.vit.forward_head(tokens, pre_logits=True)
        finally:
            self.active_prompt = None
