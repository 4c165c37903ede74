"""Class-incremental learning: base classes, then equal increments, all training data labeled."""

from __future__ import annotations

from pydantic import Field

from harness.api.dataset import Dataset
from harness.api.errors import ConfigError
from harness.api.registry import SCENARIOS
from harness.api.scenario import OrderParams, Scenario, ScenarioPlan, StepPlan, check_class_order, class_order, indices_of_classes


class CILParams(OrderParams):
    base_classes: int = Field(..., ge=1, description="classes of the first step")
    increment: int = Field(..., ge=1, description="classes added at each later step")
    num_increments: int | None = Field(
        None, ge=0, description="later steps; default: as many as the classes allow (they must divide evenly)"
    )


def resolve_increments(total: int, base: int, per_step: int, steps: int | None, what: str) -> int:
    """Number of incremental steps, checked against the classes available."""
    rest = total - base
    if rest < 0:
        raise ConfigError("base_classes", f"must be at most the {total} classes of the dataset; got {base}")
    if steps is None:
        if rest % per_step:
            raise ConfigError(
                what,
                f"the {rest} classes after the base must split evenly into steps of {per_step}; "
                f"choose a divisor of {rest} or set num_increments/sessions",
            )
        return rest // per_step
    if base + steps * per_step > total:
        raise ConfigError(
            what, f"base {base} + {steps} steps × {per_step} needs {base + steps * per_step} classes; the dataset has {total}"
        )
    return steps


@SCENARIOS.register("cil")
class ClassIncremental(Scenario):
    """``base_classes`` in step 0, then ``increment`` new classes per step (e.g. 50 + 10×5 on CIFAR-100).

    Classes left over when ``num_increments`` is given are never introduced: they are open-set
    classes at every step, the final one included.
    """

    Params = CILParams

    def check(self, params: CILParams, dataset: Dataset) -> None:
        check_class_order(params, dataset)
        resolve_increments(dataset.num_classes, params.base_classes, params.increment, params.num_increments, "increment")

    def plan(self, params: CILParams, dataset: Dataset, seed: int) -> ScenarioPlan:
        order = class_order(params, dataset.num_classes, seed)
        steps_n = resolve_increments(
            dataset.num_classes, params.base_classes, params.increment, params.num_increments, "increment"
        )
        bounds = [0, params.base_classes] + [params.base_classes + params.increment * (i + 1) for i in range(steps_n)]
        labels = dataset.train_y.numpy()
        steps = []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            ids = list(range(lo, hi))
            steps.append(StepPlan(indices_of_classes(labels, [order[i] for i in ids]), tuple(ids)))
        return ScenarioPlan("cil", order, tuple(steps))


__all__ = ["ClassIncremental", "CILParams", "resolve_increments"]
