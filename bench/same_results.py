"""The same boards at an earlier commit and at the working tree: are their result files byte-identical?

Each board runs twice with ``owlbench run BOARD --output ... --quiet``, once in a temporary git
worktree of ``--before`` (its own code and board file, the same Python environment) and once in
this checkout, each into a fresh folder; a board file that changed in between is pointed out.  Compared byte for byte: ``leaderboard.csv`` (the results without wall times),
``steps.csv``, ``scorers.csv`` and ``comparisons.csv`` where the board writes them.  Printed: the
wall seconds of each run, the SHA-256 of each file at both commits, and ``identical`` or the first
differing lines.  Exit status 1 when any file differs.

    python bench/same_results.py --before 75a66f0 quickstart fashion-mnist open-set-mnist
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ("leaderboard.csv", "steps.csv", "scorers.csv", "comparisons.csv")


def run_board(tree: Path, board: str, out: Path) -> float:
    started = time.perf_counter()
    command = [sys.executable, "-m", "harness.cli", "run", f"leaderboards/{board}.yaml", "--output", str(out), "--quiet"]
    subprocess.run(command, cwd=tree, check=True, stdout=subprocess.DEVNULL)  # cwd first on sys.path: that tree's code
    return time.perf_counter() - started


def result_file(out: Path, name: str) -> Path | None:
    found = sorted(out.glob(f"*/{name}"))
    return found[0] if found else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True, help="the earlier commit (any git revision)")
    ap.add_argument("boards", nargs="+", help="board names under leaderboards/ (without .yaml)")
    args = ap.parse_args()
    for board in args.boards:
        if not (ROOT / "leaderboards" / f"{board}.yaml").is_file():
            print(f"error: leaderboards/{board}.yaml not found", file=sys.stderr)
            return 2
    differs = False
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(before), args.before], cwd=ROOT, check=True)
        try:
            for board in args.boards:
                if not (before / "leaderboards" / f"{board}.yaml").is_file():
                    print(f"{board}: no such board at {args.before}; skipped")
                    continue
                outs = {side: Path(tmp) / side / board for side in ("before", "now")}
                walls = {side: run_board(tree, board, outs[side]) for side, tree in (("before", before), ("now", ROOT))}
                print(f"{board}: {walls['before']:.0f} s at {args.before}, {walls['now']:.0f} s now", flush=True)
                board_file = Path("leaderboards") / f"{board}.yaml"
                if (before / board_file).read_bytes() != (ROOT / board_file).read_bytes():
                    print(f"  note: {board_file} itself differs between the two commits (each ran its own)")
                for name in FILES:
                    old, new = result_file(outs["before"], name), result_file(outs["now"], name)
                    if old is None and new is None:
                        continue
                    if old is None or new is None:
                        print(f"  {name}: written only {'now' if old is None else 'before'}")
                        differs = True
                        continue
                    a, b = old.read_bytes(), new.read_bytes()
                    digest = hashlib.sha256(a).hexdigest()[:16], hashlib.sha256(b).hexdigest()[:16]
                    print(f"  {name}: {digest[0]} / {digest[1]}  {'identical' if a == b else 'DIFFERENT'}")
                    if a != b:
                        differs = True
                        diff = difflib.unified_diff(a.decode().splitlines(), b.decode().splitlines(), "before", "now", lineterm="", n=0)
                        for line in list(diff)[:12]:
                            print(f"    {line}")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=ROOT, check=False)
    return 1 if differs else 0


if __name__ == "__main__":
    sys.exit(main())
