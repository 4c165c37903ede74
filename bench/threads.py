"""The harness's choice of torch threads per job against one thread and against every core, on an idle
machine and beside a CPU load, in one run.

Boards (each run by ``owlbench run`` in a fresh process, into a fresh folder, with ``--set threads=…``):

- the quickstart (digits; local executor: jobs one after another in one process);
- the MNIST family with trained backbones (``leaderboards/mnist-family.yaml``, its cil scenario and
  seed 0: NMC on pixels, FeTrIL and TEEN each training a CNN; process executor, one worker per CPU).

Conditions: idle, and with a load generator beside the run (one busy Python process per CPU, as
other work on a shared machine).  Settings: ``auto`` (the harness's choice), ``1`` and the number of
CPUs.  Printed: wall seconds of each run, the best of the three per board and condition, and the
choice's time over the best (target: at most 1.10).  The three settings give the same numbers
(``tests/harness/test_threads.py``); this only measures time.

    python bench/threads.py [--repeats 1] [--boards quickstart mnist-family]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOARDS = {
    "quickstart": (ROOT / "leaderboards" / "quickstart.yaml", []),
    "mnist-family": (ROOT / "leaderboards" / "mnist-family.yaml", ["--set", "seeds=[0]", "--set", "scenarios=[{kind: cil, base_classes: 15, increment: 5}]"]),
}


def _spin() -> None:  # pragma: no cover - runs in the load processes
    while True:
        pass


def run_once(board: Path, extra: list[str], threads: str, out: Path) -> float:
    started = time.perf_counter()
    command = [sys.executable, "-m", "harness.cli", "run", str(board), "--output", str(out), "--quiet", "--set", f"threads={threads}", *extra]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boards", nargs="+", choices=sorted(BOARDS), default=list(BOARDS))
    ap.add_argument("--repeats", type=int, default=1, help="runs per setting; the best is kept")
    args = ap.parse_args()
    cpus = len(os.sched_getaffinity(0))
    settings = ["auto", "1", str(cpus)]
    print(f"{cpus} CPUs; settings: {', '.join(settings)}; best of {args.repeats} run(s) each")
    rows = []
    for condition in ("idle", "loaded"):
        load = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(cpus if condition == "loaded" else 0)]
        for process in load:
            process.start()
        try:
            for name in args.boards:
                board, extra = BOARDS[name]
                times = {}
                for threads in settings:
                    best = float("inf")
                    for _ in range(args.repeats):
                        with tempfile.TemporaryDirectory() as tmp:
                            best = min(best, run_once(board, extra, threads, Path(tmp)))
                    times[threads] = best
                fastest = min(times.values())
                rows.append((name, condition, times, times["auto"] / fastest))
                print(f"  {name:13s} {condition:6s} " + "  ".join(f"threads={t}: {v:6.1f} s" for t, v in times.items()) + f"   auto / best {times['auto'] / fastest:.2f}")
        finally:
            for process in load:
                process.terminate()
                process.join()
    worst = max(r[3] for r in rows)
    print(f"worst auto / best: {worst:.2f} (target <= 1.10): {'met' if worst <= 1.10 else 'NOT met'}")


if __name__ == "__main__":
    main()
