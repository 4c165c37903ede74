"""The ``ray`` executor: one Ray task per job, on a cluster or on a local Ray runtime.

The cluster is the config's ``address``, else the ``RAY_ADDRESS`` environment variable, else a
local runtime started for the sweep (with ``num_cpus`` CPUs) and stopped at its end. Each task
reserves ``cpus_per_job`` CPUs and ``gpus_per_job`` GPUs (fractions allowed) and uses that many
torch threads. Workers return records; the driver writes the results folder, so workers on other
machines need owlbench (and any plugin) installed but not the driver's file system.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Iterator

from pydantic import Field

from harness.api.errors import ConfigError
from harness.executors.base import Executor, Outcome, attempt
from harness.api.params import Params
from harness.api.registry import EXECUTORS
from harness.jobs import Job

INSTALL_HINT = "the ray executor needs Ray: pip install 'owlbench[ray]' (or pip install ray)"


class RayParams(Params):
    address: str | None = Field(None, description="cluster address (e.g. ray://host:10001 or auto); default: $RAY_ADDRESS, else a local runtime")
    num_cpus: int | None = Field(None, ge=1, description="CPUs of a local runtime started for the sweep; default: all")
    cpus_per_job: float = Field(1.0, gt=0, description="CPUs each job reserves (fractions allowed)")
    gpus_per_job: float = Field(0.0, ge=0, description="GPUs each job reserves (fractions allowed)")


def _ray_attempt(job: Job, threads: int) -> Outcome:
    import torch

    torch.set_num_threads(threads)
    return attempt(job)


@EXECUTORS.register("ray")
class RayExecutor(Executor):
    """Ray tasks with per-job CPU/GPU reservations; connects to a cluster or starts a local runtime."""

    Params = RayParams

    def check(self) -> None:
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ConfigError("executor.name", INSTALL_HINT) from None

    def address(self) -> str | None:
        return self.params.address or os.environ.get("RAY_ADDRESS") or None

    def run(self, jobs: list[Job], progress: bool = False) -> Iterator[Outcome]:
        if not jobs:
            return
        try:
            import ray
        except ImportError:
            raise RuntimeError(INSTALL_HINT) from None
        started = False
        if not ray.is_initialized():
            address = self.address()
            if address:
                try:
                    ray.init(address=address, log_to_driver=False)
                except Exception as exc:  # unreachable cluster, bad address: a config problem
                    raise ConfigError("executor.address", f"cannot connect to the Ray cluster at {address!r}: {exc}") from None
            else:
                # a local runtime: its workers must import this very copy of owlbench and the plugins
                path = os.pathsep.join(p for p in sys.path if p)
                ray.init(
                    num_cpus=self.params.num_cpus,
                    include_dashboard=False,
                    log_to_driver=False,
                    runtime_env={"env_vars": {"PYTHONPATH": path}},
                )
            started = True
        try:
            task = ray.remote(num_cpus=self.params.cpus_per_job, num_gpus=self.params.gpus_per_job, max_retries=0)(_ray_attempt)
            threads = max(1, math.floor(self.params.cpus_per_job))
            pending = {task.remote(job, threads): job for job in jobs}
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    job = pending.pop(ref)
                    try:
                        yield ray.get(ref)
                    except Exception as exc:  # the task's worker died or the cluster lost it
                        yield Outcome(job, None, repr(exc), f"ray task failed: {exc}")
        finally:
            if started:
                ray.shutdown()
