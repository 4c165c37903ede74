"""Matmul precisions of the store's search and the bound on their rounding (see :mod:`harness.store.search`)."""

from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("highest", "tf32", "bf16")
UNIT_ROUNDOFF = {"bf16": 2.0**-8, "tf32": 2.0**-11}  # 8 and 11 significant bits


def rounding_constant(precision: str, terms: int) -> float:
    """``c`` of the search's docstring: a fast score is within ``c·Σ|q_i p_i|`` of the real one."""
    return 4 * UNIT_ROUNDOFF[precision] + 2 * terms * 2.0**-24


@contextlib.contextmanager
def _setting(owner, name: str, value):
    """``owner.name = value`` for the duration of the block, restored afterwards."""
    old = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, old)


def matmul_precision(precision: str, device: torch.device):
    """On CUDA: allow TF32 tensor-core matmuls for ``"tf32"``; keep bf16 matmuls' reductions in
    float32 for ``"bf16"`` (the rounding bound assumes float32 accumulation, no bf16 split-K sums).
    On CPU TF32 does not exist and the block runs in IEEE float32."""
    if device.type != "cuda" or precision == "highest":
        return contextlib.nullcontext()
    matmul = torch.backends.cuda.matmul
    if precision == "bf16":
        return _setting(matmul, "allow_bf16_reduced_precision_reduction", False)
    if hasattr(matmul, "fp32_precision"):
        return _setting(matmul, "fp32_precision", "tf32")
    return _setting(matmul, "allow_tf32", True)  # older torch
