"""Turning a strategy's predictions on the test set into per-step metrics (the harness holds the labels)."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.experience import Prediction
from harness.metrics import ContinualAccuracy, OpenSetDetection
from harness.scenario import ScenarioPlan


class StepEvaluator:
    """Per step: accuracy on the test samples of seen classes, open-set detection against the test
    samples of classes not seen yet.  ``test_y`` holds scenario class ids (-1 for classes outside
    the order)."""

    def __init__(self, plan: ScenarioPlan, test_y: np.ndarray):
        self.plan = plan
        self.test_y = test_y
        self.accuracy = ContinualAccuracy(plan.step_of_class())
        self.openset = OpenSetDetection()
        self.train_sizes: list[int] = []

    def update(self, step: int, train_size: int, prediction: Prediction) -> None:
        seen = self.plan.seen_after(step)
        predicted = prediction.predicted_classes().cpu().numpy()
        known_score = prediction.known_score.detach().cpu().double().numpy()
        is_seen = np.isin(self.test_y, seen)
        self.accuracy.update(step, self.test_y[is_seen], predicted[is_seen])
        self.openset.update(step, known_score[is_seen], known_score[~is_seen])
        self.train_sizes.append(train_size)

    def compute(self) -> dict[str, Any]:
        acc, ood = self.accuracy.compute(), self.openset.compute()
        steps = [
            {
                "step": i,
                "seen_classes": len(self.plan.seen_after(i)),
                "train_samples": self.train_sizes[i],
                "accuracy": acc["accuracy"][i],
                "base_accuracy": acc["base_accuracy"][i],
                "novel_accuracy": acc["novel_accuracy"][i],
                "harmonic_accuracy": acc["harmonic_accuracy"][i],
                "auroc": ood["auroc"][i],
                "fpr95": ood["fpr95"][i],
                "aupr": ood["aupr"][i],
            }
            for i in range(len(self.train_sizes))
        ]
        return {
            "summary": {**acc["summary"], **ood["summary"]},
            "steps": steps,
            "accuracy_matrix": acc["accuracy_matrix"],
            "per_class_accuracy": acc["per_class_accuracy"],
            "per_class_counts": acc["per_class_counts"],
        }
