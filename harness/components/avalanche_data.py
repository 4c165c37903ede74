"""owlbench tensors as avalanche-lib datasets and experiences (the optional ``avalanche`` extra).

Nothing here imports avalanche at module level: :func:`import_avalanche` does, when a strategy or an
export first needs it, so ``owlbench --help``, ``owlbench list`` and every other strategy stay free
of it.

Datasets are made with avalanche's own tensor constructor (``_make_taskaware_tensor_classification_dataset``,
task label 0, integer targets), the constructor its iCaRL uses for its exemplar buffer: a step's
dataset and the buffer are then of one type, and iCaRL's ``concat_datasets`` merges them.  An
exported dataset also carries each sample's owlbench index (its position in the dataset's train or
test split) as the data attribute ``owlbench_index``.
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings
from types import ModuleType, SimpleNamespace
from typing import Sequence

import torch

from harness.api.errors import ConfigError

DISTRIBUTION = "avalanche-lib"
INSTALL_HINT = "pip install -e '.[avalanche]'"


def avalanche_missing() -> str | None:
    """Why avalanche-lib cannot be used here (not installed), or ``None`` when it can."""
    if importlib.util.find_spec("avalanche") is None:
        return f"needs the optional avalanche-lib, which is not installed: {INSTALL_HINT}"
    return None


def import_avalanche() -> ModuleType:
    """The ``avalanche`` package, imported quietly (its import warns about packages owlbench does not use)."""
    problem = avalanche_missing()
    if problem:
        raise ConfigError("strategies", problem)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = importlib.import_module("avalanche")
        for name in ("avalanche.training", "avalanche.models", "avalanche.training.plugins", "avalanche.benchmarks.utils"):
            importlib.import_module(name)
    return module


def tensor_dataset(inputs: torch.Tensor, targets: torch.Tensor, indices: torch.Tensor | None = None):
    """An avalanche classification dataset of ``inputs`` (CPU tensors, as avalanche's data loaders
    expect) with integer ``targets`` and task label 0; ``indices`` become the ``owlbench_index``
    attribute when given."""
    import_avalanche()
    from avalanche.benchmarks.utils import _make_taskaware_tensor_classification_dataset
    from avalanche.benchmarks.utils.data_attribute import DataAttribute

    inputs, targets = inputs.detach().cpu(), targets.detach().cpu().long()
    dataset = _make_taskaware_tensor_classification_dataset(inputs, targets, task_labels=0, targets=targets.tolist())
    if indices is None:
        return dataset
    from avalanche.benchmarks.utils import TaskAwareSupervisedClassificationDataset

    index = DataAttribute([int(i) for i in indices.tolist()], "owlbench_index")  # not returned by __getitem__
    return TaskAwareSupervisedClassificationDataset([dataset], data_attributes=[index])


def benchmark_view(step_sizes: Sequence[int], class_order: Sequence[int], num_classes: int | None) -> SimpleNamespace:
    """What iCaRL reads from ``experience.benchmark``: the sizes of the steps so far and the class order
    as far as it is known (to a strategy: the classes seen so far; in an export: the whole order).  iCaRL sizes its class-mean table by the sum of
    ``n_classes_per_exp`` when it first builds it (a smaller table breaks its distillation copy at the
    next step), so a last entry holds the number of classes not seen yet (the total, not the future
    steps)."""
    sizes = [int(s) for s in step_sizes]
    remaining = (num_classes or 0) - sum(sizes)
    return SimpleNamespace(n_classes_per_exp=sizes + ([remaining] if remaining > 0 else []), classes_order=[int(c) for c in class_order])


def attach_stream(experiences: list, name: str, benchmark=None) -> None:
    """Put ``experiences`` into an avalanche stream ``name`` (each gets its ``origin_stream``; avalanche's
    ``train`` reads it) keeping their ``current_experience`` ids."""
    import_avalanche()
    from avalanche.benchmarks.scenarios.generic_scenario import EagerCLStream

    ids = [e.current_experience for e in experiences]
    EagerCLStream(name, experiences, benchmark=benchmark, set_stream_info=True)
    for experience, i in zip(experiences, ids):
        experience.current_experience = i


def set_timeline(experience, new_classes: Sequence[int], previous: Sequence[int], benchmark) -> None:
    """The class timeline avalanche's heads and plugins read (``classes_in_this_experience``,
    ``previous_classes``, ``classes_seen_so_far``; ``future_classes`` is not given) and ``benchmark``
    (:func:`benchmark_view`, or an exported benchmark)."""
    new, previous = [int(c) for c in new_classes], [int(c) for c in previous]
    experience.classes_in_this_experience = new
    experience.previous_classes = previous
    experience.classes_seen_so_far = previous + new
    experience.benchmark = benchmark


def training_experience(dataset, step: int, new_classes: Sequence[int], previous: Sequence[int], benchmark) -> object:
    """One avalanche training experience: ``dataset`` at position ``step`` of a training stream, with
    its class timeline (:func:`set_timeline`)."""
    import_avalanche()
    from avalanche.benchmarks.scenarios.dataset_scenario import DatasetExperience

    experience = DatasetExperience(dataset=dataset, current_experience=step)
    attach_stream([experience], "train")
    set_timeline(experience, new_classes, previous, benchmark)
    return experience
