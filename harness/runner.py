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
from harness.experience import Experience, Prediction
from harness.io import atomic_write_json, atomic_write_text, dumps_json, publish_dir
from harness.metrics import ContinualAccuracy, OpenSetDetection
from harness.registry import SCENARIOS, STRATEGIES, load_builtins
from harness.scenario import ScenarioPlan
from harness.strategy import StrategyContext
from harness.sweep import DONE_MARKER, Job

PREDICT_BATCH = 4096
STEP_COLUMNS = (
    "step", "seen_classes", "train_samples", "accuracy", "base_accuracy", "novel_accuracy",
    "harmonic_accuracy", "auroc", "fpr95", "aupr",
)  # fmt: skip


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in ("owlbench", "torch", "numpy", "scikit-learn", "scipy", "pydantic"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def features_of(inputs: torch.Tensor) -> torch.Tensor:
    """Raw inputs as flat float vectors (the features of strategies that work in input space)."""
    return inputs.reshape(len(inputs), -1).to(torch.float32)


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
    train_f = features_of(data.train_x)
    test_f = features_of(data.test_x).to(device)
    context = StrategyContext(device=device, seed=job.seed, feature_dim=train_f.shape[1])
    strategy = STRATEGIES.get(job.strategy.name)(job.strategy.params, context)

    accuracy = ContinualAccuracy(plan.step_of_class())
    openset = OpenSetDetection()
    train_sizes = []
    steps = tqdm(plan.steps, desc=job.title, unit="step", leave=False, disable=not progress)
    for i, step in enumerate(steps):
        idx = torch.from_numpy(step.train_indices)
        seen = plan.seen_after(i)
        strategy.learn(
            Experience(
                step=i,
                scenario_kind=plan.kind,
                inputs=train_f[idx].to(device),
                labels=train_y[idx].to(device),
                new_classes=step.new_classes,
                seen_classes=seen,
            )
        )
        train_sizes.append(len(idx))
        prediction = predict_in_batches(strategy, test_f)
        predicted = prediction.predicted_classes().cpu().numpy()
        known_score = prediction.known_score.detach().cpu().double().numpy()
        is_seen = np.isin(test_y, seen)
        accuracy.update(i, test_y[is_seen], predicted[is_seen])
        openset.update(i, known_score[is_seen], known_score[~is_seen])

    acc, ood = accuracy.compute(), openset.compute()
    step_rows = [
        {
            "step": i,
            "seen_classes": len(plan.seen_after(i)),
            "train_samples": train_sizes[i],
            "accuracy": acc["accuracy"][i],
            "base_accuracy": acc["base_accuracy"][i],
            "novel_accuracy": acc["novel_accuracy"][i],
            "harmonic_accuracy": acc["harmonic_accuracy"][i],
            "auroc": ood["auroc"][i],
            "fpr95": ood["fpr95"][i],
            "aupr": ood["aupr"][i],
        }
        for i in range(len(plan.steps))
    ]
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
        "metrics": {
            "summary": {**acc["summary"], **ood["summary"]},
            "steps": step_rows,
            "accuracy_matrix": acc["accuracy_matrix"],
            "per_class_accuracy": acc["per_class_accuracy"],
            "per_class_counts": acc["per_class_counts"],
        },
        "wall_time_s": time.perf_counter() - started,
    }


def steps_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=STEP_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in STEP_COLUMNS})
    return buffer.getvalue()


def run_job(job: Job, board_dir: Path, progress: bool = True) -> dict[str, Any]:
    """Run a job and publish ``<board_dir>/<job-id>/`` with config.json, metrics.json, steps.csv and
    a ``done`` marker.  Files are written into a staging folder that is moved into place at the end,
    so an interrupted job leaves no folder that looks finished."""
    record = execute(job, progress=progress)
    board_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{job.id}.", dir=board_dir))
    atomic_write_json(staging / "config.json", record["config"])
    atomic_write_json(staging / "metrics.json", {**record["metrics"], "wall_time_s": record["wall_time_s"]})
    atomic_write_text(staging / "steps.csv", steps_csv(record["metrics"]["steps"]))
    atomic_write_text(staging / DONE_MARKER, dumps_json({"job_id": job.id, "status": "done"}))
    publish_dir(staging, job.folder(board_dir))
    return record
