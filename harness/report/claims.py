"""The claims a board checks (its ``claims:`` block, :mod:`harness.config.claims`), tested on the
seeds both strategies finished with the paired statistics of :mod:`harness.report.comparisons`.

``effect`` is ``treatment − control`` in the table's units (percentage points for accuracies), with
its 95 % paired-t interval; ``p_t`` / ``p_wilcoxon`` as in ``comparisons.csv`` (uncorrected: each
claim is one planned test).  Verdicts, on the interval oriented so that positive means "as claimed":

- ``better``: reproduced when the interval is above 0, not reproduced when below 0;
- ``not_worse``: reproduced when the interval's lower end is above ``−margin``, not reproduced when
  its upper end is below ``−margin``;
- otherwise, and with fewer than 2 paired seeds, inconclusive.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from harness.report.columns import summary_keys
from harness.report.comparisons import paired_test

COLUMNS = [
    "claim", "source", "board", "scenario", "metric", "treatment", "control", "expect", "margin",
    "n", "treatment_mean", "control_mean", "effect", "ci_low", "ci_high", "p_t", "p_wilcoxon", "verdict",
]


def claim_verdict(ci_low: float | None, ci_high: float | None, expect: str, margin: float, higher_is_better: bool) -> str:
    """The verdict of one claim from its interval (in table units, treatment − control)."""
    if ci_low is None or ci_high is None:
        return "inconclusive"
    low, high = (ci_low, ci_high) if higher_is_better else (-ci_high, -ci_low)
    threshold = 0.0 if expect == "better" else -margin
    if low > threshold:
        return "reproduced"
    if high < threshold:
        return "not reproduced"
    return "inconclusive"


def claim_rows(board: str, claims: list[dict[str, Any]], records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per claim of the board (see the module docstring)."""
    keys = {key.name: key for key, _ in summary_keys()}
    rows = []
    for claim in claims:
        key = keys.get(claim["metric"])
        if key is None or key.higher_is_better is None:
            continue
        scale = 100.0 if key.percent else 1.0

        def values(label: str) -> dict[int, float]:
            return {
                r["seed"]: float(r["metrics"]["summary"][claim["metric"]]) * scale
                for r in records
                if r["scenario"] == claim["scenario"] and r["strategy"] == label and r["metrics"]["summary"].get(claim["metric"]) is not None
            }

        treated, control = values(claim["treatment"]), values(claim["control"])
        seeds = sorted(set(treated) & set(control))
        a, b = np.array([treated[s] for s in seeds]), np.array([control[s] for s in seeds])
        test = paired_test(a, b)
        rows.append({
            **{k: claim[k] for k in ("claim", "source", "scenario", "metric", "treatment", "control", "expect", "margin")},
            "board": board,
            "n": test["n"],
            "treatment_mean": float(a.mean()) if len(a) else None,
            "control_mean": float(b.mean()) if len(b) else None,
            "effect": test["diff"],
            "ci_low": test["ci_low"],
            "ci_high": test["ci_high"],
            "p_t": test["p_t"],
            "p_wilcoxon": test["p_wilcoxon"],
            "verdict": claim_verdict(test["ci_low"], test["ci_high"], claim["expect"], claim["margin"], key.higher_is_better),
        })
    return pd.DataFrame(rows, columns=COLUMNS)


def _num(value: Any, digits: int = 1) -> str:
    return "–" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.{digits}f}"


def _p(value: Any) -> str:
    return "< 0.001" if isinstance(value, (int, float)) and 0 <= value < 0.001 else _num(value, 3)


def claims_markdown(table: pd.DataFrame) -> str:
    """The claims as a markdown table: claim, source, setting, effect with its interval, verdict."""
    lines = [
        "| claim | source | our setting | effect [95 % CI] | p (t / Wilcoxon) | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for r in table.to_dict("records"):
        setting = (
            f"`{r['board']}`, {r['scenario']}, {r['metric']}: {r['treatment']} ({_num(r['treatment_mean'])}) vs "
            f"{r['control']} ({_num(r['control_mean'])}), {r['n']} paired seeds"
            + (f", margin {r['margin']:g}" if r["expect"] == "not_worse" else "")
        )
        effect = f"{_num(r['effect'])} [{_num(r['ci_low'])}, {_num(r['ci_high'])}]"
        p = f"{_p(r['p_t'])} / {_p(r['p_wilcoxon'])}"
        lines.append(f"| {r['claim']} | {r['source']} | {setting} | {effect} | {p} | {r['verdict']} |")
    return "\n".join(lines) + "\n"
