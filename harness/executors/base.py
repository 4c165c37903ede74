"""What every executor shares: the outcome of one job attempt, and how the driver records it.

Workers only compute (:func:`attempt` returns the job's record or its error); the driver process
writes every job folder. So a worker never needs the results folder (a Ray cluster need not share a
file system with the driver), and an interrupted sweep leaves only whole folders behind.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterator

from harness.api.params import Params
from harness.jobs import Job, publish_failure, publish_record

@dataclass(frozen=True)
class Outcome:
    """A job's record (see :func:`harness.runner.execute`), or the error it raised."""

    job: Job
    record: dict[str, Any] | None
    error: str | None = None
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        return self.record is not None


def attempt(job: Job, progress: bool = False) -> Outcome:
    """Run one job in this process; an exception becomes a failed outcome, never a crash of the sweep."""
    from harness.runner import execute

    try:
        return Outcome(job, execute(job, progress=progress))
    except Exception as exc:  # failure isolation: the sweep goes on with the other jobs
        return Outcome(job, None, repr(exc), traceback.format_exc())


def record_outcome(outcome: Outcome, board_dir: Path) -> Outcome:
    """Publish a finished job's folder, or a folder holding only ``failed.json`` for a failed one (also
    for a record that cannot be written); return the outcome as recorded."""
    if outcome.ok:
        try:
            publish_record(outcome.job, board_dir, outcome.record)
            return outcome
        except (ValueError, TypeError, OSError) as exc:  # e.g. a metric that came out NaN: the job fails, not the board
            outcome = Outcome(outcome.job, None, f"its record could not be written: {exc!r}", traceback.format_exc())
    publish_failure(outcome.job, board_dir, outcome.error, outcome.traceback)
    return outcome


class Executor:
    """Runs jobs and yields their :class:`Outcome` as each finishes (any order).

    Subclasses declare ``Params`` and implement :meth:`run`; :meth:`check` refuses, before anything
    runs, a setup that cannot work (a missing optional package)."""

    Params: ClassVar[type[Params]] = Params
    registered_name: ClassVar[str] = ""

    def __init__(self, params: Params):
        self.params = params

    def check(self) -> None:
        """Raise :class:`harness.api.errors.ConfigError` if this executor cannot run here."""

    def run(self, jobs: list[Job], progress: bool = False) -> Iterator[Outcome]:  # pragma: no cover - interface
        raise NotImplementedError
