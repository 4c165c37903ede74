"""NMC at many classes: dense logits against the prototype store's summaries, measured in one run.

Two measurements, each mode in a fresh process (so that one's memory does not colour the other's):

1. the board itself (default ``leaderboards/large-classes-100k.yaml``; ``--small``: the 10,000-class
   board) run by ``owlbench run`` with ``predictions: dense`` and with ``predictions: summary``
   into folders of their own: every step's evaluation seconds (``cost.eval_s`` of each job's
   metrics.json: prediction, checks, metrics), their ratio, the job's peak RSS, and whether
   leaderboard.csv, steps.csv and every job's metrics (summary and steps) are identical;
2. one evaluation step as the runner does it (predict in batches, check, archive) after
   NMC has learned every class of the board: wall time and the growth of the resident set during
   the step (``VmHWM`` after resetting it through ``/proc/self/clear_refs``, minus ``VmRSS``
   before), against the store's memory budget.

    python bench/large_classes.py [--small] [--board PATH] [--keep DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = ("dense", "summary")


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def one_step(board: str, mode: str) -> dict:
    """Child process: NMC learns every step of the board's first NMC job, then one evaluation step."""
    import numpy as np
    import torch

    from harness.api.registry import SCENARIOS, STRATEGIES
    from harness.api.strategy import StrategyContext
    from harness.backbones.inputs import job_inputs
    from harness.config import load_config
    from harness.datasets.loading import load_dataset
    from harness.metrics.evaluator import prediction_problem
    from harness.predictions import PredictionRecorder
    from harness.runner import learn_step, predict_in_batches, remap, summary_request
    from harness.sweep import expand

    job = next(j for j in expand(load_config(Path(board))) if j.strategy.name == "nmc")
    job = dataclasses.replace(job, predictions=mode)
    data = load_dataset(job.dataset.name, job.dataset.params)
    plan = SCENARIOS.get(job.scenario.name)().plan(job.scenario.params, data, job.seed)
    train_y = torch.from_numpy(remap(data.train_y.numpy(), plan))
    test_y = remap(data.test_y.numpy(), plan)
    train_x, test_x = job_inputs(job, data)
    context = StrategyContext(device=torch.device("cpu"), seed=job.seed, input_shape=tuple(train_x.shape[1:]), num_classes=len(plan.class_order))
    strategy = STRATEGIES.get(job.strategy.name)(job.strategy.params, context)
    for i, step in enumerate(plan.steps):
        idx = torch.from_numpy(step.train_indices)
        learn_step(strategy, plan, i, train_x[idx], train_y[idx])
    last = len(plan.steps) - 1
    recorder = PredictionRecorder(plan, test_y, job.archive_top_k)
    request = summary_request(job, plan, {}, len(test_x))
    del data
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak resident set (VmHWM) to the current one
    before_kb = _status_kb("VmRSS")
    started = time.perf_counter()
    prediction = predict_in_batches(strategy, test_x, request)
    assert prediction_problem(prediction, len(test_x), plan, last) is None
    predicted = prediction.predicted_classes().numpy()  # the evaluator's view (its metrics need every step before)
    recorder.add(last, len(plan.steps[last].train_indices), prediction)
    seconds = time.perf_counter() - started
    growth_mb = (_status_kb("VmHWM") - before_kb) / 1024
    return {
        "mode": mode,
        "classes": strategy.store.num_classes,
        "queries": len(test_x),
        "summarised": prediction.logits is None,
        "seconds": seconds,
        "growth_mb": growth_mb,
        "budget_mb": strategy.store.memory_budget_bytes / 2**20,
        "dense_logits_mb": 4 * len(test_x) * strategy.store.num_classes / 2**20,
        "accuracy": float((predicted == test_y)[np.isin(test_y, plan.seen_after(last))].mean()),
    }


def run_board(board: Path, mode: str, out: Path) -> Path:
    """``owlbench run`` of ``board`` with ``predictions: mode`` into ``out``; the board's folder."""
    import yaml

    name = yaml.safe_load(board.read_text())["name"]
    command = [sys.executable, "-m", "harness.cli", "run", str(board), "--output", str(out / mode), "--quiet", "--set", f"predictions={mode}"]
    subprocess.run(command, check=True)
    return out / mode / name


def board_costs(folder: Path) -> dict[str, dict]:
    """Per job (strategy label): per-step evaluation seconds, peak RSS and the metrics."""
    out = {}
    for metrics_file in sorted(folder.glob("*/metrics.json")):
        record = json.loads(metrics_file.read_text())
        label = json.loads((metrics_file.parent / "config.json").read_text())["strategy"]["label"]
        out[label] = {"eval_s": record["cost"]["eval_s"], "peak_rss_mb": record["cost"]["peak_rss_mb"], "metrics": (record["summary"], record["steps"])}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", type=Path, default=None, help="board YAML (default: the 100,000-class board)")
    ap.add_argument("--small", action="store_true", help="the 10,000-class board")
    ap.add_argument("--keep", type=Path, default=None, help="keep the two boards' results in this folder")
    ap.add_argument("--one-step", choices=MODES, help=argparse.SUPPRESS)  # the child process of measurement 2
    args = ap.parse_args()
    board = args.board or ROOT / "leaderboards" / ("large-classes-10k.yaml" if args.small else "large-classes-100k.yaml")
    if args.one_step:
        print(json.dumps(one_step(str(board), args.one_step)))
        return

    print(f"board: {board.relative_to(ROOT) if board.is_relative_to(ROOT) else board}")
    print("\n1. one evaluation step (predict, check, archive) after the last step's learning, each mode in a fresh process")
    steps = {}
    for mode in MODES:
        child = subprocess.run([sys.executable, __file__, "--board", str(board), "--one-step", mode], check=True, capture_output=True, text=True)
        steps[mode] = json.loads(child.stdout.strip().splitlines()[-1])
        s = steps[mode]
        print(
            f"  {mode:8s} {s['queries']:,} queries x {s['classes']:,} classes: {s['seconds']:7.2f} s, resident set grew {s['growth_mb']:8.1f} MB "
            f"(store budget {s['budget_mb']:.0f} MB; dense logits {s['dense_logits_mb']:.0f} MB), last accuracy {s['accuracy']:.6f}"
        )
    print(f"  dense / summary time: {steps['dense']['seconds'] / steps['summary']['seconds']:.2f}x; same accuracy: {steps['dense']['accuracy'] == steps['summary']['accuracy']}")

    print("\n2. the whole board, each mode in a fresh process (owlbench run)")
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        folders = {mode: run_board(board, mode, out) for mode in MODES}
        costs = {mode: board_costs(folder) for mode, folder in folders.items()}
        for label in costs["dense"]:
            dense, summary = costs["dense"][label], costs["summary"][label]
            ratios = [d / s for d, s in zip(dense["eval_s"], summary["eval_s"])]
            print(f"  {label}: evaluation seconds per step dense {', '.join(f'{v:.2f}' for v in dense['eval_s'])}")
            print(f"  {' ' * len(label)}                       summary {', '.join(f'{v:.2f}' for v in summary['eval_s'])}")
            print(
                f"  {' ' * len(label)}  ratio per step {', '.join(f'{r:.2f}' for r in ratios)}; total {sum(dense['eval_s']) / sum(summary['eval_s']):.2f}x; "
                f"peak RSS {dense['peak_rss_mb']:.0f} / {summary['peak_rss_mb']:.0f} MB; identical metrics: {dense['metrics'] == summary['metrics']}"
            )
        for name in ("leaderboard.csv", "steps.csv"):
            same = (folders["dense"] / name).read_bytes() == (folders["summary"] / name).read_bytes()
            print(f"  {name} identical: {same}")


if __name__ == "__main__":
    main()
