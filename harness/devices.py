"""Turning a ``device`` setting into a torch device: the one resolver of the runner, the trainers and
the prototype store; the CPU threads a job's torch operations use; and the BLAS threads of numpy
and scipy (a leaf module: it imports torch, and threadpoolctl only when BLAS threads are set)."""

from __future__ import annotations

import contextlib

import torch

#: below this many training input values a job's tensors are too small for intra-op threads to pay:
#: its operations take microseconds, and every one of them meets the other threads at a barrier,
#: which on a machine with other work costs far more than it saves (bench/threads.py)
SMALL_WORK = 1 << 24


def resolve_device(name: str | torch.device) -> torch.device:
    """``auto`` picks CUDA when present, else the CPU; ``cpu``, ``cuda``, ``cuda:N`` and torch devices
    are taken as given, and a CUDA device on a machine without CUDA is refused with the fix."""
    if isinstance(name, torch.device):
        device = name
    elif name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {str(name)!r} was asked for but CUDA is not available; use device: auto or cpu")
    return device


def job_threads(setting: int | str, available: int, work: int) -> int:
    """Torch intra-op threads of one job: ``setting`` when it is a number; for ``"auto"``, one thread
    when the job's training inputs hold fewer than :data:`SMALL_WORK` values, else the ``available``
    threads its executor gave it (the local executor: every core; the process executor: CPUs //
    workers; Ray: the CPUs a job reserves).  The choice depends on the job's data and executor only,
    never on the machine's load.  It does not change a job's numbers (a test runs a board both ways):
    networks train and extract features with their own ``cpu_threads`` (1 by default), since a
    convolution's gradients round differently with another thread count."""
    if setting != "auto":
        return int(setting)
    return 1 if work < SMALL_WORK else max(1, available)


@contextlib.contextmanager
def cpu_threads(count: int | None, device: torch.device):
    """Torch intra-op threads set to ``count`` inside the block when running on the CPU, restored after."""
    if count is None or device.type != "cpu" or count == torch.get_num_threads():
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def blas_threads(count: int | None):
    """The threads of the BLAS numpy and scipy call (OpenBLAS in their wheels) set to ``count`` inside
    the block, through threadpoolctl, and restored after.  The scorers run under it with one thread
    (harness/runner.py): the thread count changes the rounding of OpenBLAS's eigendecompositions and
    products (by about 1e-12 relative), and on the process executor every job process otherwise
    runs them on all cores beside its neighbours (2 workers on 2 cores,
    leaderboards/open-set-wordnet100.yaml: an NMC job's scorers took 32.8 s with 2 BLAS threads per
    process, 11.3 s with one)."""
    if count is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=count, user_api="blas"):
        yield
