"""Scenario plans: structure, determinism from the seed, explicit class orders."""

import numpy as np

from harness.api.scenario import ScenarioPlan
from scenarios.cil import CILParams, ClassIncremental
from scenarios.fscil import FewShotClassIncremental, FSCILParams


def _labels_of(plan: ScenarioPlan, step: int, labels: np.ndarray) -> set[int]:
    return set(labels[plan.steps[step].train_indices].tolist())


def test_cil_steps_hold_exactly_their_classes(digits):
    plan = ClassIncremental().plan(CILParams(base_classes=4, increment=2), digits, seed=3)
    labels = digits.train_y.numpy()
    assert [len(s.new_classes) for s in plan.steps] == [4, 2, 2, 2]
    assert sorted(plan.class_order) == list(range(10))
    for i, step in enumerate(plan.steps):
        assert _labels_of(plan, i, labels) == {plan.class_order[c] for c in step.new_classes}
        # every training sample of those classes, none missing
        assert len(step.train_indices) == np.isin(labels, [plan.class_order[c] for c in step.new_classes]).sum()


def test_class_order_follows_the_seed(digits):
    a = ClassIncremental().plan(CILParams(base_classes=4, increment=2), digits, seed=1)
    b = ClassIncremental().plan(CILParams(base_classes=4, increment=2), digits, seed=1)
    c = ClassIncremental().plan(CILParams(base_classes=4, increment=2), digits, seed=2)
    assert a.class_order == b.class_order
    assert a.class_order != c.class_order


def test_explicit_class_order(digits):
    order = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    plan = ClassIncremental().plan(CILParams(base_classes=4, increment=2, class_order=order), digits, seed=5)
    assert plan.class_order == tuple(order)
    assert _labels_of(plan, 0, digits.train_y.numpy()) == {9, 8, 7, 6}


def test_cil_leftover_classes_stay_unseen(digits):
    plan = ClassIncremental().plan(CILParams(base_classes=4, increment=2, num_increments=1), digits, seed=0)
    assert len(plan.steps) == 2 and len(plan.seen_after(1)) == 6


def test_fscil_sessions_are_n_way_k_shot(digits):
    params = FSCILParams(base_classes=4, ways=2, shots=5)
    plan = FewShotClassIncremental().plan(params, digits, seed=0)
    labels = digits.train_y.numpy()
    assert len(plan.steps) == 4
    assert len(plan.steps[0].train_indices) == np.isin(labels, plan.class_order[:4]).sum()
    for step in plan.steps[1:]:
        got = labels[step.train_indices]
        assert len(step.train_indices) == 10
        assert sorted(np.unique(got, return_counts=True)[1].tolist()) == [5, 5]
    again = FewShotClassIncremental().plan(params, digits, seed=0)
    assert all(np.array_equal(a.train_indices, b.train_indices) for a, b in zip(plan.steps, again.steps))
