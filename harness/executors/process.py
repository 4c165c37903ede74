"""The ``process`` executor: a pool of worker processes on this machine."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Iterator, Literal

from pydantic import Field

from harness.executors import forkserver
from harness.executors.base import Executor, Outcome, attempt
from harness.api.params import Params
from harness.api.registry import EXECUTORS
from harness.jobs import Job


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class ProcessParams(Params):
    workers: int | None = Field(None, ge=1, description="worker processes; default: the CPUs available")
    threads_per_worker: int | None = Field(
        None, ge=1, description="torch intra-op threads per worker; default: CPUs // workers (at least 1)"
    )
    start_method: Literal["forkserver", "spawn", "fork"] = Field(
        "forkserver",
        description="how workers start: 'forkserver' forks them from a clean server process that imported torch once "
        "(safe with threads and CUDA); 'spawn' starts each from scratch; 'fork' copies this process (fastest, CPU only)",
    )


def _init_worker(threads: int) -> None:
    from harness.executors._worker_warmup import warm_worker  # imported already in fork-server workers

    warm_worker(threads)


@EXECUTORS.register("process")
class ProcessExecutor(Executor):
    """A pool of N worker processes; each gets CPUs // N torch threads so the pool shares the cores fairly."""

    Params = ProcessParams

    def sizes(self) -> tuple[int, int]:
        cpus = available_cpus()
        workers = self.params.workers or cpus
        return workers, self.params.threads_per_worker or max(1, cpus // workers)

    def run(self, jobs: list[Job], progress: bool = False) -> Iterator[Outcome]:
        if not jobs:
            return
        workers, threads = self.sizes()
        context = multiprocessing.get_context(self.params.start_method)
        if self.params.start_method == "forkserver":
            forkserver.start(context)  # workers fork from a server that imported torch once (maybe started already)
        pool = ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context, initializer=_init_worker, initargs=(threads,))
        try:
            pending = {pool.submit(attempt, job): job for job in jobs}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    job = pending.pop(future)
                    try:
                        yield future.result()
                    except Exception as exc:  # the worker died (killed, out of memory): the job failed
                        yield Outcome(job, None, repr(exc), f"worker process failed: {exc!r}")
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
