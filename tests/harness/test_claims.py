"""Claims: the verdict rules on hand-made intervals, the effect and interval against scipy, and a
``claims:`` block with a wrong field stops the run with one error naming the field (exit 2)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from scipy import stats

from harness.cli import main
from harness.report.claims import claim_rows, claim_verdict, claims_markdown


@pytest.mark.parametrize(
    "low, high, expect, margin, higher, verdict",
    [
        (0.5, 2.0, "better", 0.0, True, "reproduced"),
        (-2.0, -0.5, "better", 0.0, True, "not reproduced"),
        (-0.5, 2.0, "better", 0.0, True, "inconclusive"),
        (-2.0, -0.5, "better", 0.0, False, "reproduced"),  # an error metric: lower is better
        (0.5, 2.0, "better", 0.0, False, "not reproduced"),
        (-0.8, 0.3, "not_worse", 1.0, True, "reproduced"),  # worse end within the margin
        (-3.0, -1.5, "not_worse", 1.0, True, "not reproduced"),  # even the better end is beyond it
        (-1.5, 0.3, "not_worse", 1.0, True, "inconclusive"),
        (0.0, 0.0, "better", 0.0, True, "inconclusive"),  # identical runs show no effect
        (None, None, "better", 0.0, True, "inconclusive"),  # fewer than 2 paired seeds
    ],
)
def test_verdict_rules(low, high, expect, margin, higher, verdict):
    assert claim_verdict(low, high, expect, margin, higher) == verdict


def records(strategy: str, values: list[float], metric: str = "last_accuracy") -> list[dict]:
    return [{"scenario": "cil", "kind": "cil", "strategy": strategy, "seed": s, "metrics": {"summary": {metric: v}}} for s, v in enumerate(values)]


CLAIM = {"claim": "t beats c", "source": "paper", "scenario": "cil", "metric": "last_accuracy", "treatment": "t", "control": "c",
         "expect": "better", "margin": 0.0}


def test_effect_and_interval_equal_scipy_in_table_units():
    t, c = [0.61, 0.64, 0.60, 0.66, 0.63], [0.58, 0.60, 0.60, 0.62, 0.59]  # one tie
    row = claim_rows("board", [CLAIM], records("t", t) + records("c", c)).iloc[0]
    d = (np.array(t) - np.array(c)) * 100
    interval = stats.t.interval(0.95, 4, loc=d.mean(), scale=stats.sem(d))
    assert row["n"] == 5 and row["effect"] == pytest.approx(d.mean())
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(interval)
    assert row["p_t"] == pytest.approx(stats.ttest_rel(t, c).pvalue)
    assert row["p_wilcoxon"] == pytest.approx(stats.wilcoxon(t, c).pvalue)
    assert row["verdict"] == "reproduced" and row["treatment_mean"] == pytest.approx(62.8)
    assert "| t beats c | paper |" in claims_markdown(claim_rows("board", [CLAIM], records("t", t) + records("c", c)))


def test_only_seeds_both_finished_are_paired():
    row = claim_rows("board", [CLAIM], records("t", [0.7, 0.8, 0.9]) + records("c", [0.6])).iloc[0]
    assert row["n"] == 1 and row["verdict"] == "inconclusive"


def test_lower_is_better_metric_turns_the_verdict():
    claim = {**CLAIM, "metric": "new_classes_error", "scenario": "ncd"}
    rows = [{"scenario": "ncd", "kind": "ncd", "strategy": s, "seed": i, "metrics": {"summary": {"new_classes_error": v}}}
            for s, vals in (("t", [1, 2, 1, 0]), ("c", [20, 22, 21, 19])) for i, v in enumerate(vals)]
    assert claim_rows("board", [claim], rows).iloc[0]["verdict"] == "reproduced"


def board(tmp_path, claims) -> list[str]:
    config = {"name": "claims", "dataset": "digits", "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 3}],
              "strategies": [{"name": "nmc"}, {"name": "nmc", "label": "nmc-cosine", "metric": "cosine"}],
              "seeds": [0, 1], "device": "cpu", "claims": claims}
    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump(config))
    return ["run", str(path), "--output", str(tmp_path / "out"), "--quiet"]


GOOD = {"claim": "cosine matches", "source": "s", "scenario": "cil", "metric": "last_accuracy", "treatment": "nmc-cosine", "control": "nmc"}


@pytest.mark.parametrize(
    "change, field",
    [
        ({"scenario": "fscil"}, "claims[0].scenario"),
        ({"treatment": "teen"}, "claims[0].treatment"),
        ({"control": "nmc-cosine"}, "claims[0].control"),
        ({"metric": "wall_time"}, "claims[0].metric"),
        ({"expect": "worse"}, "claims[0].expect"),
        ({"margin": -1}, "claims[0].margin"),
        ({"claim": None}, "claims[0].claim"),
    ],
)
def test_bad_claims_exit_2_naming_the_field_before_anything_is_written(tmp_path, capsys, change, field):
    assert main(board(tmp_path, [{**GOOD, **change}])) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and field in err
    assert not (tmp_path / "out").exists()


def test_claims_block_must_be_a_list(tmp_path, capsys):
    assert main(board(tmp_path, {"claim": "x"})) == 2
    assert "claims" in capsys.readouterr().err


def test_board_with_claims_writes_claims_csv_and_markdown(tmp_path):
    assert main(board(tmp_path, [{**GOOD, "expect": "not_worse", "margin": 50}])) == 0
    folder = tmp_path / "out" / "claims"
    text = (folder / "claims.csv").read_text()
    assert text.splitlines()[0].startswith("claim,source,board,scenario,metric,treatment,control,expect,margin,n,")
    assert text.splitlines()[1].endswith(",reproduced")  # two runs within 50 points of each other
    assert "Claims checked (claims.csv)" in (folder / "leaderboard.md").read_text()
