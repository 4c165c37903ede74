"""Executor benchmark: one 16-job board run by the ``local`` executor and by ``process`` with 2 workers.

    python bench/executors.py [--epochs 4] [--workers 2]

``local`` runs once with torch's default thread count and once with one thread (``OMP_NUM_THREADS=1``),
the setting each of the 2 workers gets. The board (digits; cil 4+2×3 and fscil 4+2×3 2-way 5-shot; fine-tuned MLP at two learning rates;
4 seeds) is written to a temporary YAML and run twice through the command line, each into its own
empty results folder, so both timings include starting Python and importing torch. Prints both wall
times and their ratio, and whether the two leaderboards are byte-identical.
"""

from __future__ import annotations

import argparse
import os
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
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)  # torch's default intra-op thread count
    command = [sys.executable, "-m", "harness.cli", "run", str(config), "--output", str(output), "--quiet", *executor]
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4, help="epochs per step of the fine-tuned MLP (job length)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config = tmp / "board.yaml"
        config.write_text(yaml.safe_dump(board(args.epochs)))
        local = run(config, tmp / "local", "--executor", "local")
        single = run(config, tmp / "single", "--executor", "local", threads=1)
        process = run(config, tmp / "process", "--executor", "process", "--workers", str(args.workers))
        tables = [(tmp / name / "executors/leaderboard.csv").read_bytes() for name in ("local", "single", "process")]
    print(f"16 jobs, {args.epochs} epochs per step, {os.cpu_count()} CPUs")
    print(f"local (torch's default threads): {local:7.1f} s")
    print(f"local, 1 torch thread:           {single:7.1f} s")
    print(f"process, {args.workers} workers:              {process:7.1f} s")
    print(f"speed-up process / local:               {local / process:5.2f}x")
    print(f"speed-up process / local with 1 thread: {single / process:5.2f}x")
    print(f"leaderboards identical: {len(set(tables)) == 1}")


if __name__ == "__main__":
    main()
