"""What a job's strategy receives as inputs: the dataset's own tensors, or, when the board names a
frozen backbone, the backbone's features of them, read from (or computed once into) the feature cache."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch

from harness.devices import resolve_device
from harness.api.dataset import Dataset, ImageFiles, Inputs
from harness.api.errors import ConfigError
from harness.backbones.feature_cache import FeatureCache
from harness.api.registry import BACKBONES

ACCEPTS = {"text": ("text",), "image": ("tensor", "image-files")}


def check_backbone(entry, data: Dataset, needs_features: bool = True) -> None:
    """A text or image-file dataset needs a backbone (unless every strategy encodes its own inputs,
    ``needs_features=False``), and the backbone must accept the dataset's inputs."""
    if entry is None:
        if data.modality != "tensor" and needs_features:
            kind = "text" if data.modality == "text" else "image"
            known = [n for n in BACKBONES.names() if BACKBONES.get(n).modality == kind]
            raise ConfigError(
                "backbone",
                f"dataset {data.name!r} holds {data.modality} inputs, which strategies cannot use directly; "
                f"name a frozen {kind} backbone (known: {', '.join(known) or 'none'})",
            )
        return
    modality = BACKBONES.get(entry.name).modality
    if data.modality not in ACCEPTS.get(modality, ()):
        raise ConfigError("backbone.name", f"backbone {entry.name!r} encodes {modality} inputs; dataset {data.name!r} holds {data.modality} inputs")


def content_sha256(inputs: Inputs) -> str:
    """Checksum of a split's inputs (tensor bytes, texts, or image paths and sizes)."""
    digest = hashlib.sha256()
    if isinstance(inputs, torch.Tensor):
        array = np.ascontiguousarray(inputs.numpy())
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    elif isinstance(inputs, ImageFiles):
        for path in inputs.paths:
            digest.update(f"{path}\0{(inputs.root / path).stat().st_size}\n".encode())
    else:
        for text in inputs:
            digest.update(text.encode("utf-8") + b"\0")
    return digest.hexdigest()


def feature_description(dataset, backbone_entry, fingerprint: dict[str, Any], split: str, inputs: Inputs) -> dict[str, Any]:
    """Everything the features of one split depend on: the feature-cache key is its hash."""
    return {
        "dataset": {"name": dataset.name, "params": dataset.params.model_dump(mode="json")},
        "split": split,
        "inputs_sha256": content_sha256(inputs),
        "num_samples": len(inputs),
        "backbone": {"name": backbone_entry.name, "params": backbone_entry.params.model_dump(mode="json")},
        **fingerprint,
    }


def job_inputs(job, data: Dataset, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Train and test inputs of a job: images as ``C×H×W`` floats and vectors as ``D`` without a
    backbone; ``N×D`` cached features with one (``job.backbone``).  A strategy that encodes its own
    inputs prepares the dataset's raw inputs itself (:meth:`harness.api.strategy.Strategy.prepare_inputs`)."""
    entry = getattr(job, "backbone", None)
    check_backbone(entry, data)
    if entry is None:
        return data.train_x, data.test_x
    backbone = BACKBONES.get(entry.name)(entry.params)
    fingerprint = backbone.fingerprint()
    device = device or resolve_device(job.device)
    cache = FeatureCache()
    out = []
    for split, inputs in (("train", data.train_x), ("test", data.test_x)):
        description = feature_description(job.dataset, entry, fingerprint, split, inputs)
        label = f"{data.name}/{split}/{entry.name}"
        # the device is recorded, not keyed: CPU and GPU features of one model differ only by rounding
        note = {"device": str(device)}
        out.append(cache.get_or_compute(description, lambda x=inputs: backbone.encode(x, device), label=label, note=note))
    return out[0], out[1]
