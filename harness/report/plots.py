"""The board's figures: every declared per-step curve, forgetting per strategy, and the accuracy matrices."""

from __future__ import annotations

import io
import warnings
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


def _strategy_curves(records: list[dict[str, Any]], scenario: str, strategy: str, key: str, scale: float) -> np.ndarray | None:
    """Seeds × steps of one strategy's per-step metric on one scenario (NaN where missing)."""
    mine = [r for r in records if (r["scenario"], r["strategy"]) == (scenario, strategy)]
    curves = [[s.get(key) for s in r["metrics"]["steps"]] for r in mine]
    if not curves or len({len(c) for c in curves}) != 1:
        return None
    arr = np.array([[np.nan if v is None else v for v in c] for c in curves], dtype=float) * scale
    return None if np.isnan(arr).all() else arr


def step_curve_figure(strategies: list[str], records: list[dict[str, Any]], key: str, ylabel: str, scale: float = 1.0, title: str = ""):
    """The figure of :func:`step_curve_plot` (for tests that read its axes); ``None`` without data.

    A panel whose scenario has a single evaluated step (e.g. ``ncd``) draws each strategy as a
    point with a ± std bar beside the step, the x axis one step wide around it, instead of lines."""
    scenarios = list(dict.fromkeys(r["scenario"] for r in records if any(s.get(key) is not None for s in r["metrics"]["steps"])))
    if not scenarios:
        return None
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(scenarios), figsize=(4.5 * len(scenarios), 3.9), squeeze=False)
    for ax, scenario in zip(axes[0], scenarios):
        curves = {s: c for s in strategies if (c := _strategy_curves(records, scenario, s, key, scale)) is not None}
        evaluated = sorted({int(i) for c in curves.values() for i in np.flatnonzero(~np.isnan(c).all(0))})
        if len(evaluated) == 1:
            step, spread = evaluated[0], 0.5 / max(1, len(curves))
            for k, (strategy, arr) in enumerate(curves.items()):
                values = arr[:, step][~np.isnan(arr[:, step])]
                if values.size == 0:
                    continue
                x = step + (k - (len(curves) - 1) / 2) * spread
                ax.errorbar([x], [values.mean()], yerr=[values.std()], fmt="o", capsize=4, label=strategy)
            ax.set_xlim(step - 0.5, step + 0.5)
            ax.set_xticks([step])
        else:
            for strategy, arr in curves.items():
                mean, std = arr.mean(0), arr.std(0)
                x = np.arange(len(mean))
                ax.plot(x, mean, marker="o", label=strategy)
                ax.fill_between(x, mean - std, mean + std, alpha=0.2)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(scenario)
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(f"{title} (mean ± std over seeds)", fontsize=11)
    fig.tight_layout()
    return fig


def step_curve_plot(strategies: list[str], records: list[dict[str, Any]], key: str, ylabel: str, scale: float = 1.0, title: str = "") -> bytes | None:
    """PNG: a per-step metric against step, one panel per scenario, one line per strategy (mean ± std
    over seeds; steps where the metric is missing are gaps).  ``None`` when no record has the metric."""
    fig = step_curve_figure(strategies, records, key, ylabel, scale, title)
    return None if fig is None else _png(fig)


def accuracy_matrix_plot(strategies: list[str], records: list[dict[str, Any]]) -> bytes | None:
    """PNG: heat maps of the accuracy matrix ``R[i][j]`` (accuracy on the classes of step ``j`` after
    training step ``i``; mean over seeds), one panel per scenario (rows) and strategy (columns)."""
    panels = {}
    for record in records:
        matrix = record["metrics"].get("accuracy_matrix")
        if isinstance(matrix, list) and matrix:
            arr = np.array([[np.nan if v is None else v for v in row] for row in matrix], dtype=float) * 100
            panels.setdefault((record["scenario"], record["strategy"]), []).append(arr)
    if not panels:
        return None
    scenarios = list(dict.fromkeys(sc for sc, _ in panels))
    shown = [s for s in strategies if any((sc, s) in panels for sc in scenarios)]
    plt = _pyplot()
    fig, axes = plt.subplots(len(scenarios), len(shown), figsize=(2.6 * len(shown) + 1, 2.4 * len(scenarios) + 0.6), squeeze=False)
    image = None
    for r, scenario in enumerate(scenarios):
        for c, strategy in enumerate(shown):
            ax = axes[r][c]
            arrays = panels.get((scenario, strategy))
            if not arrays or len({a.shape for a in arrays}) != 1:
                ax.axis("off")
                continue
            with warnings.catch_warnings():  # cells above the diagonal are missing in every seed: they stay NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(np.stack(arrays), axis=0)
            image = ax.imshow(mean, vmin=0, vmax=100, cmap="viridis")
            if mean.shape[0] <= 8:
                for (i, j), v in np.ndenumerate(mean):
                    if not np.isnan(v):
                        ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=7, color="white" if v < 60 else "black")
            ax.set_title(f"{scenario} / {strategy}", fontsize=9)
            ax.set_xlabel("classes of step j", fontsize=8)
            ax.set_ylabel("after step i", fontsize=8)
            ax.set_xticks(range(mean.shape[1]))
            ax.set_yticks(range(mean.shape[0]))
            ax.tick_params(labelsize=7)
    if image is None:
        plt.close(fig)
        return None
    fig.suptitle("Accuracy matrix R[i][j] (%, mean over seeds)", fontsize=11)
    fig.tight_layout()
    fig.colorbar(image, ax=axes, shrink=0.8, label="accuracy (%)")
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
    ax.set_title("Forgetting per strategy and scenario (mean ± std over seeds)", fontsize=11)
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
        png = step_curve_plot(strategies, records, curve.key, curve.ylabel, curve.scale, curve.title)
        if png is not None:
            plots[curve.stem] = (curve.title, png)
    png = forgetting_plot(table)
    if png is not None:
        plots["forgetting"] = ("Forgetting per strategy and scenario (mean ± std over seeds)", png)
    png = accuracy_matrix_plot(strategies, records)
    if png is not None:
        plots["accuracy_matrix"] = ("Accuracy matrix per strategy and scenario", png)
    return plots
