"""Paired comparisons: the statistics equal scipy's on hand-made samples (ties and identical runs
included), Holm's correction and the verdict rules, and a rerun writes the same comparisons.csv."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from scipy import stats

from harness.cli import main
from harness.report.comparisons import holm, paired_test, verdict

A = np.array([0.81, 0.84, 0.79, 0.86, 0.83])
B = np.array([0.78, 0.80, 0.79, 0.82, 0.80])  # one tie (seed 2)


def test_paired_test_equals_scipy():
    out = paired_test(A, B)
    d = A - B
    half = stats.t.ppf(0.975, 4) * d.std(ddof=1) / np.sqrt(5)
    assert out["n"] == 5 and out["diff"] == pytest.approx(d.mean())
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((d.mean() - half, d.mean() + half))
    assert out["p_t"] == pytest.approx(stats.ttest_rel(A, B).pvalue)
    assert out["p_wilcoxon"] == pytest.approx(stats.wilcoxon(A, B).pvalue)


def test_identical_runs_and_constant_differences():
    same = paired_test(A, A)
    assert same["diff"] == 0 and same["p_t"] == 1.0 and same["p_wilcoxon"] == 1.0
    shifted = paired_test(A + 0.01, A)
    assert shifted["diff"] == pytest.approx(0.01) and shifted["ci_low"] == shifted["ci_high"] and shifted["p_t"] is None
    assert shifted["p_wilcoxon"] == pytest.approx(stats.wilcoxon(A + 0.01, A).pvalue)  # 5 equal signs: 0.0625
    single = paired_test(A[:1], B[:1])
    assert single["n"] == 1 and single["p_t"] is None


def test_holm_by_hand():
    # sorted 0.01, 0.02, 0.04 -> 3 x 0.01 = 0.03, 2 x 0.02 = 0.04, 1 x 0.04 = 0.04 (monotone)
    adjusted = holm([0.04, 0.01, None, 0.02])
    assert adjusted[2] is None
    assert [adjusted[0], adjusted[1], adjusted[3]] == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])


@pytest.mark.parametrize(
    "diff, p, higher, expected",
    [(0.02, 0.01, True, "better"), (0.02, 0.01, False, "worse"), (-0.02, 0.01, True, "worse"), (0.02, 0.2, True, "indistinguishable"),
     (None, None, True, "indistinguishable"), (0.0, 0.0, True, "indistinguishable")],
)
def test_verdict_rules(diff, p, higher, expected):
    assert verdict(diff, p, higher) == expected


def test_comparisons_csv_is_written_and_identical_on_rerun(tmp_path):
    board = {"name": "cmp", "dataset": "digits", "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 3}],
             "strategies": [{"name": "nmc"}, {"name": "nmc", "label": "nmc-cosine", "metric": "cosine", "normalize_means": True}],
             "seeds": [0, 1, 2], "device": "cpu"}
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(board))
    args = ["run", str(config), "--output", str(tmp_path / "out"), "--quiet"]
    assert main(args) == 0
    first = (tmp_path / "out" / "cmp" / "comparisons.csv").read_bytes()
    assert main([*args, "--rerun"]) == 0
    assert (tmp_path / "out" / "cmp" / "comparisons.csv").read_bytes() == first
    text = first.decode()
    assert text.startswith("scenario,metric,strategy,against,role,n,diff,ci_low,ci_high,p_t,p_wilcoxon,p_holm,verdict")
    assert "cil,last_accuracy,nmc-cosine,nmc,baseline,3," in text
