"""Average ranks across a board's scenarios and seeds, with a Friedman test and Nemenyi's critical
difference (Demšar, JMLR 2006), as ``ranks.csv`` and a critical-difference plot.

Each block is one (scenario, seed) in which every ranked strategy finished, scored by the scenario's
primary metric: the first summary key with a direction declared for its kind (last accuracy for
``cil`` / ``fscil``, clustering accuracy over all classes for ``ncd`` / ``cgcd``).  Strategies rank 1
(best) to k within a block, ties sharing the mean rank (``scipy.stats.rankdata``).  Seeds of one
scenario are not independent datasets as in Demšar's setting, they are paired repetitions; the plot
says so.  The ranked strategies are those present in the most blocks; any left out are named.

Friedman's test is ``scipy.stats.friedmanchisquare`` (k ≥ 3 strategies); the critical difference is
``q_α · sqrt(k (k + 1) / (6 N))`` with ``q_α`` the studentized range quantile
(``scipy.stats.studentized_range``, infinite degrees of freedom) over √2, α = 0.05.  Strategies whose
average ranks differ by less than the CD are joined by a bar: the test cannot tell them apart.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from harness.report.columns import summary_keys
from harness.report.plots import _png, _pyplot

ALPHA = 0.05
COLUMNS = ["strategy", "mean_rank", "blocks", "scenarios", "friedman_p", "critical_difference"]


def primary_metric(kind: str) -> tuple[str, bool] | None:
    """``(summary key, higher is better)`` ranking scenarios of ``kind``."""
    for key, kinds in summary_keys():
        if key.higher_is_better is not None and kinds is not None and kind in kinds:
            return key.name, key.higher_is_better
    return None


def rank_blocks(records: list[dict[str, Any]]) -> tuple[list[str], np.ndarray, list[str], list[str]]:
    """``(strategies, scores (blocks × strategies, higher = better), block scenarios, left-out strategies)``."""
    cells: dict[tuple[str, int], dict[str, float]] = {}
    for r in records:
        metric = primary_metric(r["kind"])
        value = r["metrics"]["summary"].get(metric[0]) if metric else None
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        cells.setdefault((r["scenario"], r["seed"]), {})[r["strategy"]] = float(value) if metric[1] else -float(value)
    order = list(dict.fromkeys(r["strategy"] for r in records))
    coverage = {s: sum(s in block for block in cells.values()) for s in order}
    most = max(coverage.values(), default=0)
    ranked = [s for s in order if coverage[s] == most and most > 0]
    left_out = [s for s in order if s not in ranked]
    blocks = [(key, block) for key, block in cells.items() if all(s in block for s in ranked)]
    scores = np.array([[block[s] for s in ranked] for _, block in blocks], dtype=float).reshape(len(blocks), len(ranked))
    return ranked, scores, [key[0] for key, _ in blocks], left_out


def critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """Nemenyi's critical difference of average ranks for ``k`` strategies over ``n`` blocks."""
    from scipy import stats

    q = float(stats.studentized_range.ppf(1 - alpha, k, np.inf)) / math.sqrt(2)
    return q * math.sqrt(k * (k + 1) / (6.0 * n))


def rank_table(blocks: tuple[list[str], np.ndarray, list[str], list[str]]) -> pd.DataFrame:
    """One row per ranked strategy of :func:`rank_blocks`' result, best average rank first (ties: board order)."""
    from scipy import stats

    strategies, scores, scenarios, _ = blocks
    if len(strategies) < 2 or len(scores) == 0:
        return pd.DataFrame(columns=COLUMNS)
    ranks = np.vstack([stats.rankdata(-row) for row in scores])
    mean_rank = ranks.mean(0)
    friedman = None
    if len(strategies) >= 3 and len(scores) >= 2 and np.ptp(ranks, axis=1).any():
        friedman = float(stats.friedmanchisquare(*scores.T).pvalue)
    cd = critical_difference(len(strategies), len(scores))
    rows = [
        {"strategy": s, "mean_rank": float(mean_rank[i]), "blocks": len(scores), "scenarios": len(set(scenarios)),
         "friedman_p": friedman, "critical_difference": cd}
        for i, s in enumerate(strategies)
    ]
    rows.sort(key=lambda row: row["mean_rank"])
    return pd.DataFrame(rows, columns=COLUMNS)


def cliques(table: pd.DataFrame) -> list[tuple[int, int]]:
    """Maximal runs ``(first, last)`` of the rank-sorted table whose ranks span less than the CD."""
    ranks = table["mean_rank"].to_numpy()
    cd = float(table["critical_difference"].iloc[0])
    runs = []
    for i in range(len(ranks)):
        j = i
        while j + 1 < len(ranks) and ranks[j + 1] - ranks[i] < cd:
            j += 1
        if j > i and not any(a <= i and j <= b for a, b in runs):
            runs.append((i, j))
    return runs


def rank_plot(table: pd.DataFrame, left_out: list[str]) -> bytes | None:
    """PNG: average ranks on a line (1 = best, left), the CD as a scale bar, tied groups joined."""
    if len(table) < 2:
        return None
    plt = _pyplot()
    k = len(table)
    fig, ax = plt.subplots(figsize=(6.4, 1.4 + 0.28 * k))
    ax.set_xlim(0.7, k + 0.3)  # rank 1 (best) on the left
    ax.set_ylim(-(k + 1.5), 1.8)
    ax.axhline(0, color="black", lw=1)
    for r in range(1, k + 1):
        ax.plot([r, r], [0, 0.15], color="black", lw=1)
        ax.text(r, 0.3, str(r), ha="center", fontsize=8)
    half = (k + 1) / 2
    for i, row in enumerate(table.to_dict("records")):
        y = -(i + 1) * 0.9
        left = row["mean_rank"] <= half
        end = 0.7 if left else k + 0.3
        ax.plot([row["mean_rank"], row["mean_rank"], end], [0, y, y], color="tab:blue", lw=0.9)
        ax.text(end, y + 0.12, f"{row['strategy']} ({row['mean_rank']:.2f})", ha="left" if left else "right", fontsize=8)
    for n, (a, b) in enumerate(cliques(table)):
        ya = -0.25 - 0.2 * n
        ax.plot([table["mean_rank"].iloc[a] - 0.03, table["mean_rank"].iloc[b] + 0.03], [ya, ya], color="tab:red", lw=3)
    cd = float(table["critical_difference"].iloc[0])
    ax.plot([1, 1 + cd], [1.2, 1.2], color="black", lw=1.5)
    ax.text(1 + cd / 2, 1.35, f"CD = {cd:.2f}", ha="center", fontsize=8)
    p = table["friedman_p"].iloc[0]
    title = f"average rank over {int(table['blocks'].iloc[0])} blocks (scenario × seed, paired)"
    if p is not None and not (isinstance(p, float) and math.isnan(p)):
        title += f"; Friedman p = {p:.3g}"
    if left_out:
        title += f"\nnot ranked (missing blocks): {', '.join(left_out)}"
    ax.set_title(title, fontsize=8)
    ax.axis("off")
    fig.tight_layout()
    return _png(fig)
