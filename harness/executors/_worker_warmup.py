"""Warm starts for the ``process`` executor's workers.

The fork server imports this module once, so that every worker forks with torch, the runner and
the registered modules already imported (:data:`harness.executors.forkserver.WORKER_PRELOAD`).
Each worker then calls :func:`warm_worker`, which pays in parallel, one worker per core, for two
imports a job would otherwise pay on its first use: the modules behind a first optimizer step
(torch imports its compiler stack lazily there, over a second) and scikit-learn's dataset loaders
(used by the built-in tabular datasets).  Kept out of the server, they would delay every worker.
"""

import ctypes
import signal
import sys

import torch

import harness.runner  # noqa: F401  (the job runner and everything it imports)
from harness.api.registry import load_builtins

load_builtins()

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent ends (SIGKILL included), so that no worker or
    fork server outlives the run that started it; elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def leave_interrupts_to_the_driver() -> None:
    """Ignore Ctrl-C here: a terminal sends SIGINT to the whole process group, and only the process
    that started the run handles it (it ends the workers and prints one line).  A worker that raised
    KeyboardInterrupt itself would print a traceback, in its initializer or in a job."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


die_with_parent()  # the fork server imports this module: it ends with the run
leave_interrupts_to_the_driver()  # and its workers fork with Ctrl-C ignored from their first instruction


def warm_worker(threads: int) -> None:
    torch.set_num_threads(threads)
    param = torch.zeros(1, requires_grad=True)
    param.grad = torch.ones(1)
    torch.optim.SGD([param], lr=0.1).step()
    try:
        import sklearn.datasets  # noqa: F401
    except ImportError:  # scikit-learn is a dependency; a trimmed install only loses the warm start
        pass
