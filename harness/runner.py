"""Running one job: scenario steps through a strategy, metrics per step; the record it returns is
published as the job's folder by :mod:`harness.jobs`."""

from __future__ import annotations

import contextlib
import platform
import time
from importlib import metadata
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from harness.cost import CostMeter
from harness.datasets.loading import load_dataset
from harness.predictions import PredictionRecorder, archive_bytes
from harness.provenance import provenance
from harness.devices import blas_threads, cpu_threads, job_threads, resolve_device
from harness.api.experience import Experience, Prediction, UnlabeledExperience
from harness.metrics.evaluator import StepEvaluator, prediction_problem
from harness.backbones.inputs import job_inputs
from harness.api.registry import STRATEGIES
from harness.api.registry import METRICS, SCENARIOS, SCORERS, load_builtins
from harness.api.summary import LogitSummary, SummaryRequest
from harness.api.scenario import ScenarioPlan
from harness.api.strategy import StrategyContext
from harness.jobs import Job, code_fingerprint

PREDICT_BATCH = 4096
AUTO_DENSE_BYTES = 256 * 2**20  # ``predictions: auto`` summarises when a step's dense logits would exceed this


class InvalidPrediction(ValueError):
    """A strategy answered with something the metrics cannot score (the job fails, the board goes on)."""


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Versions of Python, owlbench and its core dependencies, and of ``extra`` distributions (those a
    strategy declares in ``packages``)."""
    versions = {"python": platform.python_version()}
    for name in ("owlbench", "torch", "numpy", "scikit-learn", "scipy", "pydantic", *extra):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def predict_in_batches(strategy, inputs: torch.Tensor, request: SummaryRequest | None = None) -> Prediction:
    """The strategy's prediction for ``inputs``, a batch at a time: summaries when ``request`` is
    given and the strategy can summarise (:meth:`Strategy.predict_summary`), dense logits otherwise."""
    batches = [inputs[i : i + PREDICT_BATCH] for i in range(0, len(inputs), PREDICT_BATCH)]
    first = strategy.predict_summary(batches[0], request) if request is not None and batches else None
    if first is not None:
        parts = [first, *(strategy.predict_summary(b, request) for b in batches[1:])]
        return Prediction(None, parts[0].classes, torch.cat([p.known_score for p in parts]), LogitSummary.cat([p.summary for p in parts]))
    parts = [strategy.predict(b) for b in batches]
    return Prediction(
        logits=torch.cat([p.logits for p in parts]),
        classes=parts[0].classes,
        known_score=torch.cat([p.known_score for p in parts]),
    )


def summary_request(job: Job, plan: ScenarioPlan, scorers: dict, n_test: int) -> SummaryRequest | None:
    """What the job reads of each prediction, or ``None`` when it keeps dense logits: on
    ``predictions: dense``, when a metric or scorer reads every logit, and on ``auto`` while the
    test set's logits would fit in :data:`AUTO_DENSE_BYTES` at every step."""
    applied = [m for m in METRICS.in_order() if m.applies(plan)]
    if job.predictions == "dense" or any(m.needs_logits for m in applied) or any(s.needs_logits for s in scorers.values()):
        return None
    if job.predictions == "auto" and 4 * n_test * len(plan.class_order) <= AUTO_DENSE_BYTES:
        return None
    request = SummaryRequest(max(1, job.archive_top_k), tuple(int(c) for c in plan.steps[0].new_classes))
    for scorer in scorers.values():
        request = request.merged(scorer.reads())
    return request


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


def embed_in_batches(strategy, inputs: torch.Tensor) -> torch.Tensor | None:
    parts = [strategy.embed(inputs[i : i + PREDICT_BATCH]) for i in range(0, len(inputs), PREDICT_BATCH)]
    return None if any(p is None for p in parts) else torch.cat(parts).detach().cpu()


#: the scorers' numpy and scipy work runs on one BLAS thread whatever the job's threads, so that
#: their scores are the same on any machine and thread setting (see harness.devices.blas_threads)
SCORER_BLAS_THREADS = 1


def score_step(scorers: dict, strategy, labeled: bool, train_x, train_y, test_x, prediction: Prediction) -> dict[str, Any]:
    """The board's scorers after one step: they first observe the step's training features and labels
    (labeled steps only: what the strategy was given), then score the test samples; a scorer that
    cannot score gives the reason instead (a string).  Scorers run with one BLAS thread
    (:func:`harness.devices.blas_threads`)."""
    needs = any(s.needs_features for s in scorers.values())
    with blas_threads(SCORER_BLAS_THREADS):
        if labeled and needs:
            features = embed_in_batches(strategy, train_x)
            if features is not None:
                for scorer in scorers.values():
                    if scorer.needs_features:
                        scorer.observe(features, train_y.cpu())
        test_features = embed_in_batches(strategy, test_x) if needs else None
        return {label: _score_or_reason(scorer, prediction, test_features) for label, scorer in scorers.items()}


NO_FEATURES = "skipped: the strategy gives no features (its embed returns None)"
NOT_FITTED = "skipped: no labeled step has given it class statistics yet"


def _score_or_reason(scorer, prediction: Prediction, features) -> Any:
    """The scorer's scores, or why it cannot score (the metrics record the reason, the report shows it)."""
    if scorer.needs_features and features is None:
        return NO_FEATURES
    if scorer.needs_features and not scorer.fitted:
        return NOT_FITTED
    return scorer.score(prediction, features)


def far_inputs(job: Job, strategy_cls) -> torch.Tensor:
    """The far-unknown dataset's test inputs, prepared as the job's own (the same backbone and cache)."""
    from types import SimpleNamespace

    far = load_dataset(job.far.name, job.far.params)
    if strategy_cls.encodes_own_inputs(job.strategy.params):
        return strategy_cls.prepare_inputs(job.strategy.params, far)[1]
    return job_inputs(SimpleNamespace(backbone=job.backbone, dataset=job.far, device=job.device), far)[1]


def far_scores(scorers: dict, strategy, far_x: torch.Tensor, request: SummaryRequest | None = None) -> dict[str, Any]:
    """The strategy's own score (``default``) and every scorer's on the far-unknown samples."""
    prediction = predict_in_batches(strategy, far_x, request)
    features = embed_in_batches(strategy, far_x) if any(s.needs_features for s in scorers.values()) else None
    out: dict[str, Any] = {"default": prediction.known_score.detach().cpu().numpy()}
    with blas_threads(SCORER_BLAS_THREADS):
        out.update({label: _score_or_reason(scorer, prediction, features) for label, scorer in scorers.items()})
    return out


def execute(job: Job, progress: bool = True) -> dict[str, Any]:
    """Run the job in memory and return its record (resolved config, per-step metrics, summary)."""
    with contextlib.ExitStack() as stack:  # holds the job's thread setting until it ends
        return _execute(job, progress, stack)


def _execute(job: Job, progress: bool, stack: contextlib.ExitStack) -> dict[str, Any]:
    load_builtins()
    started = time.perf_counter()
    torch.manual_seed(job.seed)
    device = resolve_device(job.device)
    data = load_dataset(job.dataset.name, job.dataset.params)
    plan = SCENARIOS.get(job.scenario.name)().plan(job.scenario.params, data, job.seed)
    train_y = torch.from_numpy(remap(data.train_y.numpy(), plan))
    test_y = remap(data.test_y.numpy(), plan)
    strategy_cls = STRATEGIES.get(job.strategy.name)
    if strategy_cls.encodes_own_inputs(job.strategy.params):
        train_x, test_x = strategy_cls.prepare_inputs(job.strategy.params, data)
    else:
        train_x, test_x = job_inputs(job, data)
    test_x = test_x.to(device)
    threads = job_threads(job.threads, torch.get_num_threads(), train_x.numel())
    stack.enter_context(cpu_threads(threads, device))
    context = StrategyContext(device=device, seed=job.seed, input_shape=tuple(train_x.shape[1:]), num_classes=len(plan.class_order))
    strategy = strategy_cls(job.strategy.params, context)

    evaluator = StepEvaluator(plan, test_y)
    recorder = PredictionRecorder(plan, test_y, job.archive_top_k) if job.archive_top_k else None
    scorers = {s.label: SCORERS.get(s.name)(s.params) for s in job.scorers}
    far_x = far_inputs(job, strategy_cls).to(device) if job.far is not None else None
    request = summary_request(job, plan, scorers, len(test_x))
    summarised: list[int] = []  # steps whose predictions carried summaries instead of logits
    meter = CostMeter(device)
    steps = tqdm(plan.steps, desc=job.title, unit="step", leave=False, disable=not progress)
    for i, step in enumerate(steps):
        idx = torch.from_numpy(step.train_indices)
        learn_started = time.perf_counter()
        learn_step(strategy, plan, i, train_x[idx].to(device), train_y[idx].to(device))
        eval_started = time.perf_counter()
        prediction = predict_in_batches(strategy, test_x, request)
        if prediction.logits is None:
            summarised.append(i)
        problem = prediction_problem(prediction, len(test_x), plan, i)
        if problem:
            raise InvalidPrediction(f"strategy {job.strategy.label!r} at step {i}: {problem}")
        score_started = time.perf_counter()  # the scorers' time, and that of the far unknowns
        scores = score_step(scorers, strategy, plan.steps[i].labeled, train_x[idx].to(device), train_y[idx], test_x, prediction) if scorers else None
        far = far_scores(scorers, strategy, far_x, request) if far_x is not None else None
        score_s = time.perf_counter() - score_started
        evaluator.update(i, len(idx), prediction, scores, far)
        meter.step(eval_started - learn_started, time.perf_counter() - eval_started - score_s, len(idx), score_s if scorers or far else None)
        if recorder is not None:
            recorder.add(i, len(idx), prediction, scores, far)

    record = {
        "job_id": job.id,
        "config": {
            **job.resolved(),
            "class_order": list(plan.class_order),
            "class_names": [data.class_names[c] for c in plan.class_order],
            "steps": [list(s.new_classes) for s in plan.steps],
            "step_labeled": [s.labeled for s in plan.steps],
            "step_mixes_seen": [s.mixes_seen for s in plan.steps],
            "num_new_given": plan.num_new_given,
            "resolved_device": str(device),
            "predictions": {"mode": job.predictions, "summarised_steps": summarised},
            "threads": {"setting": job.threads, "used": threads if device.type == "cpu" else None},
            "versions": package_versions(strategy_cls.packages),
            "code": code_fingerprint(job),
            "provenance": provenance(job.resolved(), data, plan),
        },
        "metrics": evaluator.compute(),
        "training": strategy.training_log(),
        "cost": meter.record(strategy),
        "wall_time_s": time.perf_counter() - started,
    }
    if recorder is not None:
        record["predictions"] = archive_bytes(recorder.arrays)
    return record
