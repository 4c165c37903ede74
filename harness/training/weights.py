"""Reading network weights from local files, strictly: a file that does not fit is one clear error."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


def read_state_dict(path: Path, unwrap: bool = True) -> dict[str, torch.Tensor]:
    """A state dict from ``.safetensors`` or a torch file (``weights_only=True``); with ``unwrap``, a
    ``state_dict`` entry is returned instead of the mapping holding it."""
    path = Path(path).expanduser()
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if unwrap and isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    return state


def load_strict(module: nn.Module, state: object, where: str) -> None:
    """``module.load_state_dict(state, strict=True)``; any mismatch is a ``ValueError`` naming ``where``."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{where}: not a state dict of tensors")
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise ValueError(f"{where}: the weights do not fit the network ({' '.join(first[:3])[:300]})") from None


def read_file(path: str | Path, what: str) -> object:
    """The contents of a weights file; a ``ValueError`` naming it when it cannot be read."""
    path = Path(path).expanduser()
    try:
        return read_state_dict(path, unwrap=False)
    except FileNotFoundError:
        raise ValueError(f"{what} {str(path)!r} does not exist") from None
    except Exception as exc:  # truncated, not a torch file, pickled code refused by weights_only
        raise ValueError(f"{what} {str(path)!r} cannot be read: {type(exc).__name__}: {str(exc)[:200]}") from None
