"""What every executor shares: the outcome of one job attempt, and how the driver records it.

Workers only compute (:func:`attempt` returns the job's record or its error); the driver process
writes every job folder. So a worker never needs the results folder (a Ray cluster need not share a
file system with the driver), and an interrupted sweep leaves only whole folders behind.
"""

from __future__ import annotations

import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterator

from harness.io import atomic_write_json, publish_dir
from harness.params import Params
from harness.sweep import Job

FAILED_FILE = "failed.json"


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


def record_outcome(outcome: Outcome, board_dir: Path) -> None:
    """Publish a finished job's folder, or a folder holding only ``failed.json`` (status, error,
    traceback) for a failed one; either replaces what the folder held before."""
    from harness.runner import publish_record

    job = outcome.job
    if outcome.ok:
        publish_record(job, board_dir, outcome.record)
        return
    board_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{job.id}.", dir=board_dir))
    atomic_write_json(
        staging / FAILED_FILE,
        {"job_id": job.id, "title": job.title, "status": "failed", "error": outcome.error, "traceback": outcome.traceback},
    )
    publish_dir(staging, job.folder(board_dir))


def is_failed(job: Job, board_dir: Path) -> bool:
    folder = job.folder(board_dir)
    return (folder / FAILED_FILE).is_file() and not job.is_done(board_dir)


class Executor:
    """Runs jobs and yields their :class:`Outcome` as each finishes (any order).

    Subclasses declare ``Params`` and implement :meth:`run`; :meth:`check` refuses, before anything
    runs, a setup that cannot work (a missing optional package)."""

    Params: ClassVar[type[Params]] = Params
    registered_name: ClassVar[str] = ""

    def __init__(self, params: Params):
        self.params = params

    def check(self) -> None:
        """Raise :class:`harness.errors.ConfigError` if this executor cannot run here."""

    def run(self, jobs: list[Job], progress: bool = False) -> Iterator[Outcome]:  # pragma: no cover - interface
        raise NotImplementedError
