"""The ``local`` executor: every job in this process, one after the other."""

from __future__ import annotations

from typing import Iterator

from harness.executors.base import Executor, Outcome, attempt
from harness.api.params import Params
from harness.api.registry import EXECUTORS
from harness.jobs import Job


@EXECUTORS.register("local")
class LocalExecutor(Executor):
    """In-process and sequential (the default); torch uses its usual intra-op threads."""

    Params = Params

    def run(self, jobs: list[Job], progress: bool = False) -> Iterator[Outcome]:
        for job in jobs:
            yield attempt(job, progress=progress)
