"""What the predictions archives cost: a board's wall time with ``archive_top_k: 5`` against the same
board with ``archive_top_k: 0`` (no archive), and the archives' size per 1,000 test samples per step.

    python bench/archive_cost.py [--board leaderboards/quickstart.yaml] [--repeats 3] [--set KEY=VALUE ...]

Each run is a fresh ``owlbench run`` process into an empty results folder (so every job runs; the
feature cache, if the board uses one, is warmed by a first untimed run).  The two settings alternate
within each round, so that a change in the machine's load hits them alike; the median wall times
and their ratio are printed, with the archive bytes per 1,000 test samples per step, and whether
both settings wrote the same ``leaderboard.csv``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def run(board: str, out: Path, top_k: int, overrides: list[str]) -> float:
    sets = [arg for value in [*overrides, f"archive_top_k={top_k}"] for arg in ("--set", value)]
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness.cli", "run", board, "--output", str(out), "--quiet", *sets], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def archive_density(board_dir: Path) -> tuple[int, float]:
    """(total archive bytes, bytes per 1,000 test samples per step)."""
    total, sample_steps = 0, 0
    for path in board_dir.glob("*/predictions.npz"):
        total += path.stat().st_size
        with np.load(path, allow_pickle=False) as archive:
            steps = sum(1 for name in archive.files if name.endswith("/predicted"))
            sample_steps += len(archive["test_y"]) * steps
    return total, total / sample_steps * 1000 if sample_steps else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--board", default="leaderboards/quickstart.yaml")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE")
    args = parser.parse_args()
    times: dict[int, list[float]] = {5: [], 0: []}
    with tempfile.TemporaryDirectory(prefix="owlbench-archive-cost-") as tmp:
        root = Path(tmp)
        run(args.board, root / "warm", 0, args.overrides)  # warms the feature cache and the OS's file cache
        for r in range(args.repeats):
            for top_k in (5, 0) if r % 2 == 0 else (0, 5):
                times[top_k].append(run(args.board, root / f"k{top_k}-{r}", top_k, args.overrides))
        name = json.loads(next((root / "k5-0").glob("*/board.json")).read_text())["board"]
        reference = (root / "k5-0" / name / "leaderboard.csv").read_text().splitlines()
        differing = []
        for k in (5, 0):
            for r in range(args.repeats):
                lines = (root / f"k{k}-{r}" / name / "leaderboard.csv").read_text().splitlines()
                differing += [f"k{k}-{r} row {i}: {a[:80]} | {b[:80]}" for i, (a, b) in enumerate(zip(reference, lines)) if a != b]
        same = not differing
        total, per_thousand = archive_density(root / "k5-0" / name)
    with_archive, without = statistics.median(times[5]), statistics.median(times[0])
    print(f"board {args.board}: {args.repeats} runs each, alternating")
    print(f"archive_top_k 5: median {with_archive:.2f} s  ({', '.join(f'{t:.2f}' for t in times[5])})")
    print(f"archive_top_k 0: median {without:.2f} s  ({', '.join(f'{t:.2f}' for t in times[0])})")
    print(f"ratio with/without archives: {with_archive / without:.3f}")
    print(f"archives: {total / 1e6:.2f} MB in all, {per_thousand / 1e3:.1f} kB per 1,000 test samples per step")
    print(f"identical leaderboard.csv in every run: {same}")
    for line in differing[:10]:
        print(f"  differs: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
