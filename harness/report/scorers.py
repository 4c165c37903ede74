"""``scorers.csv`` and ``scorer_correlation.csv``: open-set detection per scorer, and whether the
strategies that classify better also detect unknowns better (the question of OpenCIL, 2024, asked per
board), from the ``scorers`` block of each job's ``metrics.json`` (:mod:`harness.metrics.openset_scorers`)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from harness.report.ranks import primary_metric
from harness.report.tables import mean_std

MEASURES = ("auroc", "fpr95", "aupr_in", "aupr_out", "auroc_far", "fpr95_far", "aupr_in_far", "aupr_out_far")


def _step_mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


def scorer_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Per scenario × strategy × scorer: seeds, then for each measure the mean over seeds (and sample
    std) of its mean over the steps where it exists."""
    cells: dict[tuple[str, str, str], list[dict[str, float | None]]] = {}
    skipped: dict[tuple[str, str, str], set[str]] = {}
    for r in records:
        for scorer, measures in (r["metrics"].get("scorers") or {}).items():
            key = (r["scenario"], r["strategy"], scorer)
            cells.setdefault(key, []).append({m: _step_mean(measures.get(m, [])) for m in MEASURES})
            skipped.setdefault(key, set()).update(reason for reason in measures.get("skipped", []) if reason)
    rows = []
    for (scenario, strategy, scorer), seeds in cells.items():
        row: dict[str, Any] = {"scenario": scenario, "strategy": strategy, "scorer": scorer, "seeds": len(seeds)}
        for m in MEASURES:
            row[f"{m}_mean"], row[f"{m}_std"] = mean_std([s[m] for s in seeds])
        row["skipped"] = "; ".join(sorted(skipped[(scenario, strategy, scorer)]))
        rows.append(row)
    table = pd.DataFrame(rows, columns=["scenario", "strategy", "scorer", "seeds", *(f"{m}_{s}" for m in MEASURES for s in ("mean", "std")), "skipped"])
    far = [c for c in table.columns if "_far_" in c]
    return table.drop(columns=far) if far and table[far].isna().all().all() else table  # far columns only with far unknowns


EXACT_UP_TO = 8  # strategies: up to 8! = 40,320 orderings, the p-value is exact


def spearman(x: list[float], y: list[float]) -> tuple[float | None, float | None]:
    """Spearman's ρ (``scipy.stats.spearmanr``) and its two-sided p-value, exact over every ordering of
    ``y`` for a few strategies (the t approximation scipy uses is far off there: three strategies in
    perfect order give p = 0 by it, 1/3 exactly), ``scipy.stats.permutation_test`` beyond."""
    import itertools

    from scipy.stats import permutation_test, spearmanr

    with warnings.catch_warnings():  # constant input (every strategy equal): ρ is undefined, reported as missing
        warnings.simplefilter("ignore")
        rho = spearmanr(x, y).statistic
    if np.isnan(rho):
        return None, None
    if len(x) <= EXACT_UP_TO:
        permuted = [spearmanr(x, list(p)).statistic for p in itertools.permutations(y)]
        p_value = float(np.mean([abs(r) >= abs(rho) - 1e-12 for r in permuted]))
    else:
        p_value = float(permutation_test((y,), lambda v: spearmanr(x, v).statistic, permutation_type="pairings", n_resamples=9999, random_state=0).pvalue)
    return float(rho), p_value


def scorer_correlation(records: list[dict[str, Any]], table: pd.DataFrame) -> pd.DataFrame:
    """Per scenario and scorer: Spearman's ρ across strategies between the scenario's primary metric
    and the scorer's AUROC (means over seeds), with its p-value (:func:`spearman`); 3 strategies at least."""

    rows = []
    for scenario in dict.fromkeys(table["scenario"]):
        kind = next(r["kind"] for r in records if r["scenario"] == scenario)
        metric = primary_metric(kind)
        if metric is None:
            continue
        accuracy = {}
        for strategy in dict.fromkeys(r["strategy"] for r in records if r["scenario"] == scenario):
            values = [r["metrics"]["summary"].get(metric[0]) for r in records if (r["scenario"], r["strategy"]) == (scenario, strategy)]
            accuracy[strategy] = mean_std(values)[0]
        for scorer in dict.fromkeys(table[table["scenario"] == scenario]["scorer"]):
            mine = table[(table["scenario"] == scenario) & (table["scorer"] == scorer)]
            pairs = [(accuracy.get(s), a) for s, a in zip(mine["strategy"], mine["auroc_mean"]) if accuracy.get(s) is not None and pd.notna(a)]
            rho, p = spearman([a for a, _ in pairs], [b for _, b in pairs]) if len(pairs) >= 3 else (None, None)
            rows.append({"scenario": scenario, "scorer": scorer, "metric": metric[0], "strategies": len(pairs), "spearman_rho": rho, "p_value": p})
    return pd.DataFrame(rows, columns=["scenario", "scorer", "metric", "strategies", "spearman_rho", "p_value"])


def scorers_markdown(table: pd.DataFrame, correlation: pd.DataFrame) -> str:
    """AUROC (%, mean over steps, mean ± std over seeds) of each scorer, one row per scenario × strategy;
    then FPR@95 the same way; then the rank correlations."""
    scorers = list(dict.fromkeys(table["scorer"]))
    lines = []
    views = [("auroc", "Open-set AUROC per scorer, near unknowns (the unseen classes)"), ("fpr95", "FPR@95 per scorer, near unknowns (lower is better)")]
    if "auroc_far_mean" in table.columns:
        views += [("auroc_far", "Open-set AUROC per scorer, far unknowns (another dataset)"), ("fpr95_far", "FPR@95 per scorer, far unknowns (lower is better)")]
    for measure, title in views:
        lines += ["", f"{title} (%, mean over steps; mean ± std over seeds; scorers.csv):", "", "| scenario | strategy | " + " | ".join(scorers) + " |", "|" + "---|" * (2 + len(scorers))]
        for (scenario, strategy), group in table.groupby(["scenario", "strategy"], sort=False):
            cells = []
            for scorer in scorers:
                row = group[group["scorer"] == scorer]
                mean = row[f"{measure}_mean"].iloc[0] if len(row) else None
                std = row[f"{measure}_std"].iloc[0] if len(row) else None
                cells.append("–" if mean is None or pd.isna(mean) else f"{mean * 100:.1f}" + ("" if std is None or pd.isna(std) else f" ± {std * 100:.1f}"))
            lines.append(f"| {scenario} | {strategy} | " + " | ".join(cells) + " |")
    notes = table[table["skipped"].astype(bool)] if "skipped" in table else table.iloc[0:0]
    if len(notes):
        lines += ["", "Scorers that could not score at some step (missing above):", ""]
        lines += [f"- {row.scenario} × {row.strategy}, {row.scorer}: {row.skipped}" for row in notes.itertuples()]
    shown = correlation.dropna(subset=["spearman_rho"])
    if len(shown):
        lines += ["", "Rank correlation across strategies between the primary metric and each scorer's AUROC (Spearman; scorer_correlation.csv):", ""]
        for row in shown.itertuples():
            lines.append(f"- {row.scenario}, {row.scorer}: ρ = {row.spearman_rho:+.2f} over {row.strategies} strategies (exact p = {_p(row.p_value)})" if row.strategies <= EXACT_UP_TO
                         else f"- {row.scenario}, {row.scorer}: ρ = {row.spearman_rho:+.2f} over {row.strategies} strategies (permutation p = {row.p_value:.3f})")
    return "\n".join(lines) + "\n"


def _p(value: float) -> str:
    """Two decimals, or one significant digit below 0.01 (6 strategies in perfect order: 0.003, not 0.00)."""
    return f"{value:.2f}" if value >= 0.01 else f"{value:.1g}"


def scorer_curves_plot(records: list[dict[str, Any]]) -> bytes | None:
    """PNG: near-unknown AUROC against step, one panel per scenario × strategy, one line per scorer
    (mean over seeds; steps without unseen classes are gaps)."""
    from matplotlib.ticker import MaxNLocator

    from harness.report.plots import _png, _pyplot

    panels: dict[tuple[str, str], dict[str, list[list[float]]]] = {}
    for r in records:
        for scorer, measures in (r["metrics"].get("scorers") or {}).items():
            curve = [np.nan if v is None else v * 100 for v in measures.get("auroc", [])]
            panels.setdefault((r["scenario"], r["strategy"]), {}).setdefault(scorer, []).append(curve)
    if not panels:
        return None
    plt = _pyplot()
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.4 * rows + 0.4), squeeze=False)
    for ax, ((scenario, strategy), curves) in zip(axes.flat, panels.items()):
        for scorer, seeds in curves.items():
            if len({len(c) for c in seeds}) != 1:
                continue
            values = np.array(seeds, dtype=float)
            with warnings.catch_warnings():  # a step without unseen classes is missing in every seed: a gap
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = None if np.isnan(values).all() else np.nanmean(values, axis=0)
            if mean is not None:
                ax.plot(np.arange(len(mean)), mean, marker="o", markersize=3, label=scorer, linestyle="--" if scorer == "default" else "-")
        ax.set_title(f"{scenario} / {strategy}", fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("step")
        ax.set_ylabel("AUROC, near unknowns (%)")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=8)
    fig.suptitle("Open-set AUROC against step per scorer (mean over seeds)", fontsize=11)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return _png(fig)
