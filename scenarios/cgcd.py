"""Continual generalized category discovery (the protocol of Happy, Ma et al., NeurIPS 2024).

Stage 0 gives labels for a fraction of the training samples of the old classes; each later stage
is unlabeled and mixes samples of its new classes with samples of every class seen before.  As in
Happy's data code (CIFAR-100: 50 old classes, 400 of 500 samples per old class labeled, then 5
stages of 10 new classes with 400 samples per first-time class and 25 per old or earlier-discovered
class), the per-stage draws are independent: an earlier-seen class contributes a fresh draw at every
stage, old classes drawing from the samples left unlabeled at stage 0.  The harness keeps nothing of
past stages for the strategy.  Counts are given as fractions of each class's training samples, so
the defaults scale Happy's 400/25/25 of 500 (0.8/0.05/0.05) to any dataset.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from harness.api.dataset import Dataset
from harness.api.errors import ConfigError
from harness.api.registry import SCENARIOS
from harness.api.scenario import OrderParams, Scenario, ScenarioPlan, StepPlan, check_class_order, class_order


class CGCDParams(OrderParams):
    old_classes: int | None = Field(None, ge=1, description="classes labeled at stage 0; default: half of the classes (rounded down)")
    stages: int = Field(5, ge=1, description="unlabeled stages after stage 0")
    new_per_stage: int | None = Field(
        None, ge=1, description="new classes per stage; default: the remaining classes split evenly over the stages"
    )
    labeled_fraction: float = Field(0.8, gt=0.0, lt=1.0, description="share of each old class's training samples labeled at stage 0")
    new_fraction: float = Field(0.8, gt=0.0, le=1.0, description="share of a class's training samples drawn at the stage that introduces it")
    old_fraction: float = Field(0.05, gt=0.0, le=1.0, description="per stage, share of each old class's training samples drawn (from its unlabeled rest)")
    seen_fraction: float = Field(0.05, gt=0.0, le=1.0, description="per stage, share of each earlier-discovered class's training samples drawn")
    estimate_num_new: bool = Field(False, description="hide the number of new classes of each stage: the strategy must estimate it")


def _count(n: int, fraction: float) -> int:
    """``round(n · fraction)``, at least 1 and at most ``n``."""
    return min(n, max(1, int(round(n * fraction))))


def stage_sizes(params: CGCDParams, total: int) -> tuple[int, int]:
    old = params.old_classes if params.old_classes is not None else total // 2
    if not 1 <= old < total:
        raise ConfigError("old_classes", f"must leave at least one of the {total} classes new; got {old}")
    rest = total - old
    if params.new_per_stage is None:
        if rest % params.stages:
            raise ConfigError("stages", f"the {rest} classes after the old ones must split evenly over {params.stages} stages; set new_per_stage")
        return old, rest // params.stages
    if old + params.stages * params.new_per_stage > total:
        raise ConfigError(
            "new_per_stage", f"{old} old + {params.stages} stages × {params.new_per_stage} needs more than the {total} classes of the dataset"
        )
    return old, params.new_per_stage


@SCENARIOS.register("cgcd")
class ContinualGCD(Scenario):
    """Continual generalized category discovery: a labeled stage, then unlabeled stages of old and new classes.

    Stage 0: ``labeled_fraction`` of each old class's training samples, labeled.  Stages 1..T:
    unlabeled mixes of ``new_fraction`` of each new class, ``old_fraction`` of each old class (from
    its samples not labeled at stage 0) and ``seen_fraction`` of each class discovered earlier, all
    drawn by the seed.  Evaluation after every stage on the test samples of all classes seen so far.
    """

    Params = CGCDParams

    def check(self, params: CGCDParams, dataset: Dataset) -> None:
        check_class_order(params, dataset)
        old, _ = stage_sizes(params, dataset.num_classes)
        counts = dataset.train_counts()
        for c in range(dataset.num_classes):
            n = int(counts[c])
            if n - _count(n, params.labeled_fraction) < _count(n, params.old_fraction):
                raise ConfigError(
                    "old_fraction",
                    f"class {dataset.class_names[c]!r} has {n} training samples: {_count(n, params.labeled_fraction)} labeled leave "
                    f"{n - _count(n, params.labeled_fraction)}, fewer than the {_count(n, params.old_fraction)} drawn per stage; "
                    "lower old_fraction or labeled_fraction",
                )

    def plan(self, params: CGCDParams, dataset: Dataset, seed: int) -> ScenarioPlan:
        order = class_order(params, dataset.num_classes, seed)
        old, per_stage = stage_sizes(params, dataset.num_classes)
        labels = dataset.train_y.numpy()
        rng = np.random.default_rng([seed, 2])
        members = {i: np.flatnonzero(labels == order[i]) for i in range(old + params.stages * per_stage)}
        labeled, pool = [], {}
        for i in range(old):
            shuffled = rng.permutation(members[i])
            n_lab = _count(len(shuffled), params.labeled_fraction)
            labeled.append(shuffled[:n_lab])
            pool[i] = np.sort(shuffled[n_lab:])
        steps = [StepPlan(np.sort(np.concatenate(labeled)), tuple(range(old)))]
        for s in range(params.stages):
            first = old + s * per_stage
            new_ids = list(range(first, first + per_stage))
            parts = [rng.choice(pool[i], _count(len(members[i]), params.old_fraction), replace=False) for i in range(old)]
            parts += [rng.choice(members[i], _count(len(members[i]), params.seen_fraction), replace=False) for i in range(old, first)]
            parts += [rng.choice(members[i], _count(len(members[i]), params.new_fraction), replace=False) for i in new_ids]
            steps.append(StepPlan(np.sort(np.concatenate(parts)), tuple(new_ids), labeled=False, mixes_seen=True))
        return ScenarioPlan("cgcd", order, tuple(steps), num_new_given=not params.estimate_num_new)
