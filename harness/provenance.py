"""Provenance of a job: SHA-256 fingerprints of everything its numbers depend on, recorded in its
``config.json`` under ``provenance`` and checked again by ``owlbench verify``.

- ``dataset``: the train and the test split as loaded (after any split or subsampling): inputs (tensor
  bytes with dtype and shape; texts; image file paths with their sizes) and labels;
- ``plan``: the scenario plan (class order, each step's sample indices, classes, labeled flags);
- ``config``: the job's fully resolved config (the same canonical JSON its id hashes);
- ``files``: each file the resolved config names (a weights file, a user's data file), by path, and
  the published split files the scenario reads;
- ``backbone``: the frozen backbone's fingerprint (its weights' SHA-256, packaged or local, and its
  input transform), when the board has one.

Code (owlbench version, git commit, strategy and scenario sources) is fingerprinted separately, in
``config.json``'s ``code`` (:func:`harness.jobs.code_fingerprint`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.api.backbone import file_sha256
from harness.api.dataset import Dataset, ImageFiles
from harness.api.scenario import ScenarioPlan

def _update_inputs(digest, inputs) -> None:
    if isinstance(inputs, torch.Tensor):
        array = inputs.detach().cpu().contiguous().numpy()
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
    elif isinstance(inputs, ImageFiles):
        for path in inputs.paths:
            file = inputs.root / path
            digest.update(f"{path}\0{file.stat().st_size if file.exists() else -1}\0".encode())
    else:
        for text in inputs:
            digest.update(text.encode("utf-8") + b"\0")


def split_sha256(inputs, labels: torch.Tensor) -> str:
    digest = hashlib.sha256()
    _update_inputs(digest, inputs)
    _update_inputs(digest, labels)
    return digest.hexdigest()


def dataset_sha256(data: Dataset) -> dict[str, str]:
    return {"train": split_sha256(data.train_x, data.train_y), "test": split_sha256(data.test_x, data.test_y)}


def plan_sha256(plan: ScenarioPlan) -> str:
    digest = hashlib.sha256(json.dumps({"kind": plan.kind, "class_order": list(plan.class_order), "num_new_given": plan.num_new_given}).encode())
    for step in plan.steps:
        digest.update(json.dumps([list(step.new_classes), step.labeled, step.mixes_seen]).encode())
        digest.update(np.asarray(step.train_indices, dtype=np.int64).tobytes())
    return digest.hexdigest()


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def named_files(resolved: dict[str, Any]) -> dict[str, str]:
    """``{path: sha256}`` of every existing plain file named by a string of the resolved config."""
    out = {}
    for text in _strings(resolved):
        if len(text) < 4096 and ("/" in text or "." in text):
            path = Path(text).expanduser()
            try:
                if path.is_file():
                    out[text] = file_sha256(path)
            except OSError:
                continue
    return dict(sorted(out.items()))


def split_file_hashes(resolved: dict[str, Any], dataset_name: str) -> dict[str, str]:
    split = resolved["scenario"]["params"].get("split")
    if not isinstance(split, str):
        return {}
    from harness.datasets.published_splits import split_files

    return {f"split:{name}": hashlib.sha256(content).hexdigest() for name, content in split_files(split, dataset_name).items()}


def config_sha256(resolved: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(resolved, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def backbone_fingerprint(resolved: dict[str, Any]) -> dict[str, Any] | None:
    """The frozen backbone's own fingerprint (the SHA-256 of its weights, packaged or local, and its
    input transform: what keys the feature cache), ``None`` without a backbone."""
    entry = resolved.get("backbone")
    if not entry:
        return None
    from harness.api.registry import BACKBONES

    cls = BACKBONES.get(entry["name"])
    return cls(cls.Params.model_validate(entry["params"])).fingerprint()


def provenance(resolved: dict[str, Any], data: Dataset, plan: ScenarioPlan) -> dict[str, Any]:
    """The ``provenance`` block of a job's config.json."""
    out = {
        "dataset": dataset_sha256(data),
        "plan": plan_sha256(plan),
        "config": config_sha256(resolved),
        "files": {**named_files(resolved), **split_file_hashes(resolved, data.name)},
    }
    backbone = backbone_fingerprint(resolved)
    if backbone is not None:
        out["backbone"] = backbone
    return out
