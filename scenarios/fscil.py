"""Few-shot class-incremental learning: a base session with all data, then N-way K-shot sessions."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from harness.api.dataset import Dataset
from harness.api.errors import ConfigError
from harness.api.registry import SCENARIOS
from harness.api.scenario import OrderParams, Scenario, ScenarioPlan, StepPlan, check_class_order, class_order, indices_of_classes
from scenarios.cil import resolve_increments


class FSCILParams(OrderParams):
    base_classes: int = Field(..., ge=1, description="classes of the base session (all their training data)")
    ways: int = Field(..., ge=1, description="new classes per few-shot session")
    shots: int = Field(..., ge=1, description="training samples per new class in a few-shot session")
    sessions: int | None = Field(
        None, ge=0, description="few-shot sessions; default: as many as the classes allow (they must divide evenly)"
    )
    split: Literal["cec"] | None = Field(
        None, description="published session lists (cifar100, cub200, mini-imagenet); base_classes/ways/shots must match them"
    )


@SCENARIOS.register("fscil")
class FewShotClassIncremental(Scenario):
    """Base session with every training sample of ``base_classes``, then ``sessions`` sessions of
    ``ways`` new classes with ``shots`` samples each (e.g. 60 + 8×5-way-5-shot on CIFAR-100).

    The shots of each class are drawn from its training samples with a generator seeded by the job
    seed, independently of the class-order draw.
    """

    Params = FSCILParams

    def check(self, params: FSCILParams, dataset: Dataset) -> None:
        if params.split is not None:
            check_published(params, dataset)
            return
        check_class_order(params, dataset)
        resolve_increments(dataset.num_classes, params.base_classes, params.ways, params.sessions, "ways")
        counts = dataset.train_counts()
        if params.class_order is not None:
            counts = counts[params.class_order[params.base_classes :]]
        fewest = int(counts.min()) if len(counts) else 0
        if params.shots > fewest:
            raise ConfigError(
                "shots", f"must be at most {fewest} (the fewest training samples of a class that can be novel); got {params.shots}"
            )

    def plan(self, params: FSCILParams, dataset: Dataset, seed: int) -> ScenarioPlan:
        if params.split is not None:
            return published_plan(params, dataset)
        order = class_order(params, dataset.num_classes, seed)
        sessions = resolve_increments(dataset.num_classes, params.base_classes, params.ways, params.sessions, "ways")
        labels = dataset.train_y.numpy()
        base_ids = list(range(params.base_classes))
        steps = [StepPlan(indices_of_classes(labels, [order[i] for i in base_ids]), tuple(base_ids))]
        rng = np.random.default_rng([seed, 1])
        for s in range(sessions):
            ids = list(range(params.base_classes + s * params.ways, params.base_classes + (s + 1) * params.ways))
            picked = []
            for i in ids:
                pool = np.flatnonzero(labels == order[i])
                picked.append(np.sort(rng.choice(pool, size=params.shots, replace=False)))
            steps.append(StepPlan(np.sort(np.concatenate(picked)), tuple(ids)))
        return ScenarioPlan("fscil", order, tuple(steps))


def check_published(params: FSCILParams, dataset: Dataset) -> None:
    """A published split fixes the classes and samples of every session: the parameters must match."""
    from harness.datasets.published_splits import sessions

    if params.class_order is not None:
        raise ConfigError("class_order", f"the split {params.split!r} fixes the class order; remove class_order")
    listed = sessions(params.split, dataset)
    expected = {"base_classes": len(listed[0][1]), "ways": len(listed[1][1]), "shots": len(listed[1][0]) // len(listed[1][1])}
    for name, value in expected.items():
        if getattr(params, name) != value:
            raise ConfigError(name, f"the split {params.split!r} on {dataset.name!r} has {name} = {value}; got {getattr(params, name)}")
    if params.sessions is not None and params.sessions > len(listed) - 1:
        raise ConfigError("sessions", f"the split {params.split!r} has {len(listed) - 1} few-shot sessions; got {params.sessions}")


def published_plan(params: FSCILParams, dataset: Dataset) -> ScenarioPlan:
    """Sessions read from the published lists; class ids follow the lists (base classes, then each
    session's classes, ascending dataset labels within a session); the seed changes nothing."""
    from harness.datasets.published_splits import sessions

    listed = sessions(params.split, dataset)
    if params.sessions is not None:
        listed = listed[: params.sessions + 1]
    order = tuple(c for _, classes in listed for c in classes)
    position = {c: i for i, c in enumerate(order)}
    steps = tuple(StepPlan(idx, tuple(position[c] for c in classes)) for idx, classes in listed)
    return ScenarioPlan("fscil", order, steps)
