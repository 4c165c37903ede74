"""Average ranks, Friedman's test and Nemenyi's critical difference: scipy's tests on hand-made
blocks, ranks and critical differences computed by hand (Demšar 2006, Table 5), ties and missing blocks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from harness.report.ranks import cliques, critical_difference, rank_blocks, rank_plot, rank_table


def record(strategy: str, seed: int, value: float, scenario: str = "cil", kind: str = "cil") -> dict:
    key = "last_accuracy" if kind in ("cil", "fscil") else "last_clustering_accuracy"
    return {"scenario": scenario, "kind": kind, "strategy": strategy, "seed": seed, "metrics": {"summary": {key: value}}}


# 4 blocks (2 scenarios × 2 seeds), 3 strategies; per block the order a > b > c except block 3 where b > a
SCORES = {"a": [0.9, 0.8, 0.7, 0.6], "b": [0.8, 0.7, 0.75, 0.5], "c": [0.1, 0.2, 0.3, 0.4]}


def board_records() -> list[dict]:
    out = []
    for strategy, values in SCORES.items():
        for i, value in enumerate(values):
            out.append(record(strategy, seed=i % 2, value=value, scenario=("cil", "fscil")[i // 2], kind=("cil", "fscil")[i // 2]))
    return out


def test_ranks_by_hand_and_friedman_equals_scipy():
    table = rank_table(rank_blocks(board_records()))
    ranks = dict(zip(table["strategy"], table["mean_rank"]))
    # a: ranks 1, 1, 2, 1 -> 1.25; b: 2, 2, 1, 2 -> 1.75; c: 3 everywhere
    assert ranks == pytest.approx({"a": 1.25, "b": 1.75, "c": 3.0})
    assert list(table["strategy"]) == ["a", "b", "c"]
    expected = stats.friedmanchisquare(SCORES["a"], SCORES["b"], SCORES["c"]).pvalue
    assert table["friedman_p"].iloc[0] == pytest.approx(expected)
    # chi2_F = 12 N / (k (k+1)) * (sum R_j^2 - k (k+1)^2 / 4) = 4 * (13.625 - 12) = 6.5
    assert expected == pytest.approx(math.exp(-6.5 / 2))  # chi-square with 2 degrees of freedom
    assert (table["blocks"].iloc[0], table["scenarios"].iloc[0]) == (4, 2)


@pytest.mark.parametrize("k, n, q", [(2, 10, 1.960), (3, 4, 2.343), (5, 20, 2.728), (10, 8, 3.164)])
def test_critical_difference_matches_demsar_table(k, n, q):
    assert critical_difference(k, n) == pytest.approx(q * math.sqrt(k * (k + 1) / (6 * n)), abs=2e-3)


def test_ties_share_the_mean_rank_and_identical_runs_have_no_friedman_p():
    records = [record(s, seed, 0.5) for s in ("a", "b", "c") for seed in range(3)]
    table = rank_table(rank_blocks(records))
    assert list(table["mean_rank"]) == [2.0, 2.0, 2.0]
    assert table["friedman_p"].isna().all()
    assert cliques(table) == [(0, 2)]  # all joined: the test cannot tell them apart


def test_open_world_scenarios_rank_by_clustering_accuracy():
    records = [record(s, 0, v, scenario="ncd", kind="ncd") for s, v in (("a", 0.3), ("b", 0.6))]
    records.append({**record("a", 0, 0.99), "scenario": "ncd", "kind": "ncd"})  # another metric: not a score of the block
    table = rank_table(rank_blocks(records))
    assert list(table["strategy"]) == ["b", "a"]


def test_strategy_missing_blocks_is_left_out_and_named():
    records = board_records() + [record("d", 0, 0.99)]
    strategies, scores, scenarios, left_out = rank_blocks(records)
    assert strategies == ["a", "b", "c"] and left_out == ["d"] and scores.shape == (4, 3)
    assert rank_plot(rank_table((strategies, scores, scenarios, left_out)), left_out).startswith(b"\x89PNG")


def test_cliques_join_ranks_closer_than_the_cd():
    import pandas as pd

    table = pd.DataFrame({"mean_rank": [1.0, 1.5, 2.9, 3.2], "critical_difference": [1.0] * 4})
    assert cliques(table) == [(0, 1), (2, 3)]


def test_fewer_than_two_strategies_give_an_empty_table():
    assert rank_table(rank_blocks([record("a", 0, 0.5)])).empty
    assert rank_plot(rank_table(rank_blocks([record("a", 0, 0.5)])), []) is None
    assert np.isfinite(critical_difference(3, 1))
