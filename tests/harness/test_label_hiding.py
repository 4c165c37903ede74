"""Unlabeled samples reach a strategy without their labels: no attribute path leads to them."""

import dataclasses

import pytest
import torch

from harness.config import parse_config
from harness.api.experience import UnlabeledExperience
from harness.runner import execute
from harness.sweep import expand
from strategies.nmc import NMC


def reachable(obj, depth=4):
    """Every object reachable from ``obj`` through public and private attributes (``dir``), items of
    containers, and a tensor's ``_base`` and ``grad``."""
    seen, out, frontier = set(), [], [(obj, 0)]
    while frontier:
        current, level = frontier.pop()
        if id(current) in seen or level > depth:
            continue
        seen.add(id(current))
        out.append(current)
        if isinstance(current, torch.Tensor):
            frontier += [(t, level + 1) for t in (current._base, current.grad) if t is not None]
            continue
        if isinstance(current, (tuple, list)):
            frontier += [(v, level + 1) for v in current]
            continue
        if isinstance(current, (int, float, str, bool, type(None))):
            continue
        for name in dir(current):
            if name.startswith("__"):
                continue
            try:
                value = getattr(current, name)
            except Exception:
                continue
            if not callable(value) or isinstance(value, torch.Tensor):
                frontier.append((value, level + 1))
    return out


def test_unlabeled_experience_has_no_place_for_labels():
    names = {f.name for f in dataclasses.fields(UnlabeledExperience)}
    assert names == {"step", "scenario_kind", "inputs", "num_new_classes", "may_contain_known"}
    exp = UnlabeledExperience(1, "ncd", torch.zeros(3, 2), 2, False)
    assert not hasattr(exp, "__dict__")  # slots: no attribute can be added
    with pytest.raises((dataclasses.FrozenInstanceError, AttributeError, TypeError)):
        exp.labels = torch.zeros(3)  # type: ignore[attr-defined]
    with pytest.raises((dataclasses.FrozenInstanceError, AttributeError)):
        exp.inputs = torch.ones(3, 2)  # type: ignore[misc]


@pytest.mark.parametrize("scenario", [{"kind": "ncd", "estimate_num_novel": False}, {"kind": "cgcd", "old_classes": 4, "stages": 3}])
def test_no_attribute_path_leads_to_the_labels_in_a_run(scenario, digits, monkeypatch):
    captured = []
    original = NMC.learn_unlabeled

    def spy(self, experience):
        captured.append(experience)
        return original(self, experience)

    monkeypatch.setattr(NMC, "learn_unlabeled", spy)
    config = parse_config({"name": "hide", "dataset": "digits", "scenarios": [scenario], "strategies": ["nmc"], "seeds": [0], "device": "cpu"})
    execute(expand(config)[0], progress=False)
    assert captured and all(type(e) is UnlabeledExperience for e in captured)
    labels = digits.train_y
    for exp in captured:
        assert exp.inputs._base is None  # a fresh tensor, not a view into the whole training set
        assert exp.inputs.untyped_storage().nbytes() == exp.inputs.numel() * exp.inputs.element_size()
        for obj in reachable(exp):
            if isinstance(obj, torch.Tensor):
                assert obj.untyped_storage().data_ptr() != labels.untyped_storage().data_ptr()
                # no tensor holds a label per sample: the only per-sample tensor is the inputs
                assert obj is exp.inputs or obj.numel() < len(exp.inputs)
        assert exp.num_new_classes == (2 if scenario["kind"] == "cgcd" else 5)
        assert exp.may_contain_known is (scenario["kind"] == "cgcd")
