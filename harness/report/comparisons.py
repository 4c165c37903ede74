"""Paired comparisons of strategies: can a board say which method wins?

The seeds of a board are paired: one seed gives every strategy the same class order, the same shots
and the same splits.  For every scenario and every summary metric with a direction, each strategy is
compared with the best one (by mean) and with a named baseline (the board's ``compare_to``, ``nmc``
by default) on the seeds both finished:

- ``diff``: the mean paired difference (strategy − other, in the metric's own units);
- ``ci_low``, ``ci_high``: its 95 % interval from the paired t distribution (``scipy.stats.t``);
- ``p_t``: the paired t-test's p-value (``scipy.stats.ttest_rel``), ``p_wilcoxon`` the Wilcoxon
  signed-rank test's (``scipy.stats.wilcoxon``; 1 when every difference is 0);
- ``p_holm``: ``p_t`` (or, where every paired difference is the same non-zero value and the t
  statistic is undefined, ``p_wilcoxon``) after Holm's correction over every comparison of the board
  (written here: scipy has no Holm step-down; it is five lines);
- ``verdict``: ``better`` / ``worse`` when ``p_holm < 0.05`` and the difference points that way in the
  metric's direction, else ``indistinguishable`` (also with fewer than 2 paired seeds: ``n`` says so).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from harness.report.columns import summary_keys

ALPHA = 0.05
COLUMNS = ["scenario", "metric", "strategy", "against", "role", "n", "diff", "ci_low", "ci_high", "p_t", "p_wilcoxon", "p_holm", "verdict"]


def paired_test(a: np.ndarray, b: np.ndarray) -> dict[str, float | None]:
    """Mean difference ``a − b``, its 95 % paired-t interval and both p-values (``None`` for n < 2)."""
    from scipy import stats

    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = len(d)
    out: dict[str, float | None] = {"n": n, "diff": float(d.mean()) if n else None, "ci_low": None, "ci_high": None, "p_t": None, "p_wilcoxon": None}
    if n < 2:
        return out
    sd = float(d.std(ddof=1))
    if sd == 0.0:  # every difference equal: the t statistic is undefined (p_t None; the verdict uses Wilcoxon)
        out.update(ci_low=out["diff"], ci_high=out["diff"], p_t=1.0 if out["diff"] == 0 else None)
    else:
        half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
        out.update(ci_low=out["diff"] - half, ci_high=out["diff"] + half, p_t=float(stats.ttest_rel(a, b).pvalue))
    out["p_wilcoxon"] = 1.0 if not np.any(d) else float(stats.wilcoxon(a, b).pvalue)
    return out


def holm(p_values: list[float | None]) -> list[float | None]:
    """Holm's step-down adjustment (``None`` entries are left out and stay ``None``)."""
    present = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(present):
        running = max(running, min(1.0, (len(present) - rank) * p))
        adjusted[i] = running
    return adjusted


def verdict(diff: float | None, p_holm: float | None, higher_is_better: bool) -> str:
    if diff is None or p_holm is None or p_holm >= ALPHA or diff == 0:
        return "indistinguishable"
    return "better" if (diff > 0) == higher_is_better else "worse"


def comparisons(records: list[dict[str, Any]], compare_to: str = "nmc") -> pd.DataFrame:
    """The comparison table of a board's finished jobs (see the module docstring)."""
    rows = []
    directed = [(key, kinds) for key, kinds in summary_keys() if key.higher_is_better is not None]
    scenarios = list(dict.fromkeys(r["scenario"] for r in records))
    for scenario in scenarios:
        mine = [r for r in records if r["scenario"] == scenario]
        strategies = list(dict.fromkeys(r["strategy"] for r in mine))
        for key, _ in directed:
            values = {s: {r["seed"]: r["metrics"]["summary"].get(key.name) for r in mine if r["strategy"] == s} for s in strategies}
            values = {s: {seed: v for seed, v in per.items() if v is not None} for s, per in values.items()}
            values = {s: per for s, per in values.items() if per}
            if len(values) < 2:
                continue
            means = {s: float(np.mean(list(per.values()))) for s, per in values.items()}
            best = (max if key.higher_is_better else min)(means, key=means.get)
            for role, other in (("best", best), ("baseline", compare_to)):
                if other not in values:
                    continue
                for s in values:
                    if s == other:
                        continue
                    seeds = sorted(set(values[s]) & set(values[other]))
                    test = paired_test(np.array([values[s][k] for k in seeds]), np.array([values[other][k] for k in seeds]))
                    rows.append({"scenario": scenario, "metric": key.name, "strategy": s, "against": other, "role": role, **test,
                                 "higher_is_better": key.higher_is_better})
    for row, p in zip(rows, holm([r["p_t"] if r["p_t"] is not None else r["p_wilcoxon"] for r in rows])):
        row["p_holm"] = p
        row["verdict"] = verdict(row["diff"], p, row.pop("higher_is_better"))
    return pd.DataFrame(rows, columns=COLUMNS)


def tied_with_best(table: pd.DataFrame) -> set[tuple[str, str, str]]:
    """``(scenario, metric, strategy)`` of the entries not distinguishable from the best."""
    rows = table[(table["role"] == "best") & (table["verdict"] == "indistinguishable")] if len(table) else table
    return {(r["scenario"], r["metric"], r["strategy"]) for r in rows.to_dict("records")}


def table_marks(table: pd.DataFrame) -> dict[tuple[str, str, str], str]:
    """``{(scenario, metric, strategy): "best" | "tied"}``: the best mean of each scenario and metric,
    and the entries the paired tests cannot tell from it (Holm-corrected ``p ≥ 0.05``)."""
    marks: dict[tuple[str, str, str], str] = {}
    if not len(table):
        return marks
    for r in table[table["role"] == "best"].to_dict("records"):
        marks[(r["scenario"], r["metric"], r["against"])] = "best"
    for key in tied_with_best(table):
        marks[key] = "tied"
    return marks
