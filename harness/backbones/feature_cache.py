"""Features of frozen backbones, computed once and shared on disk by every job and process.

An entry is keyed by the SHA-256 of its canonical description: dataset name and parameters, split,
a checksum of the split's inputs, backbone name and parameters, weights checksum and input
transform.  It is two files in the cache folder, each written atomically:

- ``<key>.safetensors`` (the ``N×D`` features), written first;
- ``<key>.json`` (the description, the SHA-256, shape and dtype of the features file), written last,
  so an entry without it is unfinished.

Every load checks the features file against the recorded SHA-256 and shape; a corrupt or truncated
entry is reported, removed and recomputed, never used.  A per-key file lock makes concurrent
processes compute an entry once: the first computes, the others wait and then read it.  Each lookup
is reported (hit, miss, corrupt) to the logger ``harness.backbones.feature_cache``, counted in
:data:`STATS`, and appended to ``events.jsonl`` in the cache folder; a computation is also
announced on standard error, since it may take minutes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from harness.io import atomic_write_bytes, atomic_write_json

FORMAT = 1
ENV_DIR = "OWLBENCH_CACHE_DIR"
EVENTS = "events.jsonl"
LOCK_TIMEOUT_S = 24 * 3600
log = logging.getLogger("harness.backbones.feature_cache")


def default_cache_dir() -> Path:
    """``$OWLBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/owlbench/features`` (``~/.cache`` by default)."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "owlbench" / "features"


def cache_key(description: dict[str, Any]) -> str:
    canonical = json.dumps({"format": FORMAT, **description}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass
class CacheStats:
    """Lookups of this process: ``hits`` read from disk, ``misses`` computed, ``corrupt`` entries
    detected (and then recomputed, so each also counts as a miss)."""

    hits: int = 0
    misses: int = 0
    corrupt: int = 0
    computed_s: float = field(default=0.0)

    def snapshot(self) -> dict[str, Any]:
        return {"hits": self.hits, "misses": self.misses, "corrupt": self.corrupt, "computed_s": round(self.computed_s, 3)}


STATS = CacheStats()


class CorruptEntry(Exception):
    """An entry whose files do not match their record."""


class FeatureCache:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()

    def _paths(self, key: str) -> tuple[Path, Path, Path]:
        return self.root / f"{key}.safetensors", self.root / f"{key}.json", self.root / f"{key}.lock"

    # ------------------------------------------------------------------ reading
    def _read(self, key: str) -> torch.Tensor | None:
        """The entry's features, ``None`` when absent; :class:`CorruptEntry` when it fails a check."""
        from safetensors.torch import load as load_safetensors

        data_path, meta_path, _ = self._paths(key)
        if not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            blob = data_path.read_bytes()
        except (OSError, ValueError) as exc:
            raise CorruptEntry(f"unreadable: {exc}") from None
        if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
            raise CorruptEntry(f"checksum mismatch ({len(blob)} bytes, {meta.get('bytes')} recorded)")
        try:
            features = load_safetensors(blob)["features"]
        except Exception as exc:  # a file that matches its checksum but does not parse
            raise CorruptEntry(f"unparsable: {exc}") from None
        if list(features.shape) != meta.get("shape"):
            raise CorruptEntry(f"shape {list(features.shape)} != recorded {meta.get('shape')}")
        return features

    def _remove(self, key: str) -> None:
        data_path, meta_path, _ = self._paths(key)
        meta_path.unlink(missing_ok=True)  # the record first: a half-removed entry reads as absent
        data_path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ the one entry point
    def get_or_compute(
        self, description: dict[str, Any], compute: Callable[[], torch.Tensor], label: str = "", note: dict[str, Any] | None = None
    ) -> torch.Tensor:
        """The cached features of ``description``, computing and storing them on a miss; ``note`` is
        recorded with a new entry but is not part of its key (e.g. the device that computed it)."""
        from filelock import FileLock

        key = cache_key(description)
        try:
            features = self._read(key)
        except CorruptEntry:
            features = None  # decided again under the lock: a writer may be replacing it right now
        if features is not None:
            self._event("hit", key, label)
            return features
        self.root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self._paths(key)[2]), timeout=LOCK_TIMEOUT_S):
            try:
                features = self._read(key)
            except CorruptEntry as exc:
                self._event("corrupt", key, label, detail=str(exc))
                self._remove(key)
                features = None
            if features is not None:
                self._event("hit", key, label)
                return features
            print(f"feature cache: computing {label or key} (key {key}) ...", file=sys.stderr, flush=True)
            started = time.perf_counter()
            features = compute().to("cpu", torch.float32).contiguous()
            seconds = time.perf_counter() - started
            self._write(key, description, features, seconds, note or {})
            self._event("miss", key, label, seconds=seconds)
            return features

    def _write(self, key: str, description: dict[str, Any], features: torch.Tensor, seconds: float, note: dict[str, Any]) -> None:
        from safetensors.torch import save as save_safetensors

        data_path, meta_path, _ = self._paths(key)
        blob = save_safetensors({"features": features})
        atomic_write_bytes(data_path, blob)
        atomic_write_json(
            meta_path,
            {
                "key": key,
                "format": FORMAT,
                "description": description,
                "sha256": hashlib.sha256(blob).hexdigest(),
                "bytes": len(blob),
                "shape": list(features.shape),
                "dtype": str(features.dtype).removeprefix("torch."),
                "compute_s": round(seconds, 3),
                "note": note,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )

    def _event(self, event: str, key: str, label: str, **extra: Any) -> None:
        if event == "hit":
            STATS.hits += 1
        elif event == "miss":
            STATS.misses += 1
            STATS.computed_s += extra.get("seconds", 0.0)
        elif event == "corrupt":
            STATS.corrupt += 1
        level = logging.WARNING if event == "corrupt" else logging.INFO
        log.log(level, "feature cache %s: %s (%s)%s", event, label or key, key, f" {extra}" if extra else "")
        record = {"time": time.time(), "event": event, "key": key, "label": label, "pid": os.getpid(), **extra}
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / EVENTS, "a", encoding="utf-8") as handle:  # one short line per append
            handle.write(json.dumps(record, sort_keys=True) + "\n")

    # ------------------------------------------------------------------ listing and clearing
    def entries(self) -> list[dict[str, Any]]:
        """The records of the finished entries, with the number of hits and misses logged for each."""
        counts: dict[str, dict[str, int]] = {}
        for event in self.events():
            counts.setdefault(event.get("key", ""), {}).setdefault(event.get("event", ""), 0)
            counts[event["key"]][event["event"]] += 1
        out = []
        for meta_path in sorted(self.root.glob("*.json")):
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                meta = {"key": meta_path.stem, "unreadable": True}
            out.append({**meta, "events": counts.get(meta.get("key", meta_path.stem), {})})
        return out

    def events(self) -> list[dict[str, Any]]:
        path = self.root / EVENTS
        if not path.exists():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def clear(self) -> int:
        """Remove every entry, lock and the event log; return the number of entries removed."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for meta_path in self.root.glob("*.json"):
            self._remove(meta_path.stem)
            removed += 1
        for pattern in ("*.safetensors", "*.lock", ".*.tmp", EVENTS):
            for path in self.root.glob(pattern):
                path.unlink(missing_ok=True)
        return removed
