"""Prefix-tuning prompts (OVOR's OnePrompt) and attention that attends to them.

OnePrompt (Huang et al., ICLR 2024) is one set of prompts shared by every task: a "g-prompt" of
length ``g_length`` in the first layers and an "e-prompt" of length ``e_length`` in the next ones
(ViT-B/16: g-prompt length 10 in layers 0–1, e-prompt length 40 in layers 2–4).  In prefix tuning a
prompt of length ``L`` is split in half: ``L/2`` key tokens and ``L/2`` value tokens prepended to the
keys and values of that layer's self-attention; queries are untouched, so the sequence length does
not change.  Where a layer has both, the e-prompt comes first (as in the reference code).  Prompts
start from ``U(0, 1)``, as in the reference code.
"""

from __future__ import annotations

import torch
from torch import nn


def scaled_layers(depth: int, reference_depth: int = 12) -> tuple[list[int], list[int]]:
    """The g- and e-prompt layers for a model of ``depth`` blocks, scaled from ViT-B/16's
    ``[0, 1]`` / ``[2, 3, 4]`` of 12 (at least one layer each, the e-layers right after the g-layers)."""
    if depth < 2:
        raise ValueError(f"prefix prompts need a model with at least 2 blocks, got {depth}")
    n_g = max(1, round(2 * depth / reference_depth))
    n_e = max(1, min(depth - n_g, round(3 * depth / reference_depth)))
    return list(range(n_g)), list(range(n_g, n_g + n_e))


class OnePrompt(nn.Module):
    """Prefix prompts for a transformer of width ``dim`` (see the module docstring)."""

    def __init__(
        self,
        dim: int,
        depth: int,
        g_length: int = 10,
        e_length: int = 40,
        g_layers: list[int] | None = None,
        e_layers: list[int] | None = None,
    ):
        super().__init__()
        if g_length % 2 or e_length % 2:
            raise ValueError("prompt lengths must be even (half keys, half values)")
        default_g, default_e = scaled_layers(depth)
        self.g_layers = list(default_g if g_layers is None else g_layers)
        self.e_layers = list(default_e if e_layers is None else e_layers)
        self.g = nn.ParameterDict({str(i): nn.Parameter(torch.rand(g_length, dim)) for i in self.g_layers})
        self.e = nn.ParameterDict({str(i): nn.Parameter(torch.rand(e_length, dim)) for i in self.e_layers})

    def prefix(self, layer: int, batch: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(keys, values)``, each ``(batch, P, dim)``, for ``layer``; ``None`` where it has no prompt."""
        parts = [p for p in (self.e.get(str(layer)), self.g.get(str(layer))) if p is not None]
        if not parts:
            return None
        keys = torch.cat([p[: len(p) // 2] for p in parts])
        values = torch.cat([p[len(p) // 2 :] for p in parts])
        return keys.expand(batch, -1, -1), values.expand(batch, -1, -1)


def attention_with_prefix(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    prefix: tuple[torch.Tensor, torch.Tensor] | None,
    key_mask: torch.Tensor | None = None,
    dropout: float = 0.0,
) -> torch.Tensor:
    """Scaled dot-product attention over ``(B, heads, N, d)`` tensors with prefix keys/values
    ``(B, P, heads·d)`` prepended; ``key_mask`` ``(B, N)`` marks real (1) and padding (0) tokens, the
    prefix is always visible.  Returns ``(B, heads, N, d)``."""
    b, h, _, d = q.shape
    mask = None
    if prefix is not None:
        pk, pv = (t.reshape(b, -1, h, d).transpose(1, 2) for t in prefix)
        k, v = torch.cat([pk, k], dim=2), torch.cat([pv, v], dim=2)
        if key_mask is not None:
            key_mask = torch.cat([key_mask.new_ones(b, pk.shape[2]), key_mask], dim=1)
    if key_mask is not None:
        mask = key_mask[:, None, None, :].bool()
    return nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
