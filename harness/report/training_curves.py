"""Training curves: one small panel per trained strategy and scenario, from ``metrics.json``'s
``training`` records, so a reader sees whether each network converged under the board's budget."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.report.plots import _png, _pyplot

PANEL_COLUMNS = 4


def trained_pairs(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """``(scenario, strategy)`` pairs, in job order, whose records hold at least one training epoch."""
    return list(dict.fromkeys((r["scenario"], r["strategy"]) for r in records if r["metrics"].get("training")))


def _series(training: list[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Epochs numbered across steps (x) and the values of ``key`` (y), for the records that have it."""
    points = [(i, rec[key]) for i, rec in enumerate(training) if rec.get(key) is not None]
    if not points:
        return np.zeros(0), np.zeros(0)
    x, y = zip(*points)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def training_plot(records: list[dict[str, Any]]) -> bytes | None:
    """PNG: training loss against epoch (epochs of later steps follow those of earlier ones; dotted
    lines mark where a step starts), one thin line per seed; validation accuracy, when a strategy
    held out part of its training data, on the right axis.  ``None`` when nothing was trained."""
    pairs = trained_pairs(records)
    if not pairs:
        return None
    plt = _pyplot()
    columns = min(PANEL_COLUMNS, len(pairs))
    rows = -(-len(pairs) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 2.7 * rows), squeeze=False)
    for ax in axes.flat[len(pairs) :]:
        ax.set_visible(False)
    for ax, (scenario, strategy) in zip(axes.flat, pairs):
        mine = [r for r in records if (r["scenario"], r["strategy"]) == (scenario, strategy) and r["metrics"].get("training")]
        right = None
        for r in mine:
            training = r["metrics"]["training"]
            x, y = _series(training, "train_loss")
            ax.plot(x, y, lw=0.9, color="tab:blue", alpha=0.7)
            vx, vy = _series(training, "val_accuracy")
            if len(vx):
                right = right or ax.twinx()
                right.plot(vx, vy * 100, lw=0.9, color="tab:orange", alpha=0.7)
        starts = [i for i, rec in enumerate(mine[0]["metrics"]["training"]) if i and rec["step"] != mine[0]["metrics"]["training"][i - 1]["step"]]
        for start in starts:
            ax.axvline(start - 0.5, color="grey", lw=0.6, ls=":")
        ax.set_title(f"{scenario} / {strategy} ({len(mine)} seeds)", fontsize=9)
        ax.set_xlabel("epoch (all steps)", fontsize=8)
        ax.set_ylabel("training loss", fontsize=8, color="tab:blue")
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if right is not None:
            right.set_ylabel("validation acc (%)", fontsize=8, color="tab:orange")
            right.tick_params(labelsize=7)
    fig.tight_layout()
    return _png(fig)
