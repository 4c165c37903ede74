"""Expanding a board into jobs (scenario × strategy × seed) with ids that hash their resolved config.

Parameter grids are expanded earlier, by the config (each combination is an entry of its own).
Pairs whose strategy does not support the scenario's kind are left out and listed as :class:`Skip`
with the reason; ``--only``/``--exclude`` patterns select jobs by their labels (:func:`select`).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from harness.api.registry import STRATEGIES
from harness.config import BoardConfig
from harness.jobs import Job

@dataclass(frozen=True)
class Skip:
    """A scenario × strategy pair that is not run, and why."""

    scenario: str
    strategy: str
    reason: str


def _unsupported(config: BoardConfig) -> dict[tuple[str, str], str]:
    reasons = {}
    for strategy in config.strategies:
        cls = STRATEGIES.get(strategy.name)
        for scenario in config.scenarios:
            reason = cls.unsupported_reason(scenario.name, strategy.name)
            if reason:
                reasons[(scenario.label, strategy.label)] = reason
    return reasons


def skipped(config: BoardConfig) -> list[Skip]:
    """The pairs left out because the strategy does not support the scenario's kind, in YAML order."""
    return [Skip(sc, st, reason) for (sc, st), reason in _unsupported(config).items()]


def expand(config: BoardConfig) -> list[Job]:
    """Jobs in a stable order: scenarios, then strategies, then seeds, as listed in the YAML (grid
    combinations in grid order); unsupported pairs are left out (see :func:`skipped`)."""
    unsupported = _unsupported(config)
    return [
        Job(
            config.name, config.dataset, scenario, strategy, seed, config.device, config.backbone, config.archive_top_k, config.scorers, config.far,
            config.predictions, config.threads,
        )
        for scenario in config.scenarios
        for strategy in config.strategies
        if (scenario.label, strategy.label) not in unsupported
        for seed in config.seeds
    ]


def matches(job: Job, pattern: str) -> bool:
    """A glob matches a job when it matches its strategy label, its scenario label, or ``scenario/strategy``."""
    names = (job.strategy.label, job.scenario.label, f"{job.scenario.label}/{job.strategy.label}")
    return any(fnmatch.fnmatchcase(name, pattern) for name in names)


def select(jobs: list[Job], only: list[str] | None = None, exclude: list[str] | None = None) -> list[Job]:
    """Jobs matched by any ``only`` pattern (all when none is given) and by no ``exclude`` pattern."""
    return [
        j
        for j in jobs
        if (not only or any(matches(j, p) for p in only)) and not any(matches(j, p) for p in exclude or ())
    ]
