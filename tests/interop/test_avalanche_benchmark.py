"""The avalanche export: experiences equal owlbench's steps sample for sample, for every scenario kind."""

import numpy as np
import pytest
import torch

pytest.importorskip("avalanche", reason="the optional avalanche extra is not installed (pip install -e '.[avalanche]')")

from harness.api.registry import SCENARIOS  # noqa: E402
from harness.cli import main  # noqa: E402
from harness.config import parse_config  # noqa: E402
from harness.datasets.loading import load_dataset  # noqa: E402
from harness.interop.avalanche_benchmark import load_benchmark, scenario_arrays, to_avalanche  # noqa: E402
from harness.runner import remap  # noqa: E402

SCENARIOS_OF_EVERY_KIND = [
    {"kind": "cil", "base_classes": 4, "increment": 2},
    {"kind": "fscil", "base_classes": 4, "ways": 2, "shots": 5},
    {"kind": "ncd", "known_classes": 5},
    {"kind": "cgcd", "old_classes": 4, "stages": 3},
]
BOARD = {"name": "ex", "dataset": "digits", "scenarios": SCENARIOS_OF_EVERY_KIND, "strategies": [{"name": "nmc"}], "seeds": [0, 3], "device": "cpu"}


def _all(dataset):
    if len(dataset) == 0:
        return torch.empty(0), torch.empty(0, dtype=torch.long), torch.empty(0, dtype=torch.long)
    x = torch.stack([dataset[i][0] for i in range(len(dataset))])
    return x, torch.tensor(list(dataset.targets)), torch.tensor(list(dataset.owlbench_index))


@pytest.mark.parametrize("kind", ["cil", "fscil", "ncd", "cgcd"])
@pytest.mark.parametrize("seed", [0, 3])
def test_exported_experiences_are_owlbenchs_steps(kind, seed):
    config = parse_config(BOARD)
    scenario = next(s for s in config.scenarios if s.label == kind)
    data = load_dataset(config.dataset.name, config.dataset.params)
    plan = SCENARIOS.get(scenario.name)().plan(scenario.params, data, seed)
    ids_train = remap(data.train_y.numpy(), plan)
    ids_test = remap(np.asarray(data.test_y), plan)
    benchmark = to_avalanche(scenario_arrays(config, kind, seed, unlabeled=True))
    assert len(benchmark.train_stream) == len(plan.steps)
    seen: list[int] = []
    for i, step in enumerate(plan.steps):
        seen += list(step.new_classes)
        x, y, index = _all(benchmark.train_stream[i].dataset)
        assert index.tolist() == list(step.train_indices)  # same samples, same order
        assert torch.equal(x, data.train_x[index])
        assert y.tolist() == (ids_train[step.train_indices].tolist() if step.labeled else [-1] * len(index))
        x, y, index = _all(benchmark.test_stream[i].dataset)
        assert sorted(index.tolist()) == np.flatnonzero(np.isin(ids_test, step.new_classes)).tolist()
        assert torch.equal(x, data.test_x[index]) and y.tolist() == ids_test[index.numpy()].tolist()
        x, y, index = _all(benchmark.open_set_stream[i].dataset)
        assert sorted(index.tolist()) == np.flatnonzero(~np.isin(ids_test, seen)).tolist()
        experience = benchmark.train_stream[i]
        assert experience.classes_seen_so_far == (seen if step.labeled else experience.previous_classes)
    assert benchmark.owlbench["class_order"] == list(plan.class_order)


def test_unlabeled_steps_are_left_out_unless_asked():
    config = parse_config(BOARD)
    for kind, labeled in (("ncd", 1), ("cgcd", 1)):
        arrays = scenario_arrays(config, kind, 0)
        assert len(arrays.streams["train"]) == labeled
        assert all((y >= 0).all() for _, y, _ in arrays.streams["train"])


def test_the_command_writes_a_folder_that_loads_as_the_same_benchmark(tmp_path, capsys):
    import yaml

    board = tmp_path / "b.yaml"
    board.write_text(yaml.safe_dump(BOARD))
    assert main(["export", "avalanche", str(board), "--scenario", "fscil", "--seed", "3", "--to", str(tmp_path / "x")]) == 0
    assert "load_benchmark" in capsys.readouterr().out
    loaded = load_benchmark(tmp_path / "x")
    direct = to_avalanche(scenario_arrays(parse_config(BOARD), "fscil", 3))
    for name in ("train_stream", "test_stream", "open_set_stream"):
        for a, b in zip(getattr(loaded, name), getattr(direct, name)):
            xa, ya, ia = _all(a.dataset)
            xb, yb, ib = _all(b.dataset)
            assert torch.equal(xa, xb) and torch.equal(ya, yb) and torch.equal(ia, ib)
    assert loaded.n_classes_per_exp == direct.n_classes_per_exp == [4, 2, 2, 2]
    assert main(["export", "avalanche", str(board), "--scenario", "nope", "--seed", "0"]) == 2
    assert "its scenarios: cil, fscil, ncd, cgcd" in capsys.readouterr().err
    assert main(["export", "avalanche", str(board), "--scenario", "cil"]) == 2
    assert main(["export", str(board), "--seed", "1"]) == 2
    assert "belong to 'owlbench export avalanche" in capsys.readouterr().err


def test_unlabeled_targets_are_rejected_by_cross_entropy_and_ignored_with_ignore_index():
    """What the docs say avalanche does with an unlabeled step's -1 targets."""
    logits = torch.randn(6, 4, requires_grad=True)
    targets = torch.full((6,), -1)
    with pytest.raises(IndexError):
        torch.nn.CrossEntropyLoss()(logits, targets)
    loss = torch.nn.CrossEntropyLoss(ignore_index=-1)(logits, targets)
    loss.backward()
    assert torch.isnan(loss) and torch.count_nonzero(logits.grad) == 0


def test_published_cec_sessions_are_exported_as_listed():
    """An fscil scenario with the published CEC CIFAR-100 lists (on a dataset labelled like CIFAR-100)."""
    from scenarios.fscil import FewShotClassIncremental, FSCILParams
    from tests.scenarios.test_published_splits import _cifar_like

    from harness.interop.avalanche_benchmark import plan_arrays

    data, lists = _cifar_like()
    plan = FewShotClassIncremental().plan(FSCILParams(base_classes=60, ways=5, shots=5, split="cec"), data, seed=0)
    arrays = plan_arrays(plan, data, torch.arange(len(data.train_y)).float()[:, None], data.test_x)
    train = arrays.streams["train"]
    assert len(train) == 9 and [len(c) for c in arrays.new_classes] == [60] + [5] * 8
    for (x, y, index), listed in zip(train, lists):
        assert index.tolist() == sorted(int(e) for e in listed)
        assert x[:, 0].long().tolist() == index.tolist()  # the inputs are those samples
        assert y.tolist() == data.train_y[index].tolist()  # CIFAR's class order is the identity
