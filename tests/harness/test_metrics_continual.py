"""Continual-accuracy formulas on hand-computed matrices."""

import math

import numpy as np
import pytest

from harness.metrics.continual import (
    ContinualAccuracy,
    average_incremental_accuracy,
    backward_transfer,
    forgetting,
    harmonic_mean,
)

# R[i][j]: accuracy on the classes of step j after step i
R = np.array(
    [
        [0.9, math.nan, math.nan],
        [0.7, 0.8, math.nan],
        [0.6, 0.5, 0.9],
    ]
)


def test_forgetting_by_hand():
    # step 0: best before last = max(0.9, 0.7) = 0.9, final 0.6 -> 0.3
    # step 1: best before last = 0.8, final 0.5 -> 0.3
    assert forgetting(R) == pytest.approx(0.3)


def test_forgetting_uses_best_not_first():
    m = np.array([[0.5, math.nan, math.nan], [0.8, 0.6, math.nan], [0.7, 0.6, 1.0]])
    # step 0: max(0.5, 0.8) - 0.7 = 0.1 ; step 1: 0.6 - 0.6 = 0
    assert forgetting(m) == pytest.approx(0.05)


def test_backward_transfer_by_hand():
    # (0.6 - 0.9 + 0.5 - 0.8) / 2 = -0.3
    assert backward_transfer(R) == pytest.approx(-0.3)


def test_single_step_has_no_forgetting():
    assert forgetting(np.array([[0.9]])) is None
    assert backward_transfer(np.array([[0.9]])) is None


def test_average_incremental_accuracy_includes_step_zero():
    assert average_incremental_accuracy([1.0, 0.8, 0.6]) == pytest.approx(0.8)


def test_harmonic_mean():
    assert harmonic_mean(0.8, 0.4) == pytest.approx(2 * 0.8 * 0.4 / 1.2)
    assert harmonic_mean(None, 0.4) is None
    assert harmonic_mean(0.0, 0.0) == 0.0


def test_continual_accuracy_from_predictions():
    # classes 0,1 at step 0; class 2 at step 1
    metric = ContinualAccuracy({0: 0, 1: 0, 2: 1})
    # step 0: class 0 has 2 samples (1 right), class 1 has 2 samples (2 right) -> 3/4
    metric.update(0, np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]))
    # step 1: class 0: 2/2, class 1: 0/2, class 2: 1/4  -> 3/8 overall
    metric.update(1, np.array([0, 0, 1, 1, 2, 2, 2, 2]), np.array([0, 0, 0, 2, 2, 0, 0, 1]))
    out = metric.compute()
    assert out["accuracy"] == [pytest.approx(0.75), pytest.approx(3 / 8)]
    assert out["accuracy_matrix"][0] == [pytest.approx(0.75), None]
    assert out["accuracy_matrix"][1] == [pytest.approx(0.5), pytest.approx(0.25)]
    # base accuracy = mean per-class accuracy over classes of step 0: step 0 (0.5 + 1)/2, step 1 (1 + 0)/2
    assert out["base_accuracy"] == [pytest.approx(0.75), pytest.approx(0.5)]
    assert out["novel_accuracy"] == [None, pytest.approx(0.25)]
    assert out["harmonic_accuracy"][1] == pytest.approx(2 * 0.5 * 0.25 / 0.75)
    s = out["summary"]
    assert s["forgetting"] == pytest.approx(0.25)  # 0.75 -> 0.5
    assert s["backward_transfer"] == pytest.approx(-0.25)
    assert s["average_incremental_accuracy"] == pytest.approx((0.75 + 0.375) / 2)
    assert out["per_class_counts"][1][1] == [0, 2]


def test_steps_must_come_in_order():
    metric = ContinualAccuracy({0: 0})
    with pytest.raises(ValueError):
        metric.update(1, np.array([0]), np.array([0]))
