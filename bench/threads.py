"""The harness's choice of torch threads per job against one thread and against every core, on an idle
machine and beside a CPU load, in one run.

Boards (each run by ``owlbench run`` in a fresh process, into a fresh folder, with ``--set threads=…``):

- the quickstart (digits; local executor: jobs one after another in one process);
- the MNIST family with trained backbones (``leaderboards/mnist-family.yaml``, its cil scenario and
  seed 0: NMC on pixels, FeTrIL and TEEN each training a CNN; process executor, one worker per CPU);
- LetterRecognition NCD (``leaderboards/letters-ncd.yaml``, seed 0: two NMC variants clustering 3,773
  unlabeled letters, with k given and estimated; local executor; not in the default set).

Conditions: idle, and with a load generator beside the run (one busy Python process per CPU, as
other work on a shared machine).  Settings: ``auto`` (the harness's choice), ``1`` and the number of
CPUs.  With ``--repeats R`` each setting runs R times, the settings taking turns (auto, 1, N, then
1, N, auto, ...) so that a slow spell of the machine falls on all of them; each setting's fastest run
is kept.  Printed: wall seconds per setting (fastest, and the spread of its runs), the threads
``auto`` gave the jobs (read from their ``config.json``), the best setting per board and condition,
and the choice's time over the best (target: at most 1.10).  The three settings give the same
numbers (``tests/harness/test_threads.py``); this only measures time.

    python bench/threads.py [--repeats 1] [--boards quickstart mnist-family letters-ncd]
"""

from __future__ import annotations

import argparse
import json
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
    "letters-ncd": (ROOT / "leaderboards" / "letters-ncd.yaml", ["--set", "seeds=[0]"]),
}


def _spin() -> None:  # pragma: no cover - runs in the load processes
    while True:
        pass


def run_once(board: Path, extra: list[str], threads: str, out: Path) -> tuple[float, set[int]]:
    """Wall seconds of one ``owlbench run``, and the thread counts its jobs used."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "harness.cli", "run", str(board), "--output", str(out), "--quiet", "--set", f"threads={threads}", *extra]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    used = {json.loads(f.read_text())["threads"]["used"] for f in out.glob("*/*/config.json")}
    return wall, used


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boards", nargs="+", choices=sorted(BOARDS), default=["quickstart", "mnist-family"])
    ap.add_argument("--repeats", type=int, default=1, help="runs per setting; the best is kept")
    args = ap.parse_args()
    cpus = len(os.sched_getaffinity(0))
    settings = ["auto", "1", str(cpus)]
    print(f"{cpus} CPUs; settings: {', '.join(settings)}; best of {args.repeats} run(s) each, taking turns", flush=True)
    rows = []
    for condition in ("idle", "loaded"):
        load = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(cpus if condition == "loaded" else 0)]
        for process in load:
            process.start()
        try:
            for name in args.boards:
                board, extra = BOARDS[name]
                runs: dict[str, list[float]] = {t: [] for t in settings}
                auto_used: set[int] = set()
                for repeat in range(args.repeats):
                    for threads in settings[repeat % len(settings) :] + settings[: repeat % len(settings)]:
                        with tempfile.TemporaryDirectory() as tmp:
                            wall, used = run_once(board, extra, threads, Path(tmp))
                        runs[threads].append(wall)
                        if threads == "auto":
                            auto_used |= used
                times = {t: min(v) for t, v in runs.items()}
                fastest = min(times.values())
                rows.append((name, condition, times, times["auto"] / fastest))
                cells = "  ".join(f"threads={t}: {times[t]:6.1f} s ({min(v):.1f}-{max(v):.1f})" for t, v in runs.items())
                print(f"  {name:13s} {condition:6s} {cells}   auto used {sorted(auto_used)}   auto / best {times['auto'] / fastest:.2f}", flush=True)
        finally:
            for process in load:
                process.terminate()
                process.join()
    worst = max(r[3] for r in rows)
    print(f"worst auto / best: {worst:.2f} (target <= 1.10): {'met' if worst <= 1.10 else 'NOT met'}")


if __name__ == "__main__":
    main()
