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

from harness.io import atomic_write_bytes, atomic_write_json, atomic_write_text, set_aside

FORMAT = 1
ENV_DIR = "OWLBENCH_CACHE_DIR"
EVENTS = "events.jsonl"
MARKER = "OWLBENCH_FEATURE_CACHE"
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


class CacheFolderError(RuntimeError):
    """The cache folder cannot be used (a file in its place, no permission); the message says how to fix it."""


RECORD_TYPES = {"key": str, "sha256": str, "shape": list, "description": dict}


def record_problem(meta: Any, key: str) -> str | None:
    """What is wrong with an entry's JSON record, ``None`` when it has the fields and types it must."""
    if not isinstance(meta, dict):
        return f"record holds {type(meta).__name__}, not an object"
    for field_name, kind in RECORD_TYPES.items():
        if not isinstance(meta.get(field_name), kind):
            return f"record has no {kind.__name__} {field_name!r}"
    if meta["key"] != key:
        return f"record names key {meta['key'][:40]!r}"
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in meta["shape"]):
        return "record's shape is not a list of sizes"
    return None


class FeatureCache:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()

    def _paths(self, key: str) -> tuple[Path, Path, Path]:
        return self.root / f"{key}.safetensors", self.root / f"{key}.json", self.root / f"{key}.lock"

    def ensure_root(self) -> None:
        """Make the cache folder (with its marker) or check it; one clear error when it cannot be used."""
        if self.root.exists() and not self.root.is_dir():
            raise CacheFolderError(f"feature cache folder {str(self.root)!r} is a file; remove it or set ${ENV_DIR} to a folder")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            marker = self.root / MARKER
            if not marker.exists():
                atomic_write_text(marker, "This folder is an owlbench feature cache; 'owlbench cache clear' empties it.\n")
        except OSError as exc:
            raise CacheFolderError(f"cannot use feature cache folder {str(self.root)!r}: {exc.strerror or exc}") from None

    def is_cache_folder(self) -> bool:
        """True when the folder carries the marker this cache writes when it creates it."""
        return (self.root / MARKER).is_file()

    # ------------------------------------------------------------------ reading
    def _read(self, key: str) -> torch.Tensor | None:
        """The entry's features, ``None`` when absent; :class:`CorruptEntry` when it fails a check."""
        from safetensors.torch import load as load_safetensors

        data_path, meta_path, _ = self._paths(key)
        if not meta_path.exists() and not meta_path.is_symlink():
            return None
        try:
            meta = json.loads(meta_path.read_bytes().decode("utf-8"))
            blob = data_path.read_bytes()
        except (OSError, ValueError) as exc:
            raise CorruptEntry(f"unreadable: {type(exc).__name__}: {exc}") from None
        problem = record_problem(meta, key)
        if problem:
            raise CorruptEntry(problem)
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
        """Remove an entry's files; anything in their place that is not a plain file (a folder, say)
        is moved aside intact (``<name>.damaged-N``) instead."""
        data_path, meta_path, _ = self._paths(key)
        for path in (meta_path, data_path):  # the record first: a half-removed entry reads as absent
            if path.is_symlink() or path.is_file():
                path.unlink(missing_ok=True)
            elif path.exists():
                set_aside(path)

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
        self.ensure_root()
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
        self.ensure_root()
        with open(self.root / EVENTS, "a", encoding="utf-8") as handle:  # one short line per append
            handle.write(json.dumps(record, sort_keys=True) + "\n")

    # ------------------------------------------------------------------ listing and clearing
    def _records(self) -> list[tuple[Path, Any]]:
        """``(path, parsed record or None)`` for every ``*.json`` file of the folder."""
        out = []
        for meta_path in sorted(self.root.glob("*.json")):
            try:
                out.append((meta_path, json.loads(meta_path.read_bytes().decode("utf-8"))))
            except (OSError, ValueError):
                out.append((meta_path, None))
        return out

    def entries(self) -> list[dict[str, Any]]:
        """The records of the finished entries, with the number of hits and misses logged for each;
        a record that does not have the expected fields is listed as ``unreadable``."""
        counts: dict[str, dict[str, int]] = {}
        for event in self.events():
            counts.setdefault(str(event.get("key", "")), {}).setdefault(str(event.get("event", "")), 0)
            counts[str(event.get("key", ""))][str(event.get("event", ""))] += 1
        out = []
        for meta_path, meta in self._records():
            if record_problem(meta, meta_path.stem) or not isinstance(meta.get("description", {}).get("dataset"), dict):
                out.append({"key": meta_path.stem, "unreadable": True, "events": {}})
                continue
            out.append({**meta, "events": counts.get(meta_path.stem, {})})
        return out

    def events(self) -> list[dict[str, Any]]:
        """The event log's records (lines that are not JSON objects are passed over)."""
        path = self.root / EVENTS
        if not path.is_file():
            return []
        out = []
        for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                out.append(record)
        return out

    def clear(self) -> int:
        """Remove the entries this cache wrote (their record names their key), their locks, the event
        log and the marker; return the number of entries removed.  A folder without the marker is
        refused (:class:`CacheFolderError`): nothing in it is touched."""
        if not self.root.is_dir() or not any(self.root.iterdir()):
            return 0
        if not self.is_cache_folder():
            raise CacheFolderError(
                f"{str(self.root)!r} is not an owlbench feature cache (no {MARKER} file in it); nothing was removed"
            )
        removed = 0
        for meta_path, meta in self._records():
            key = meta_path.stem
            if record_problem(meta, key):
                continue
            self._remove(key)
            for path in (self.root / f"{key}.lock", *self.root.glob(f".{key}.*.tmp")):
                path.unlink(missing_ok=True)
            removed += 1
        (self.root / EVENTS).unlink(missing_ok=True)
        (self.root / MARKER).unlink(missing_ok=True)
        return removed
