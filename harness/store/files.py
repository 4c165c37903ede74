"""Saving and loading a prototype store (safetensors through :mod:`harness.store.serialization`)."""

from __future__ import annotations

import os
from typing import Self

import torch

from harness.store import serialization
from harness.store.streaming import COVARIANCE_KINDS

# the dtypes a store file may name (an allow-list: never getattr on the torch module)
DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64}


class Files:
    """Mixin of :class:`harness.store.prototype_store.PrototypeStore`: save and load."""

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write the store to a safetensors file (atomically; no pickle)."""
        tensors = {
            "class_ids": torch.tensor(self._classes, dtype=torch.long),
            "proto_class": self.prototype_class_ids,
            "proto_slot": self.prototype_slots,
            "counts": self._n,
            "means": self._mu,
            "prototypes": self._protos,
        }
        if self._m2 is not None:
            tensors["m2"] = self._m2
        meta = {"dim": self.dim, "covariance": self.covariance_kind, "dtype": str(self.dtype).removeprefix("torch.")}
        serialization.write(path, tensors, meta)

    @classmethod
    def load(cls, path: str | os.PathLike, dim: int | None = None, device: str | torch.device = "auto", **options) -> Self:
        """Read a store written by :meth:`save`; ``dim`` (when given) must match the file's."""
        tensors, meta = serialization.read(path)
        try:
            file_dim, kind, dtype_name = int(meta["dim"]), meta["covariance"], meta["dtype"]
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}: corrupt prototype store metadata ({e!r})") from None
        if not isinstance(dtype_name, str) or dtype_name not in DTYPES:
            raise ValueError(f"{path}: prototype store metadata names dtype {str(dtype_name)[:40]!r}; known: {', '.join(DTYPES)}")
        if not (kind is None or isinstance(kind, str)) or kind not in COVARIANCE_KINDS:
            raise ValueError(f"{path}: prototype store metadata names covariance {str(kind)[:40]!r}; known: None, 'diag', 'full'")
        if file_dim < 1:
            raise ValueError(f"{path}: prototype store metadata gives dimension {file_dim}")
        dtype = DTYPES[dtype_name]
        if dim is not None and dim != file_dim:
            raise ValueError(f"{path}: the store holds features of dimension {file_dim}, expected {dim}")
        options.setdefault("dtype", dtype)
        options.setdefault("stats_dtype", tensors["means"].dtype)
        store = cls(file_dim, device=device, covariance=kind, **options)
        if any(tensors[k].dtype.is_floating_point or tensors[k].dtype == torch.bool for k in ("class_ids", "proto_class", "proto_slot")):
            raise ValueError(f"{path}: inconsistent prototype store file: class ids and slots must be integers")
        classes = tensors["class_ids"].tolist()
        keys = list(zip(tensors["proto_class"].tolist(), tensors["proto_slot"].tolist()))
        p = len(keys)
        expected = {"counts": (p,), "means": (p, file_dim), "prototypes": (p, file_dim)}
        if kind is not None:
            expected["m2"] = (p, file_dim) if kind == "diag" else (p, file_dim, file_dim)
        bad = [f"{k} {tuple(tensors[k].shape) if k in tensors else 'missing'} (expected {s})" for k, s in expected.items() if k not in tensors or tuple(tensors[k].shape) != s]
        if bad or len(set(keys)) != p or set(c for c, _ in keys) != set(classes) or len(set(classes)) != len(classes):
            raise ValueError(f"{path}: inconsistent prototype store file: {'; '.join(bad) or 'class ids do not match'}")
        store._classes = classes
        store._class_row = {c: i for i, c in enumerate(classes)}
        store._keys = keys
        store._proto_row = {k: i for i, k in enumerate(keys)}
        store._proto_class = torch.tensor([store._class_row[c] for c, _ in keys], dtype=torch.long, device=store.device)
        store._n = tensors["counts"].to(store.device, store.stats_dtype)
        store._mu = tensors["means"].to(store.device, store.stats_dtype)
        store._protos = tensors["prototypes"].to(store.device, store.dtype)
        if kind is not None:
            store._m2 = tensors["m2"].to(store.device, store.stats_dtype)
        store._changed()
        return store
