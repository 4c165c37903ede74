"""Clustering metrics: hand-computed cases, brute force over permutations, scikit-learn's NMI and ARI."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from harness.metrics.clustering import (
    ClusteringQuality,
    adjusted_rand_index,
    cluster_accuracy,
    hungarian_mapping,
    normalized_mutual_info,
)


def brute_force_accuracy(y_true, y_pred) -> float:
    """Best share of matched samples over every one-to-one map of predicted ids to classes."""
    preds, classes = sorted(set(y_pred)), sorted(set(y_true))
    padded = classes + [None] * len(preds)  # a predicted id may stay unmatched
    best = 0
    for image in itertools.permutations(padded, len(preds)):
        mapping = dict(zip(preds, image))
        best = max(best, sum(mapping[p] == t for p, t in zip(y_pred, y_true)))
    return best / len(y_true)


labelings = st.integers(1, 9).flatmap(
    lambda n: st.tuples(st.lists(st.integers(0, 3), min_size=n, max_size=n), st.lists(st.integers(0, 4), min_size=n, max_size=n))
)


@settings(max_examples=150, deadline=None)
@given(labelings)
def test_hungarian_accuracy_equals_brute_force(pair):
    y_true, y_pred = pair
    assert cluster_accuracy(np.array(y_true), np.array(y_pred)).all == pytest.approx(brute_force_accuracy(y_true, y_pred))


@settings(max_examples=100, deadline=None)
@given(labelings, st.integers(0, 3))
def test_old_and_new_split_the_all_accuracy(pair, n_old):
    y_true, y_pred = np.array(pair[0]), np.array(pair[1])
    old = y_true < n_old
    acc = cluster_accuracy(y_true, y_pred, old)
    parts = (acc.old or 0) * old.sum() + (acc.new or 0) * (~old).sum()
    assert parts == pytest.approx(acc.all * len(y_true))
    assert (acc.old is None) == (not old.any()) and (acc.new is None) == old.all()


def test_v2_uses_one_assignment_for_old_and_new():
    # classes 0 (old) and 1 (new), 3 samples each; cluster 7 holds 0,0,0,1,1 and cluster 8 holds 1.
    y_true = np.array([0, 0, 0, 1, 1, 1])
    y_pred = np.array([7, 7, 7, 7, 7, 8])
    # one assignment over all: 7->0 (3 matches) and 8->1 (1 match) = 4/6; 7->1 would give 2 + 0.
    acc = cluster_accuracy(y_true, y_pred, y_true == 0)
    assert acc.all == pytest.approx(4 / 6)
    assert acc.old == pytest.approx(3 / 3)
    assert acc.new == pytest.approx(1 / 3)  # per-subset matching ("v1") would give 2/3 here
    assert hungarian_mapping(y_true, y_pred) == {7: 0, 8: 1}


def test_more_clusters_than_classes_leaves_some_unmatched():
    # 3 clusters, 2 classes: the best map matches 2 clusters; cluster 5's sample counts as wrong
    acc = cluster_accuracy(np.array([0, 0, 1, 1]), np.array([3, 3, 4, 5]))
    assert acc.all == pytest.approx(3 / 4)


@settings(max_examples=150, deadline=None)
@given(labelings)
def test_nmi_and_ari_equal_scikit_learn(pair):
    y_true, y_pred = pair
    assert normalized_mutual_info(y_true, y_pred) == pytest.approx(normalized_mutual_info_score(y_true, y_pred), abs=1e-12)
    assert adjusted_rand_index(y_true, y_pred) == pytest.approx(adjusted_rand_score(y_true, y_pred), abs=1e-12)


def test_nmi_and_ari_by_hand():
    # y = [0,0,1,1], p = [0,0,0,1]: contingency [[2,1],[0,1]] (rows p), n=4
    # I = 2/4 log(4*2/(3*2)) + 1/4 log(4*1/(3*2)) + 1/4 log(4*1/(1*2)); H(y) = log 2; H(p) = -(3/4 log 3/4 + 1/4 log 1/4)
    mi = 0.5 * np.log(8 / 6) + 0.25 * np.log(4 / 6) + 0.25 * np.log(2)
    hp = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    assert normalized_mutual_info([0, 0, 1, 1], [0, 0, 0, 1]) == pytest.approx(mi / ((np.log(2) + hp) / 2))
    # pairs: same in both = C(2,2) = 1; rows: C(3,2) = 3; cols: 1 + 1 = 2; total 6; E = 3*2/6 = 1
    # ARI = (1 - 1) / ((3 + 2)/2 - 1) = 0
    assert adjusted_rand_index([0, 0, 1, 1], [0, 0, 0, 1]) == pytest.approx(0.0)


def test_clustering_quality_per_step_and_forgetting():
    metric = ClusteringQuality()
    # step 0 (labeled): classes 0 and 1 are old; predictions all right
    metric.update(0, np.array([0, 0, 1, 1]), np.array([0, 0, 1, 1]), old_classes=(0, 1))
    # step 1: class 2 new, predicted as cluster 9; one old sample of class 1 lost to cluster 9
    metric.update(
        1,
        np.array([0, 0, 1, 1, 2, 2]),
        np.array([0, 0, 1, 9, 9, 9]),
        old_classes=(0, 1),
        new_pred_task_aware=np.array([9, 9]),
        new_classes_true=1,
        new_classes_estimated=1,
    )
    out = metric.compute()
    assert out["old_accuracy"] == [1.0, pytest.approx(3 / 4)]
    assert out["clustering_accuracy"][1] == pytest.approx(5 / 6)  # 0->0, 1->1, 9->2
    assert out["clustering_accuracy_new"][1] == pytest.approx(1.0)
    assert out["new_task_aware_accuracy"] == [None, 1.0]
    s = out["summary"]
    assert s["old_forgetting"] == pytest.approx(1 / 4)
    assert s["mean_clustering_accuracy"] == pytest.approx(5 / 6)  # unlabeled steps only
    assert (s["new_classes_true"], s["new_classes_estimated"]) == (1, 1)
