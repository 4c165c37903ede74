"""An owlbench scenario as an avalanche-lib benchmark: the same samples, step by step, each with its owlbench index.

:func:`scenario_arrays` turns one scenario of a board and a seed into plain tensors per stream and
experience; :func:`to_avalanche` makes the avalanche benchmark of them; :func:`benchmark_from_board`
does both; :func:`save_arrays` / :func:`load_benchmark` write and read them as a folder
(``arrays.safetensors`` + ``benchmark.json``, no pickles), which ``owlbench export avalanche`` writes.

Streams (experience ``i`` belongs to step ``i`` of the exported steps):

- ``train_stream``: the step's training samples, in the order owlbench gives them to a strategy, with
  targets in owlbench's class ids (positions in the class order: id 0 is the first class introduced).
  Unlabeled steps (``ncd``, ``cgcd``) are left out unless ``unlabeled=True``; then their targets are
  ``-1``, as avalanche's semi-supervised convention has it.  avalanche's ``CrossEntropyLoss`` rejects
  ``-1`` targets; with ``ignore_index=-1`` such a step contributes no loss, so an avalanche
  strategy learns nothing from it.
- ``test_stream``: the test samples of the classes the step introduces (avalanche's convention: the
  accuracy on experience ``j`` after training on ``i`` is owlbench's ``R[i][j]``).
- ``open_set_stream``: the test samples of every class not seen after the step (unknowns), targets their
  class ids, or ``-1`` for classes outside the class order.

Inputs are what owlbench's strategies receive: the board backbone's features when it names one, the
dataset's tensors otherwise.  Every dataset has the data attribute ``owlbench_index`` (position in
the dataset's train or test split).  The benchmark has ``n_classes_per_exp`` and ``classes_order``
(what iCaRL reads) and ``owlbench`` (board, scenario, seed, kind, class order as dataset labels,
class names); each training experience has ``classes_in_this_experience``, ``previous_classes``,
``classes_seen_so_far`` and ``benchmark``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from harness.api.errors import ConfigError

STREAMS = ("train", "test", "open_set")
FORMAT = "owlbench-avalanche/1"


@dataclass
class ScenarioArrays:
    """Tensors per stream: ``streams[name][i] = (inputs, targets, owlbench_indices)``; ``new_classes[i]``
    the class ids experience ``i`` of the training stream introduces; ``meta`` describes the scenario."""

    streams: dict[str, list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]]
    new_classes: list[list[int]]
    num_classes: int
    meta: dict[str, Any] = field(default_factory=dict)


def scenario_arrays(config, scenario_label: str, seed: int, unlabeled: bool = False) -> ScenarioArrays:
    """The streams of scenario ``scenario_label`` of a parsed board (:func:`harness.config.load_config`) at ``seed``."""
    from harness.api.registry import SCENARIOS
    from harness.backbones.inputs import job_inputs
    from harness.datasets.loading import load_dataset

    scenarios = {s.label: s for s in config.scenarios}
    if scenario_label not in scenarios:
        raise ConfigError("--scenario", f"the board has no scenario {scenario_label!r}; its scenarios: {', '.join(scenarios)}")
    scenario = scenarios[scenario_label]
    data = load_dataset(config.dataset.name, config.dataset.params)
    if data.modality != "tensor" and config.backbone is None:
        raise ConfigError("backbone", f"dataset {data.name!r} holds {data.modality} inputs; export needs tensors, so give the board a backbone")
    plan = SCENARIOS.get(scenario.name)().plan(scenario.params, data, seed)
    job = SimpleNamespace(backbone=config.backbone, dataset=config.dataset, device="cpu")  # what job_inputs reads
    train_x, test_x = job_inputs(job, data, torch.device("cpu"))
    meta = {"board": config.name, "scenario": scenario_label, "seed": int(seed)}
    return plan_arrays(plan, data, train_x, test_x, unlabeled, meta)


def plan_arrays(plan, data, train_x: torch.Tensor, test_x: torch.Tensor, unlabeled: bool = False, meta: dict | None = None) -> ScenarioArrays:
    """The streams of ``plan`` over ``data`` (its labels and class names) with inputs ``train_x`` / ``test_x``."""
    from harness.runner import remap

    train_ids = torch.from_numpy(remap(data.train_y.numpy(), plan))
    test_ids = torch.from_numpy(remap(np.asarray(data.test_y), plan))
    streams: dict[str, list] = {name: [] for name in STREAMS}
    new_classes: list[list[int]] = []
    seen: list[int] = []
    for step in plan.steps:
        seen += list(step.new_classes)
        if not step.labeled and not unlabeled:
            continue
        idx = torch.from_numpy(np.asarray(step.train_indices)).long()
        targets = train_ids[idx] if step.labeled else torch.full((len(idx),), -1, dtype=torch.long)
        streams["train"].append((train_x[idx], targets.long(), idx))
        new = torch.tensor(list(step.new_classes), dtype=torch.long)
        test_idx = torch.nonzero(torch.isin(test_ids, new)).flatten()
        streams["test"].append((test_x[test_idx], test_ids[test_idx].long(), test_idx))
        unknown_idx = torch.nonzero(~torch.isin(test_ids, torch.tensor(seen, dtype=torch.long))).flatten()
        streams["open_set"].append((test_x[unknown_idx], test_ids[unknown_idx].long(), unknown_idx))
        new_classes.append(list(step.new_classes) if step.labeled else [])
    described = {
        "format": FORMAT, **(meta or {}), "kind": plan.kind,
        "class_order": [int(c) for c in plan.class_order], "class_names": [data.class_names[c] for c in plan.class_order],
        "unlabeled_steps": bool(unlabeled),
    }
    return ScenarioArrays(streams, new_classes, len(plan.class_order), described)


def to_avalanche(arrays: ScenarioArrays):
    """The avalanche benchmark of ``arrays`` (see the module docstring for its streams and attributes)."""
    from harness.components.avalanche_data import benchmark_view, import_avalanche, set_timeline, tensor_dataset

    import_avalanche()
    from avalanche.benchmarks.scenarios.dataset_scenario import benchmark_from_datasets

    datasets = {name: [tensor_dataset(x, y, i) for x, y, i in arrays.streams[name]] for name in STREAMS}
    benchmark = benchmark_from_datasets(**datasets)
    view = benchmark_view([len(c) for c in arrays.new_classes], range(arrays.num_classes), arrays.num_classes)
    benchmark.n_classes_per_exp, benchmark.classes_order = view.n_classes_per_exp, view.classes_order
    benchmark.owlbench = dict(arrays.meta)
    previous: list[int] = []
    for experience, new in zip(benchmark.train_stream, arrays.new_classes):
        set_timeline(experience, new, previous, benchmark)
        previous = previous + list(new)
    return benchmark


def benchmark_from_board(path: str | Path, scenario: str, seed: int, unlabeled: bool = False, overrides: list[str] | None = None):
    """The avalanche benchmark of scenario ``scenario`` of the board YAML at ``path``, at ``seed``."""
    from harness.config import load_config

    return to_avalanche(scenario_arrays(load_config(path, overrides=overrides), scenario, seed, unlabeled))


def save_arrays(arrays: ScenarioArrays, folder: Path) -> None:
    """``folder/arrays.safetensors`` (every tensor, named ``<stream>/<i>/<inputs|targets|index>``) and
    ``folder/benchmark.json`` (the description and the classes per step), each written atomically."""
    from safetensors.torch import save as save_tensors

    from harness.io import atomic_write_bytes, atomic_write_json

    tensors = {}
    for name in STREAMS:
        for i, (x, y, idx) in enumerate(arrays.streams[name]):
            tensors.update({f"{name}/{i}/inputs": x.contiguous(), f"{name}/{i}/targets": y.contiguous(), f"{name}/{i}/index": idx.contiguous()})
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / "arrays.safetensors", save_tensors(tensors))
    atomic_write_json(folder / "benchmark.json", {**arrays.meta, "num_classes": arrays.num_classes, "new_classes": arrays.new_classes,
                                                  "experiences": {name: len(arrays.streams[name]) for name in STREAMS}})


def load_arrays(folder: str | Path) -> ScenarioArrays:
    """What :func:`save_arrays` wrote into ``folder``."""
    from safetensors.torch import load_file

    folder = Path(folder)
    meta = json.loads((folder / "benchmark.json").read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise ValueError(f"{folder / 'benchmark.json'} is not an owlbench avalanche export ({FORMAT})")
    tensors = load_file(str(folder / "arrays.safetensors"))
    streams = {
        name: [(tensors[f"{name}/{i}/inputs"], tensors[f"{name}/{i}/targets"], tensors[f"{name}/{i}/index"]) for i in range(meta["experiences"][name])]
        for name in STREAMS
    }
    described = {k: v for k, v in meta.items() if k not in ("num_classes", "new_classes", "experiences")}
    return ScenarioArrays(streams, meta["new_classes"], meta["num_classes"], described)


def load_benchmark(folder: str | Path):
    """The avalanche benchmark of an export folder (``owlbench export avalanche``)."""
    return to_avalanche(load_arrays(folder))
