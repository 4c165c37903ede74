"""Cold vs warm feature cache on a leaderboard: the second run must compute no features and be faster.

Both runs are fresh processes running the same board into fresh output folders (so every job runs
both times) with one new cache folder; only the cache state differs.  The cache's own event log
counts the features computed ("miss") and read ("hit") by each run.

    python bench/feature_cache.py [--board leaderboards/wordnet100.yaml] [--min-speedup 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def events(cache: Path) -> list[dict]:
    path = cache / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def run(board: Path, out: Path, cache: Path) -> tuple[float, list[dict]]:
    before = len(events(cache))
    env = {**os.environ, "OWLBENCH_CACHE_DIR": str(cache)}
    started = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "run_benchmark.py"), "run", str(board), "--output", str(out), "--quiet"], env=env, check=True)
    return time.perf_counter() - started, events(cache)[before:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default=str(ROOT / "leaderboards/wordnet100.yaml"))
    parser.add_argument("--min-speedup", type=float, default=5.0)
    parser.add_argument("--keep", help="copy the cold run's leaderboard.md here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="owlbench-bench-") as tmp:
        tmp = Path(tmp)
        cache = tmp / "cache"
        cold_s, cold = run(Path(args.board), tmp / "cold", cache)
        warm_s, warm = run(Path(args.board), tmp / "warm", cache)
        count = lambda evs, kind: sum(e["event"] == kind for e in evs)  # noqa: E731
        boards = [p for p in (tmp / "cold").iterdir() if p.is_dir()]
        name = boards[0].name
        same = (tmp / "cold" / name / "leaderboard.csv").read_bytes() == (tmp / "warm" / name / "leaderboard.csv").read_bytes()
        if args.keep:
            Path(args.keep).write_text((tmp / "cold" / name / "leaderboard.md").read_text())
    speedup = cold_s / warm_s
    print(f"board {name}: {len(set(e['key'] for e in cold))} feature sets")
    print(f"cold run: {cold_s:7.1f} s  features computed {count(cold, 'miss')}, read {count(cold, 'hit')}")
    print(f"warm run: {warm_s:7.1f} s  features computed {count(warm, 'miss')}, read {count(warm, 'hit')}")
    print(f"speedup cold/warm: {speedup:.1f}x  (required >= {args.min_speedup:g}x); identical leaderboard.csv: {same}")
    ok = count(warm, "miss") == 0 and speedup >= args.min_speedup and same
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
