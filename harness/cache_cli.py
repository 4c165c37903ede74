"""``owlbench cache list`` and ``owlbench cache clear``: what the feature cache holds, and emptying it."""

from __future__ import annotations

from pathlib import Path


def add_cache_parser(sub) -> None:
    cache = sub.add_parser("cache", help="list or clear the feature cache")
    cache.add_argument("action", choices=("list", "clear"), help="list the entries, or remove them all")
    cache.add_argument("--dir", help="cache folder (default: $OWLBENCH_CACHE_DIR or ~/.cache/owlbench/features)")


def cmd_cache(action: str, directory: str | None = None) -> int:
    from harness.feature_cache import FeatureCache  # imports torch: only when the command runs

    cache = FeatureCache(Path(directory) if directory else None)
    if action == "clear":
        print(f"removed {cache.clear()} entries from {cache.root}")
        return 0
    entries = cache.entries() if cache.root.is_dir() else []
    print(f"{cache.root}: {len(entries)} entries")
    if entries:
        print(f"  {'key':<32}  {'dataset':<14} {'split':<5} {'backbone':<18} {'shape':<12} {'MB':>7} {'hits':>5} {'misses':>6}")
    total = 0
    for e in entries:
        if e.get("unreadable"):
            print(f"  {e['key']:<32}  (unreadable record)")
            continue
        d = e["description"]
        total += e["bytes"]
        shape = "×".join(str(s) for s in e["shape"])
        print(
            f"  {e['key']:<32}  {d['dataset']['name']:<14} {d['split']:<5} {d['backbone']['name']:<18} {shape:<12} "
            f"{e['bytes'] / 1e6:7.1f} {e['events'].get('hit', 0):5d} {e['events'].get('miss', 0):6d}"
        )
    if entries:
        print(f"  total {total / 1e6:.1f} MB")
    return 0
