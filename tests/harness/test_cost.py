"""Cost accounting: measured per job (time per step, CPU, memory, parameters, samples), shown in
cost.csv, leaderboard.md and the page, and plotted against the primary metric with its Pareto front."""

from __future__ import annotations

import json

import pandas as pd
import torch
import yaml

from harness.cli import main
from harness.cost import CostMeter, parameter_count
from harness.report.cost import pareto_front

BOARD = {
    "name": "cost", "dataset": "digits", "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 3}],
    "strategies": ["nmc", {"name": "teen", "backbone": {"epochs": 2}}], "seeds": [0, 1], "device": "cpu",
}


def test_cost_columns_are_present_and_positive(tmp_path):
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(BOARD))
    assert main(["run", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    board = tmp_path / "out" / "cost"
    cost = pd.read_csv(board / "cost.csv").set_index("strategy")
    for column in ("learn_s_total_mean", "eval_s_total_mean", "cpu_s_mean", "peak_rss_mb_mean", "samples_given_mean"):
        assert (cost[column] > 0).all(), column
    assert cost.loc["nmc", "parameters_mean"] == 0 and cost.loc["nmc", "trained_parameters_mean"] == 0  # NMC trains nothing
    assert cost.loc["teen", "trained_parameters_mean"] > 0 and cost.loc["teen", "parameters_mean"] >= cost.loc["teen", "trained_parameters_mean"]
    metrics = [json.loads(p.read_text()) for p in board.glob("*/metrics.json")]
    assert all(len(m["cost"]["learn_s"]) == len(m["steps"]) == 3 for m in metrics)
    assert all(m["cost"]["samples_given"] == sum(s["train_samples"] for s in m["steps"]) for m in metrics)
    assert "Cost per job" in (board / "leaderboard.md").read_text() and 'id="cost"' in (board / "leaderboard.html").read_text()
    assert (board / "cost.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "learn" not in pd.read_csv(board / "leaderboard.csv").columns.str.cat()  # the results table stays free of timings


def test_parameters_are_found_in_helper_objects_and_trained_ones_by_their_optimizer():
    class Holder:
        def __init__(self):
            self.net = torch.nn.Linear(3, 2)  # 8 parameters

    class Strategy:
        def __init__(self):
            self.helper = Holder()
            self.heads = [torch.nn.Linear(2, 1), self.helper.net]  # 3 more; the shared net counted once

    strategy = Strategy()
    assert parameter_count(strategy) == 11
    meter = CostMeter(torch.device("cpu"))
    optimizer = torch.optim.SGD(strategy.heads[0].parameters(), lr=0.1)
    strategy.heads[0](torch.ones(1, 2)).sum().backward()
    optimizer.step()
    assert meter.record(strategy)["trained_parameters"] == 3
    optimizer.step()  # after the record the hook is gone
    assert meter.trained and sum(meter.trained.values()) == 3


def test_parameters_replaced_between_steps_count_each_time_although_their_ids_may_repeat():
    """A head rebuilt at every step (avalanche's IncrementalClassifier) frees the old tensors, whose
    ids a new tensor may take: each stepped tensor is counted once, whatever the allocator does."""
    meter = CostMeter(torch.device("cpu"))
    for _ in range(20):
        head = torch.nn.Linear(4, 3)  # 15 parameters, a new tensor each time
        head(torch.ones(1, 4)).sum().backward()
        torch.optim.SGD(head.parameters(), lr=0.1).step()
        del head
    assert meter.record(object())["trained_parameters"] == 20 * 15


def test_pareto_front_by_hand():
    points = [(1.0, 50.0), (2.0, 60.0), (3.0, 55.0), (0.5, 40.0), (2.0, 70.0), (10.0, 70.0)]
    assert pareto_front(points) == [(0.5, 40.0), (1.0, 50.0), (2.0, 70.0)]
