"""The ``process`` executor: a pool of worker processes on this machine."""

from __future__ import annotations

import multiprocessing
import os
import signal
import tempfile
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
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
    from harness.executors._worker_warmup import die_with_parent, leave_interrupts_to_the_driver, warm_worker

    leave_interrupts_to_the_driver()  # fork-server workers start so already; 'spawn' and 'fork' ones from here
    die_with_parent()
    warm_worker(threads)


def _tracked_attempt(job: Job, started_dir: str) -> Outcome:
    """:func:`attempt`, with a file ``<started_dir>/<job id>`` while the job runs, so that after a
    worker dies the driver knows which jobs were running (and which were only queued)."""
    marker = Path(started_dir) / job.id
    marker.write_text(str(os.getpid()))
    try:
        return attempt(job)
    finally:
        marker.unlink(missing_ok=True)


def _pid(marker: Path) -> int | None:
    try:
        return int(marker.read_text())
    except (OSError, ValueError):
        return None


def _died_abruptly(pool: ProcessPoolExecutor, pids: list) -> dict[int, str]:
    """``{pid: how}`` for the given workers that ended on their own, not by the pool's own SIGTERM
    after the breakage.  Reads the pool's process table (a private attribute of the standard
    library; without it nothing is returned and the running jobs are isolated instead)."""
    processes = getattr(pool, "_processes", None) or {}
    out = {}
    for pid in pids:
        process = processes.get(pid)
        code = None if process is None else process.exitcode
        if code is not None and code != -signal.SIGTERM:
            out[pid] = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
    return out


def _end_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate the pool's workers, so that shutting it down does not wait for the jobs they run
    (workers ignore Ctrl-C).  Uses the pool's own method where the standard library has it (3.14),
    else its process table."""
    terminate = getattr(pool, "terminate_workers", None)
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            process.terminate()


@EXECUTORS.register("process")
class ProcessExecutor(Executor):
    """A pool of N worker processes; each gets CPUs // N torch threads so the pool shares the cores fairly.

    A worker that dies (killed, out of memory) fails only the job it was running: the pool is built
    again, the jobs that were queued go on in it, and those that were running beside the dead one
    run again one at a time, so that the one that kills its worker is found and the others finish.
    Workers and the fork server die with the process that started them (a parent-death signal).
    """

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
        with tempfile.TemporaryDirectory(prefix="owlbench-running-") as started_dir, forkserver.safe_path():
            queue, suspects = list(jobs), []
            while queue or suspects:
                if queue:
                    batch, size, queue = queue, min(workers, len(queue)), []
                else:  # isolate the jobs that were running when a worker died: one pool of one each
                    batch, size, suspects = suspects[:1], 1, suspects[1:]
                survivors = yield from self._run_pool(batch, size, threads, context, started_dir)
                if survivors is not None:
                    queued, running = survivors
                    queue += queued
                    if size == 1 and running:  # alone in its pool: this job killed its worker
                        yield Outcome(running[0], None, "its worker process died (killed, or out of memory)", "worker process died")
                    else:
                        suspects += running

    def _run_pool(self, jobs, size, threads, context, started_dir):
        """Run ``jobs`` in a pool of ``size`` workers, yielding outcomes; when a worker dies, return
        ``(jobs that had not started, jobs that were running)``; ``None`` when all finished."""
        pool = ProcessPoolExecutor(size, mp_context=context, initializer=_init_worker, initargs=(threads,))
        try:
            pending = {pool.submit(_tracked_attempt, job, started_dir): job for job in jobs}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                broken = False
                for future in done:
                    job = pending.pop(future)
                    try:
                        yield future.result()
                    except BrokenProcessPool:
                        broken = True
                        pending[future] = job
                    except Exception as exc:  # the job could not be sent or received (e.g. not picklable)
                        yield Outcome(job, None, repr(exc), f"worker process failed: {exc!r}")
                if broken:
                    left = list(pending.values())
                    markers = {j.id: Path(started_dir) / j.id for j in left}
                    pids = {j.id: _pid(markers[j.id]) for j in left}
                    running = [j for j in left if pids[j.id] is not None]
                    dead = _died_abruptly(pool, [pids[j.id] for j in running])
                    for marker in markers.values():
                        marker.unlink(missing_ok=True)
                    culprits = [j for j in running if pids[j.id] in dead]
                    for job in culprits:  # its worker died on its own (killed, out of memory): this job fails
                        yield Outcome(job, None, f"its worker process died ({dead[pids[job.id]]})", "worker process died")
                    if culprits:
                        return [j for j in left if j not in culprits], []
                    return [j for j in left if j not in running], running
            return None
        except BaseException:  # Ctrl-C, or the consumer stopped early: the running jobs are abandoned
            _end_workers(pool)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
