"""A strategy receives, at each step, exactly the training samples of that step and their labels:
never test data, never labels of other steps; at prediction it gets test inputs without labels.
Strategies that train a backbone train it once, on the base session's training data."""

import dataclasses

import numpy as np
import pytest
import torch

from harness.config import parse_config
from harness.api.experience import Experience, Prediction
from harness.api.registry import SCENARIOS, STRATEGIES
from harness.runner import execute, remap
from harness.api.strategy import Strategy
from harness.sweep import expand
import harness.training.session_backbone as session_backbone

RECORDS: dict[str, list] = {"learn": [], "predict": []}


def _register_spy():
    if "leak-spy" in STRATEGIES:
        return

    @STRATEGIES.register("leak-spy")
    class LeakSpy(Strategy):
        supports = frozenset({"cil", "fscil"})

        def learn(self, experience: Experience) -> None:
            RECORDS["learn"].append(experience)
            self.classes = torch.tensor(experience.seen_classes)

        def predict(self, inputs: torch.Tensor) -> Prediction:
            RECORDS["predict"].append(inputs.clone())
            logits = torch.zeros(len(inputs), len(self.classes))
            return Prediction(logits, self.classes, logits.max(1).values)


SCENARIO_ENTRIES = [
    {"kind": "cil", "base_classes": 4, "increment": 2},
    {"kind": "fscil", "base_classes": 4, "ways": 2, "shots": 5},
]


def _config(strategy, scenario):
    return parse_config(
        {"name": "leak", "dataset": "digits", "scenarios": [scenario], "strategies": [strategy], "seeds": [3], "device": "cpu"}
    )


@pytest.mark.parametrize("scenario", SCENARIO_ENTRIES, ids=["cil", "fscil"])
def test_spy_gets_only_the_train_split_of_each_step(scenario, digits):
    _register_spy()
    RECORDS["learn"].clear()
    RECORDS["predict"].clear()
    job = expand(_config({"name": "leak-spy"}, scenario))[0]
    execute(job, progress=False)
    plan = SCENARIOS.get(job.scenario.name)().plan(job.scenario.params, digits, job.seed)
    train_y = remap(digits.train_y.numpy(), plan)
    assert len(RECORDS["learn"]) == len(plan.steps)
    for step, (exp, step_plan) in enumerate(zip(RECORDS["learn"], plan.steps)):
        assert [f.name for f in dataclasses.fields(exp)] == ["step", "scenario_kind", "inputs", "labels", "new_classes", "seen_classes"]
        idx = torch.from_numpy(step_plan.train_indices)
        assert exp.step == step
        assert torch.equal(exp.inputs, digits.train_x[idx])  # these training samples, in this order
        assert np.array_equal(exp.labels.numpy(), train_y[step_plan.train_indices])
        assert set(exp.labels.tolist()) == set(step_plan.new_classes) == set(exp.new_classes)
    # the steps' samples are disjoint and all of them come from the train split (indices into train_x)
    used = np.concatenate([p.train_indices for p in plan.steps])
    assert len(np.unique(used)) == len(used) and used.max() < len(digits.train_x)
    # prediction sees the test inputs (no labels: the call has none) once per step
    assert len(RECORDS["predict"]) == len(plan.steps)
    assert all(torch.equal(x, digits.test_x) for x in RECORDS["predict"])


@pytest.mark.parametrize("name", ["fetril", "teen"])
def test_backbone_is_trained_once_on_base_training_data(name, digits, monkeypatch):
    calls = []
    original = session_backbone.train_base_backbone

    def recording(params, inputs, labels, seed, device):
        calls.append((inputs.clone(), labels.clone()))
        return original(params, inputs, labels, seed, device)

    monkeypatch.setattr(session_backbone, "train_base_backbone", recording)
    job = expand(_config({"name": name, "backbone": {"width": 4, "epochs": 1}}, SCENARIO_ENTRIES[1]))[0]
    execute(job, progress=False)
    plan = SCENARIOS.get("fscil")().plan(job.scenario.params, digits, job.seed)
    base_idx = torch.from_numpy(plan.steps[0].train_indices)
    assert len(calls) == 1
    assert torch.equal(calls[0][0], digits.train_x[base_idx])
    assert set(calls[0][1].tolist()) == set(plan.steps[0].new_classes)
