"""The plan a scenario produces (indices only, never copies of the data) and the scenario interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from pydantic import Field, field_validator

from harness.api.dataset import Dataset
from harness.api.errors import ConfigError
from harness.api.params import Params


@dataclass(frozen=True)
class StepPlan:
    """One step: which training samples it holds (indices into the dataset's train split) and which
    classes (ids in class-order numbering) it introduces.

    ``labeled`` steps give their samples with labels (a labeled fraction of a class is expressed by
    listing only those samples); unlabeled steps give the inputs alone.  ``mixes_seen`` says that an
    unlabeled step also holds samples of classes introduced before (``cgcd``).
    """

    train_indices: np.ndarray
    new_classes: tuple[int, ...]
    labeled: bool = True
    mixes_seen: bool = False


@dataclass(frozen=True)
class ScenarioPlan:
    """A deterministic sequence of steps.

    ``class_order[k]`` is the dataset label of class id ``k``: scenario class ids are positions in the
    order, so id 0 is the first class introduced.  Classes of the order that no step introduces are
    open-set classes at every step.  ``num_new_given`` says whether unlabeled steps tell the strategy
    how many new classes they hold (otherwise it must estimate the number).
    """

    kind: str
    class_order: tuple[int, ...]
    steps: tuple[StepPlan, ...]
    num_new_given: bool = True

    @property
    def has_unlabeled_steps(self) -> bool:
        return any(not s.labeled for s in self.steps)

    def seen_after(self, step: int) -> tuple[int, ...]:
        return tuple(c for s in self.steps[: step + 1] for c in s.new_classes)

    def step_of_class(self) -> dict[int, int]:
        return {c: i for i, s in enumerate(self.steps) for c in s.new_classes}


class OrderParams(Params):
    """Class-order options shared by every scenario."""

    class_order: list[int] | None = Field(
        None, description="explicit order of dataset labels; when absent the order is shuffled by the seed"
    )
    shuffle: bool = Field(True, description="shuffle the class order by the seed (ignored with class_order)")

    @field_validator("class_order")
    @classmethod
    def _unique(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("class_order lists a class twice")
        return value


def class_order(params: OrderParams, num_classes: int, seed: int) -> tuple[int, ...]:
    """The class order of a job: the explicit one, or a permutation drawn from the job seed."""
    if params.class_order is not None:
        return tuple(params.class_order)
    if not params.shuffle:
        return tuple(range(num_classes))
    return tuple(int(c) for c in np.random.default_rng([seed, 0]).permutation(num_classes))


def check_class_order(params: OrderParams, dataset: Dataset) -> None:
    if params.class_order is None:
        return
    bad = [c for c in params.class_order if not 0 <= c < dataset.num_classes]
    if bad:
        raise ConfigError("class_order", f"labels {bad} are outside 0..{dataset.num_classes - 1}")
    if len(params.class_order) != dataset.num_classes:
        raise ConfigError(
            "class_order",
            f"must list all {dataset.num_classes} classes of {dataset.name!r} once; got {len(params.class_order)}",
        )


class Scenario:
    """Base of scenario generators: a registered class with ``Params``, :meth:`check` and :meth:`plan`."""

    Params: ClassVar[type[Params]] = OrderParams
    registered_name: ClassVar[str] = ""

    def check(self, params: Params, dataset: Dataset) -> None:
        """Raise :class:`ConfigError` (path relative to the scenario entry) when params do not fit the data."""
        check_class_order(params, dataset)

    def plan(self, params: Params, dataset: Dataset, seed: int) -> ScenarioPlan:  # pragma: no cover
        raise NotImplementedError


def indices_of_classes(labels: np.ndarray, classes: list[int]) -> np.ndarray:
    """Sorted indices of the samples whose label is in ``classes``."""
    return np.flatnonzero(np.isin(labels, classes))
