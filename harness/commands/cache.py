"""``owlbench cache list|clear``: what the feature cache holds; empty it."""

from __future__ import annotations

import sys
from pathlib import Path


def _text(value: object, width: int) -> str:
    return str(value)[:width]


def cmd_cache(action: str, directory: str | None = None) -> int:
    from harness.backbones.feature_cache import CacheFolderError, FeatureCache  # imports torch: only when the command runs

    cache = FeatureCache(Path(directory) if directory else None)
    if action == "clear":
        try:
            print(f"removed {cache.clear()} entries from {cache.root}")
        except CacheFolderError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    entries = cache.entries() if cache.root.is_dir() else []
    print(f"{cache.root}: {len(entries)} entries")
    if entries:
        print(f"  {'key':<32}  {'dataset':<14} {'split':<5} {'backbone':<18} {'shape':<12} {'MB':>7} {'hits':>5} {'misses':>6}")
    total = 0
    for e in entries:
        if e.get("unreadable"):
            print(f"  {_text(e['key'], 32):<32}  (unreadable record)")
            continue
        d = e["description"]
        size = e.get("bytes") if isinstance(e.get("bytes"), int) else 0
        total += size
        events = {k: v for k, v in e["events"].items() if isinstance(v, int)}
        dataset, backbone = (d.get(k) if isinstance(d.get(k), dict) else {} for k in ("dataset", "backbone"))
        print(
            f"  {_text(e['key'], 32):<32}  {_text(dataset.get('name', '?'), 14):<14} {_text(d.get('split', '?'), 5):<5} "
            f"{_text(backbone.get('name', '?'), 18):<18} {'×'.join(str(s) for s in e['shape']):<12} "
            f"{size / 1e6:7.1f} {events.get('hit', 0):5d} {events.get('miss', 0):6d}"
        )
    if entries:
        print(f"  total {total / 1e6:.1f} MB")
    return 0
