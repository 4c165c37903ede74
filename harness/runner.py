"""Running one job: scenario steps through a strategy, metrics per step, results written atomically."""

from __future__ import annotations

import csv
import io
import platform
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from harness.data_loading import load_dataset
from harness.devices import resolve_device
from harness.experience import Experience, Prediction, UnlabeledExperience
from harness.io import atomic_write_json, atomic_write_text, dumps_json, publish_dir
from harness.evaluation import StepEvaluator
from harness.inputs import job_inputs
from harness.plugins import strategy_class
from harness.registry import SCENARIOS, load_builtins
from harness.scenario import ScenarioPlan
from harness.strategy import StrategyContext
from harness.sweep import DONE_MARKER, Job

PREDICT_BATCH = 4096


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in ("owlbench", "torch", "numpy", "scikit-learn", "scipy", "pydantic"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def predict_in_batches(strategy, inputs: torch.Tensor) -> Prediction:
    parts = [strategy.predict(inputs[i : i + PREDICT_BATCH]) for i in range(0, len(inputs), PREDICT_BATCH)]
    return Prediction(
        logits=torch.cat([p.logits for p in parts]),
        classes=parts[0].classes,
        known_score=torch.cat([p.known_score for p in parts]),
    )


def remap(labels: np.ndarray, plan: ScenarioPlan) -> np.ndarray:
    """Dataset labels to scenario class ids (positions in the class order); -1 for classes outside it."""
    lookup = np.full(max(int(labels.max()), max(plan.class_order)) + 1, -1, dtype=np.int64)
    lookup[list(plan.class_order)] = np.arange(len(plan.class_order))
    return lookup[labels]


def learn_step(strategy, plan: ScenarioPlan, i: int, inputs: torch.Tensor, labels: torch.Tensor) -> None:
    """Give step ``i`` to the strategy: a labeled :class:`Experience`, or an :class:`UnlabeledExperience`
    (labels not passed on) with the number of new classes when the scenario gives it."""
    step = plan.steps[i]
    if step.labeled:
        seen = plan.seen_after(i)
        strategy.learn(Experience(i, plan.kind, inputs, labels, step.new_classes, seen))
        return
    num_new = len(step.new_classes) if plan.num_new_given else None
    strategy.learn_unlabeled(UnlabeledExperience(i, plan.kind, inputs, num_new, step.mixes_seen))


def execute(job: Job, progress: bool = True) -> dict[str, Any]:
    """Run the job in memory and return its record (resolved config, per-step metrics, summary)."""
    load_builtins()
    started = time.perf_counter()
    torch.manual_seed(job.seed)
    device = resolve_device(job.device)
    data = load_dataset(job.dataset.name, job.dataset.params)
    plan = SCENARIOS.get(job.scenario.name)().plan(job.scenario.params, data, job.seed)
    train_y = torch.from_numpy(remap(data.train_y.numpy(), plan))
    test_y = remap(data.test_y.numpy(), plan)
    strategy_cls = strategy_class(job.strategy.name)
    train_x, test_x = job_inputs(job, data, raw=strategy_cls.encodes_own_inputs(job.strategy.params))
    test_x = test_x.to(device)
    context = StrategyContext(device=device, seed=job.seed, input_shape=tuple(train_x.shape[1:]))
    strategy = strategy_cls(job.strategy.params, context)

    evaluator = StepEvaluator(plan, test_y)
    steps = tqdm(plan.steps, desc=job.title, unit="step", leave=False, disable=not progress)
    for i, step in enumerate(steps):
        idx = torch.from_numpy(step.train_indices)
        learn_step(strategy, plan, i, train_x[idx].to(device), train_y[idx].to(device))
        evaluator.update(i, len(idx), predict_in_batches(strategy, test_x))

    return {
        "job_id": job.id,
        "config": {
            **job.resolved(),
            "class_order": list(plan.class_order),
            "class_names": [data.class_names[c] for c in plan.class_order],
            "steps": [list(s.new_classes) for s in plan.steps],
            "resolved_device": str(device),
            "versions": package_versions(),
        },
        "metrics": evaluator.compute(),
        "wall_time_s": time.perf_counter() - started,
    }


def steps_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    columns = list(rows[0]) if rows else []
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in columns})
    return buffer.getvalue()


def run_job(job: Job, board_dir: Path, progress: bool = True) -> dict[str, Any]:
    """Run a job and publish ``<board_dir>/<job-id>/`` with config.json, metrics.json, steps.csv and
    a ``done`` marker.  Files are written into a staging folder that is moved into place at the end,
    so an interrupted job leaves no folder that looks finished."""
    record = execute(job, progress=progress)
    publish_record(job, board_dir, record)
    return record


def publish_record(job: Job, board_dir: Path, record: dict[str, Any]) -> None:
    """Write the record of a finished job (from :func:`execute`, maybe run elsewhere) as its folder."""
    board_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{job.id}.", dir=board_dir))
    atomic_write_json(staging / "config.json", record["config"])
    atomic_write_json(staging / "metrics.json", {**record["metrics"], "wall_time_s": record["wall_time_s"]})
    atomic_write_text(staging / "steps.csv", steps_csv(record["metrics"]["steps"]))
    atomic_write_text(staging / DONE_MARKER, dumps_json({"job_id": job.id, "status": "done"}))
    publish_dir(staging, job.folder(board_dir))
