"""Turning a strategy's predictions on the test set into per-step metrics (the harness holds the labels).

Every registered metric whose :meth:`~harness.api.metric.Metric.applies` accepts the plan is fed a
:class:`~harness.api.metric.StepEvidence` after each step: accuracy on the test samples of seen
classes and open-set detection against those of classes not seen yet for closed-world plans;
clustering quality instead of accuracy for plans with unlabeled steps (``ncd``, ``cgcd``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from harness.api.experience import Prediction
from harness.api.metric import Metric, StepEvidence
from harness.api.registry import METRICS
from harness.api.scenario import ScenarioPlan


def registered_metrics() -> list[type[Metric]]:
    """Every registered metric class, in registration order (the order of the report's columns)."""
    return METRICS.in_order()


def prediction_problem(prediction: Prediction, n: int, plan: ScenarioPlan, step: int) -> str | None:
    """What is wrong with a strategy's answer for ``n`` test inputs after ``step``, ``None`` if nothing:
    shapes that fit, integer class ids that are distinct and not negative (and, in a plan without
    unlabeled steps, classes it has seen), no NaN, no ``+inf`` logit (``-inf`` marks a class it rules
    out), a finite open-set score."""
    logits, classes, score = prediction.logits, prediction.classes, prediction.known_score
    if classes.ndim != 1 or classes.dtype.is_floating_point or classes.dtype == torch.bool:
        return f"classes must be a 1-D integer tensor; got {tuple(classes.shape)} {classes.dtype}"
    if logits is None:
        problem = _summary_problem(prediction, n)
        if problem:
            return problem
    elif logits.shape != (n, len(classes)):
        return f"logits have shape {tuple(logits.shape)}, expected ({n}, {len(classes)}) for {n} inputs and {len(classes)} classes"
    if score.shape != (n,):
        return f"known_score has shape {tuple(score.shape)}, expected ({n},)"
    ids = classes.tolist()
    if len(set(ids)) != len(ids) or any(c < 0 for c in ids):
        return "class ids must be distinct and not negative"
    if not plan.has_unlabeled_steps and not set(ids) <= set(plan.seen_after(step)):
        return f"predicts over classes it has not been shown: {sorted(set(ids) - set(plan.seen_after(step)))[:10]}"
    if logits is not None and (torch.isnan(logits).any() or torch.isposinf(logits).any()):
        return "logits hold NaN or +inf"
    if not torch.isfinite(score).all():
        return "known_score holds NaN or an infinity"
    return None


def _summary_problem(prediction: Prediction, n: int) -> str | None:
    """What is wrong with a summary (``logits`` is ``None``): shapes, top classes among ``classes``,
    no NaN or ``+inf`` among the top logits."""
    summary, classes = prediction.summary, prediction.classes
    k = summary.top_values.shape[1] if summary.top_values.ndim == 2 else -1
    if summary.top_values.shape != (n, k) or summary.top_classes.shape != (n, k) or not 1 <= k <= len(classes):
        return f"the summary's top-k has shape {tuple(summary.top_values.shape)}, expected ({n}, k) with 1 <= k <= {len(classes)}"
    if summary.new_best_classes.shape != (n,) or summary.new_best_values.shape != (n,):
        return f"the summary's best new classes have shape {tuple(summary.new_best_classes.shape)}, expected ({n},)"
    if not torch.isin(summary.top_classes.cpu(), classes.cpu()).all():
        return "the summary's top classes are not all among the prediction's classes"
    if torch.isnan(summary.top_values).any() or torch.isposinf(summary.top_values).any():
        return "the summary's top logits hold NaN or +inf"
    return None


class StepEvaluator:
    """Per step: the evidence of one prediction to every metric that applies to the plan.
    ``test_y`` holds scenario class ids (-1 for classes outside the order)."""

    def __init__(self, plan: ScenarioPlan, test_y: np.ndarray):
        self.plan = plan
        self.test_y = test_y
        self.metrics = [cls.for_plan(plan) for cls in registered_metrics() if cls.applies(plan)]
        self.train_sizes: list[int] = []

    def update(
        self, step: int, train_size: int, prediction: Prediction, scorer_scores: dict[str, np.ndarray | None] | None = None,
        far_scores: dict[str, np.ndarray | None] | None = None,
    ) -> None:
        evidence = StepEvidence(
            step=step,
            plan=self.plan,
            test_y=self.test_y,
            prediction=prediction,
            predicted=prediction.predicted_classes().cpu().numpy(),
            known_score=prediction.known_score.detach().cpu().double().numpy(),
            is_seen=np.isin(self.test_y, self.plan.seen_after(step)),
            train_size=train_size,
            scorer_scores=scorer_scores,
            far_scores=far_scores,
        )
        for metric in self.metrics:
            metric.observe(evidence)
        self.train_sizes.append(train_size)

    def compute(self) -> dict[str, Any]:
        """``{"summary": {...}, "steps": [one row per step], <extra keys of the metrics>}``."""
        results = [(metric, metric.compute()) for metric in self.metrics]
        open_world = self.plan.has_unlabeled_steps
        steps = []
        for i, train_size in enumerate(self.train_sizes):
            row: dict[str, Any] = {"step": i}
            if open_world:
                row["labeled"] = self.plan.steps[i].labeled
            row["seen_classes"] = len(self.plan.seen_after(i))
            row["train_samples"] = train_size
            for metric, out in results:
                row.update({key: out[key][i] for key in metric.step_keys})
            steps.append(row)
        out: dict[str, Any] = {"summary": {}, "steps": steps}
        for metric, values in results:
            out["summary"].update(values["summary"])
            out.update({key: values[key] for key in metric.extra_keys if values.get(key) is not None})  # None: nothing to keep
        return out
