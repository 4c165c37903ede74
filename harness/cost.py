"""What a job cost, measured by the harness while it runs (nothing is declared by the strategy).

- ``learn_s`` / ``eval_s``: wall time of each step's learning, and of its prediction and metrics;
- ``score_s``: wall time of the board's open-set scorers at each step (fitting and scoring; only
  on boards that name scorers);
- ``cpu_s``: CPU time of the process over the job (all its threads);
- ``peak_rss_mb``: the process's peak resident memory when the job ended (``getrusage``; a process
  that ran earlier jobs reports its peak over them too, so run with the ``process`` executor for a
  per-job figure);
- ``cuda_peak_mb``: peak CUDA memory allocated by torch during the job (on a GPU; else absent);
- ``parameters``: the parameters of the ``torch.nn.Module`` objects the strategy holds after its
  last step (found through its attributes, the attributes of the helper objects it holds, lists,
  tuples and dicts, a few levels deep), each tensor once;
- ``trained_parameters``: the parameters some ``torch.optim`` optimizer stepped during the job (a
  global optimizer-step hook; a network trained and then frozen counts, a scikit-learn classifier
  does not);
- ``samples_given``: training samples handed to the strategy over all steps (each once; epochs are
  the strategy's business and appear in its training curves).
"""

from __future__ import annotations

import resource
import sys
import time
from typing import Any

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook


MAX_DEPTH = 4


def _modules(value: Any, depth: int, visited: set[int]):
    """The modules reachable from ``value`` through attributes, lists, tuples and dicts (a few levels)."""
    if id(value) in visited or depth > MAX_DEPTH:
        return
    visited.add(id(value))
    if isinstance(value, torch.nn.Module):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _modules(item, depth + 1, visited)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _modules(item, depth + 1, visited)
    elif hasattr(value, "__dict__") and not isinstance(value, (type, torch.Tensor)) and not callable(value):
        for item in vars(value).values():  # helper objects that hold a module (a session backbone, a trained network)
            yield from _modules(item, depth + 1, visited)


def parameter_count(strategy: object) -> int:
    """Parameters of the modules a strategy holds, each tensor counted once."""
    seen: dict[int, torch.nn.Parameter] = {}
    for module in _modules(strategy, 0, set()):
        for param in module.parameters():
            seen.setdefault(id(param), param)
    return sum(p.numel() for p in seen.values())


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, kB on Linux


class CostMeter:
    """Timings per step and totals of one job; :meth:`record` gives the JSON-ready ``cost`` block."""

    def __init__(self, device: torch.device):
        self.device = device
        self.cpu_start = time.process_time()
        self.learn: list[float] = []
        self.evaluate: list[float] = []
        self.score: list[float] = []
        self.samples = 0
        self.trained: dict[int, int] = {}
        self._stepped_params: list[torch.Tensor] = []  # kept alive: a freed tensor's id may be reused by a new one
        self._hook = register_optimizer_step_post_hook(self._stepped)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)

    def _stepped(self, optimizer, args, kwargs) -> None:
        for group in optimizer.param_groups:
            for param in group["params"]:
                if id(param) not in self.trained:
                    self.trained[id(param)] = param.numel()
                    self._stepped_params.append(param)

    def step(self, learn_s: float, eval_s: float, samples: int, score_s: float | None = None) -> None:
        self.learn.append(learn_s)
        self.evaluate.append(eval_s)
        self.samples += samples
        if score_s is not None:
            self.score.append(score_s)

    def record(self, strategy: object) -> dict[str, Any]:
        self._hook.remove()
        self._stepped_params.clear()
        total = parameter_count(strategy)
        out: dict[str, Any] = {
            "learn_s": self.learn,
            "eval_s": self.evaluate,
            "learn_s_total": sum(self.learn),
            "eval_s_total": sum(self.evaluate),
            "cpu_s": time.process_time() - self.cpu_start,
            "peak_rss_mb": peak_rss_mb(),
            "parameters": total,
            "trained_parameters": sum(self.trained.values()),
            "samples_given": self.samples,
        }
        if self.score:
            out["score_s"], out["score_s_total"] = self.score, sum(self.score)
        if self.device.type == "cuda":
            out["cuda_peak_mb"] = torch.cuda.max_memory_allocated(self.device) / 2**20
        return out
