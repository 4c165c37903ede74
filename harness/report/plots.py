"""The board's figures: every declared per-step curve, and forgetting per strategy."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

from harness.report.columns import step_curves


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    _pyplot().close(fig)
    return buffer.getvalue()


def step_curve_plot(strategies: list[str], records: list[dict[str, Any]], key: str, ylabel: str, scale: float = 1.0) -> bytes | None:
    """PNG: a per-step metric against step, one panel per scenario, one line per strategy (mean ± std
    over seeds; steps where the metric is missing are gaps).  ``None`` when no record has the metric."""
    scenarios = list(dict.fromkeys(r["scenario"] for r in records if any(s.get(key) is not None for s in r["metrics"]["steps"])))
    if not scenarios:
        return None
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(scenarios), figsize=(4.5 * len(scenarios), 3.6), squeeze=False)
    for ax, scenario in zip(axes[0], scenarios):
        for strategy in strategies:
            mine = [r for r in records if (r["scenario"], r["strategy"]) == (scenario, strategy)]
            curves = [[s.get(key) for s in r["metrics"]["steps"]] for r in mine]
            if not curves or len({len(c) for c in curves}) != 1:
                continue
            arr = np.array([[np.nan if v is None else v for v in c] for c in curves], dtype=float) * scale
            if np.isnan(arr).all():
                continue
            mean, std = arr.mean(0), arr.std(0)
            x = np.arange(len(mean))
            ax.plot(x, mean, marker="o", label=strategy)
            ax.fill_between(x, mean - std, mean + std, alpha=0.2)
        ax.set_title(scenario)
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def forgetting_plot(table: pd.DataFrame) -> bytes | None:
    """PNG: forgetting (%) per strategy, grouped by scenario, bars at the mean with ± std whiskers."""
    rows = table[table["forgetting_mean"].notna()] if "forgetting_mean" in table else table.iloc[0:0]
    if rows.empty:
        return None
    plt = _pyplot()
    scenarios = list(dict.fromkeys(rows["scenario"]))
    strategies = list(dict.fromkeys(rows["strategy"]))
    width = 0.8 / len(strategies)
    fig, ax = plt.subplots(figsize=(max(4.5, 1.2 * len(scenarios) * len(strategies) ** 0.5 + 2), 3.6))
    for k, strategy in enumerate(strategies):
        mine = rows[rows["strategy"] == strategy].set_index("scenario")
        x = [i + (k - (len(strategies) - 1) / 2) * width for i, sc in enumerate(scenarios) if sc in mine.index]
        mean = [mine.loc[sc, "forgetting_mean"] * 100 for sc in scenarios if sc in mine.index]
        std = [0.0 if pd.isna(mine.loc[sc, "forgetting_std"]) else mine.loc[sc, "forgetting_std"] * 100 for sc in scenarios if sc in mine.index]
        ax.bar(x, mean, width, yerr=std, capsize=3, label=strategy)
    ax.set_xticks(range(len(scenarios)), scenarios)
    ax.set_ylabel("forgetting (%, lower is better)")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def make_plots(strategies: list[str], records: list[dict[str, Any]], table: pd.DataFrame) -> dict[str, tuple[str, bytes]]:
    """``{file stem: (title, PNG)}`` for every figure that has data, in a fixed order."""
    plots: dict[str, tuple[str, bytes]] = {}
    if not records:
        return plots
    for curve in step_curves():
        png = step_curve_plot(strategies, records, curve.key, curve.ylabel, curve.scale)
        if png is not None:
            plots[curve.stem] = (curve.title, png)
    png = forgetting_plot(table)
    if png is not None:
        plots["forgetting"] = ("Forgetting per strategy", png)
    return plots
