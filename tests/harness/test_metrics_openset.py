"""Open-set metrics: hand-computed cases, and agreement with scikit-learn on random scores."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from harness.metrics.openset import OpenSetDetection, aupr, auroc, fpr_at_tpr


def _sk(known, unknown):
    y = np.r_[np.ones(len(known)), np.zeros(len(unknown))]
    s = np.r_[known, unknown]
    # every threshold kept: sklearn's default drops collinear points, which can skip the first
    # threshold reaching 95 % TPR and report a larger FPR than the curve has there
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    return roc_auc_score(y, s), fpr[np.searchsorted(tpr, 0.95, side="left")], average_precision_score(y, s)


def test_hand_computed():
    known, unknown = np.array([0.9, 0.8, 0.3]), np.array([0.5, 0.1])
    # pairs known > unknown: 0.9>0.5,0.9>0.1,0.8>0.5,0.8>0.1,0.3>0.1 -> 5 of 6
    assert auroc(known, unknown) == pytest.approx(5 / 6)
    # keeping all 3 known samples needs threshold 0.3, above which 1 of 2 unknown lie
    assert fpr_at_tpr(known, unknown) == pytest.approx(0.5)
    # precision at recall 1/3, 2/3, 1: 1, 1, 3/4 -> AP = (1 + 1 + 0.75)/3
    assert aupr(known, unknown) == pytest.approx(2.75 / 3)


def test_ties_count_half():
    assert auroc(np.array([1.0]), np.array([1.0])) == pytest.approx(0.5)


def test_fpr95_with_ties_takes_the_first_threshold_reaching_95_percent():
    # 20 known: 19 at score 2, 1 at score 0; 10 unknown: 3 at 2, 7 at 0.
    # Threshold 2 keeps 19/20 = 95 % of known with 3/10 unknown above it -> FPR 0.3
    known = np.r_[np.full(19, 2.0), 0.0]
    unknown = np.r_[np.full(3, 2.0), np.zeros(7)]
    assert fpr_at_tpr(known, unknown) == pytest.approx(0.3)


def test_missing_when_no_unknown():
    assert auroc(np.array([1.0, 2.0]), np.array([])) is None
    assert fpr_at_tpr(np.array([1.0]), np.array([])) is None
    assert aupr(np.array([1.0]), np.array([])) is None
    metric = OpenSetDetection()
    metric.update(0, np.array([0.2, 0.9]), np.array([0.1]))
    metric.update(1, np.array([0.2, 0.9]), np.array([]))
    out = metric.compute()
    assert out["auroc"][1] is None and out["auroc"][0] == 1.0
    assert out["summary"]["mean_auroc"] == 1.0


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 60),
    st.integers(1, 60),
    st.integers(0, 2**31 - 1),
    st.booleans(),
)
def test_agrees_with_sklearn(n_known, n_unknown, seed, coarse):
    rng = np.random.default_rng(seed)
    known = rng.normal(0.5, 1.0, n_known)
    unknown = rng.normal(0.0, 1.0, n_unknown)
    if coarse:  # many ties
        known, unknown = np.round(known), np.round(unknown)
    ref_auc, ref_fpr, ref_ap = _sk(known, unknown)
    assert auroc(known, unknown) == pytest.approx(ref_auc, abs=1e-12)
    assert fpr_at_tpr(known, unknown) == pytest.approx(ref_fpr, abs=1e-12)
    assert aupr(known, unknown) == pytest.approx(ref_ap, abs=1e-12)
