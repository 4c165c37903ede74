"""Executor benchmark: one 16-job board run by the ``local`` executor and by ``process`` with 2 workers.

    python bench/executors.py [--epochs 60] [--workers 2] [--repeats 2]

``local`` runs once with torch's default thread count and once with one thread
(``OMP_NUM_THREADS=1``), the setting each of the 2 workers gets. The board (digits; cil 4+2×3 and
fscil 4+2×3 2-way 5-shot; a fine-tuned MLP, ``bench/finetune_mlp.py``, at two learning rates; 4
seeds) is written to a temporary YAML and run through the command line, each run into an empty
results folder, so every timing includes starting Python and importing torch (and, for
``process``, starting the workers). The configurations alternate within each round, so that a change
in the machine's load hits them alike; the median wall time of each is reported with the ratios, and
whether all leaderboards are byte-identical.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def board(epochs: int) -> dict:
    return {
        "name": "executors",
        "dataset": "digits",
        "scenarios": [
            {"kind": "cil", "base_classes": 4, "increment": 2},
            {"kind": "fscil", "base_classes": 4, "ways": 2, "shots": 5},
        ],
        "strategies": [{"name": "finetune_mlp:FinetuneMLP", "label": "finetune", "epochs": epochs, "grid": {"lr": [0.02, 0.05]}}],
        "seeds": [0, 1, 2, 3],
        "device": "cpu",
    }


def run(config: Path, output: Path, *executor: str, threads: int | None = None) -> float:
    """Wall time of one run into an empty folder."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)  # torch's default intra-op thread count
    if output.exists():
        shutil.rmtree(output)
    command = [sys.executable, "-m", "harness.cli", "run", str(config), "--output", str(output), "--quiet", *executor]
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--epochs", type=int, default=60,
        help="epochs per step of the fine-tuned MLP: the job length (60: about 1-3 s per job on one core; "
        "at 8, jobs of 0.2-0.4 s leave little but start-up to parallelise)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="rounds; the configurations alternate within a round")
    args = parser.parse_args()
    setups = {
        "local (torch's default threads)": (("--executor", "local"), None),
        "local, 1 torch thread": (("--executor", "local"), 1),
        f"process, {args.workers} workers": (("--executor", "process", "--workers", str(args.workers)), None),
    }
    times: dict[str, list[float]] = {name: [] for name in setups}
    tables = set()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config = tmp / "board.yaml"
        config.write_text(yaml.safe_dump(board(args.epochs)))
        for _ in range(args.repeats):
            for k, (name, (flags, threads)) in enumerate(setups.items()):
                times[name].append(run(config, tmp / f"out{k}", *flags, threads=threads))
                tables.add((tmp / f"out{k}/executors/leaderboard.csv").read_bytes())
    print(f"16 jobs, {args.epochs} epochs per step, {os.cpu_count()} CPUs, {args.repeats} rounds, "
          f"load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after")
    median = {name: statistics.median(runs) for name, runs in times.items()}
    for name, runs in times.items():
        print(f"{name:<34} wall median {median[name]:6.1f} s (runs: {', '.join(f'{w:.1f}' for w in runs)})")
    process = median[f"process, {args.workers} workers"]
    print(f"speed-up process / local:               {median['local (torch' + chr(39) + 's default threads)'] / process:5.2f}x")
    print(f"speed-up process / local with 1 thread: {median['local, 1 torch thread'] / process:5.2f}x")
    print(f"leaderboards identical: {len(tables) == 1}")


if __name__ == "__main__":
    main()
