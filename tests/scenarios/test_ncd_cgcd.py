"""Open-world scenario plans: which samples each step holds, labeled or not, and their determinism."""

import numpy as np
import pytest

from harness.config import parse_config
from harness.api.errors import ConfigError
from scenarios.cgcd import CGCDParams, ContinualGCD
from scenarios.ncd import NCDParams, NovelClassDiscovery


def test_ncd_labeled_known_then_unlabeled_novel(digits):
    plan = NovelClassDiscovery().plan(NCDParams(known_classes=6), digits, seed=4)
    labels = digits.train_y.numpy()
    known, novel = plan.steps
    assert known.labeled and not novel.labeled and not novel.mixes_seen
    assert known.new_classes == tuple(range(6)) and novel.new_classes == tuple(range(6, 10))
    assert set(labels[known.train_indices]) == {plan.class_order[i] for i in range(6)}
    assert set(labels[novel.train_indices]) == {plan.class_order[i] for i in range(6, 10)}
    assert len(novel.train_indices) == np.isin(labels, plan.class_order[6:]).sum()  # every sample of the novel classes
    assert plan.num_new_given
    assert not NovelClassDiscovery().plan(NCDParams(known_classes=6, estimate_num_novel=True), digits, seed=4).num_new_given


def test_ncd_defaults_and_leftover_classes(digits):
    plan = NovelClassDiscovery().plan(NCDParams(), digits, seed=0)
    assert [len(s.new_classes) for s in plan.steps] == [5, 5]
    plan = NovelClassDiscovery().plan(NCDParams(known_classes=4, novel_classes=3), digits, seed=0)
    assert len(plan.seen_after(1)) == 7  # the other 3 classes stay open-set


def _per_class(labels, indices):
    values, counts = np.unique(labels[indices], return_counts=True)
    return dict(zip(values.tolist(), counts.tolist()))


def test_cgcd_follows_happy_protocol(digits):
    params = CGCDParams(old_classes=4, stages=3, labeled_fraction=0.8, new_fraction=0.8, old_fraction=0.05, seen_fraction=0.1)
    plan = ContinualGCD().plan(params, digits, seed=1)
    labels = digits.train_y.numpy()
    n = digits.train_counts()
    order = plan.class_order
    assert [s.labeled for s in plan.steps] == [True, False, False, False]
    assert [s.new_classes for s in plan.steps] == [(0, 1, 2, 3), (4, 5), (6, 7), (8, 9)]
    stage0 = plan.steps[0].train_indices
    assert _per_class(labels, stage0) == {order[i]: round(0.8 * n[order[i]]) for i in range(4)}
    for s, step in enumerate(plan.steps[1:], start=1):
        counts = _per_class(labels, step.train_indices)
        first_new = 4 + 2 * (s - 1)
        for i in range(4):  # old classes: 5 % each, never a sample labeled at stage 0
            assert counts[order[i]] == round(0.05 * n[order[i]])
        for i in range(4, first_new):  # classes discovered at an earlier stage: 10 %
            assert counts[order[i]] == round(0.1 * n[order[i]])
        for i in range(first_new, first_new + 2):  # this stage's new classes: 80 %
            assert counts[order[i]] == round(0.8 * n[order[i]])
        assert set(counts) == {order[i] for i in range(first_new + 2)}
        assert not np.isin(step.train_indices, stage0).any()
        assert step.mixes_seen and len(np.unique(step.train_indices)) == len(step.train_indices)
    again = ContinualGCD().plan(params, digits, seed=1)
    assert all(np.array_equal(a.train_indices, b.train_indices) for a, b in zip(plan.steps, again.steps))
    other = ContinualGCD().plan(params, digits, seed=2)
    assert not np.array_equal(plan.steps[1].train_indices, other.steps[1].train_indices)


def test_cgcd_defaults_split_the_rest_evenly(digits):
    plan = ContinualGCD().plan(CGCDParams(), digits, seed=0)  # 5 old classes, 5 stages of 1
    assert [len(s.new_classes) for s in plan.steps] == [5, 1, 1, 1, 1, 1]


def _board(scenario):
    return {"name": "b", "dataset": "digits", "scenarios": [scenario], "strategies": ["nmc"]}


@pytest.mark.parametrize(
    "scenario, path, message",
    [
        ({"kind": "cgcd", "old_classes": 4, "stages": 4}, "scenarios[0].stages", "split evenly"),
        ({"kind": "cgcd", "old_classes": 4, "stages": 3, "old_fraction": 0.5}, "scenarios[0].old_fraction", "fewer than"),
        ({"kind": "cgcd", "labeled_fraction": 1.0}, "scenarios[0].labeled_fraction", "less than 1"),
        ({"kind": "ncd", "known_classes": 10}, "scenarios[0].known_classes", "at least one"),
        ({"kind": "ncd", "known_classes": 6, "novel_classes": 5}, "scenarios[0].novel_classes", "exceeds"),
    ],
)
def test_bad_open_world_params_name_the_field(scenario, path, message):
    with pytest.raises(ConfigError) as err:
        parse_config(_board(scenario))
    assert err.value.path == path and message in err.value.message
