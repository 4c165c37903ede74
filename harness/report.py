"""Collecting job folders into the board's tables and figures.

Written into the board folder: ``leaderboard.csv`` (one row per scenario × strategy: status, seeds
done/failed, mean and sample std over seeds of every summary metric; no timings, so the file depends
on the results alone), ``steps.csv`` (per step: mean and std over seeds of the per-step metrics),
``leaderboard.md``, ``skipped.csv`` (unsupported pairs and why, when any), the plots of
:data:`STEP_CURVES` and :func:`forgetting_plot`, and ``leaderboard.html`` (see :mod:`harness.report_html`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.io import atomic_write_bytes, atomic_write_text
from harness.sweep import Job

SUMMARY_KEYS = (
    "last_accuracy",
    "average_incremental_accuracy",
    "forgetting",
    "backward_transfer",
    "last_base_accuracy",
    "last_novel_accuracy",
    "last_harmonic_accuracy",
    "mean_auroc",
    "mean_fpr95",
    "mean_aupr",
    # open-world kinds (ncd, cgcd)
    "last_clustering_accuracy",
    "last_clustering_accuracy_old",
    "last_clustering_accuracy_new",
    "mean_clustering_accuracy",
    "last_nmi",
    "last_ari",
    "last_old_accuracy",
    "old_forgetting",
    "last_new_task_aware_accuracy",
    "new_classes_true",
    "new_classes_estimated",
)
MARKDOWN_COLUMNS = {
    "last_accuracy": "last acc",
    "average_incremental_accuracy": "avg inc acc",
    "forgetting": "forgetting",
    "last_harmonic_accuracy": "last HM (base/novel)",
    "last_clustering_accuracy": "clust acc All",
    "last_clustering_accuracy_old": "Old",
    "last_clustering_accuracy_new": "New",
    "last_new_task_aware_accuracy": "New, task-aware",
    "last_nmi": "NMI",
    "last_ari": "ARI",
    "old_forgetting": "old forgetting",
    "new_classes_estimated": "new classes est. / true",
    "mean_auroc": "AUROC",
}
NOT_PERCENT = {"mean_auroc", "last_nmi", "last_ari"}
CLOSED_WORLD = ("last_accuracy", "average_incremental_accuracy", "forgetting", "last_harmonic_accuracy")


def load_records(jobs: list[Job], board_dir: Path) -> list[dict[str, Any]]:
    """The metrics of every finished job of the board, in job order."""
    records = []
    for job in jobs:
        if not job.is_done(board_dir):
            continue
        metrics = json.loads((job.folder(board_dir) / "metrics.json").read_text())
        records.append({"job": job, "metrics": metrics})
    return records


def _mean_std(values: list[float | None]) -> tuple[float | None, float | None]:
    present = [v for v in values if v is not None]
    if not present:
        return None, None
    std = float(np.std(present, ddof=1)) if len(present) > 1 else None
    return float(np.mean(present)), std


def _status(done: int, failed: int, total: int) -> str:
    """``failed`` when any seed failed, else ``complete``, ``partial`` or ``pending``."""
    if failed:
        return "failed"
    return "complete" if done == total else "partial" if done else "pending"


def leaderboard_table(jobs: list[Job], records: list[dict[str, Any]], board_dir: Path | None = None) -> pd.DataFrame:
    """One row per scenario × strategy (in YAML order): status, then mean and sample std (ddof=1) over seeds.

    With ``board_dir``, jobs whose folder holds ``failed.json`` are counted in ``seeds_failed``."""
    from harness.executors.base import is_failed

    pairs = list(dict.fromkeys((j.scenario.label, j.strategy.label) for j in jobs))
    kinds = {j.scenario.label: j.scenario.name for j in jobs}
    rows = []
    for scenario, strategy in pairs:
        mine = [r for r in records if (r["job"].scenario.label, r["job"].strategy.label) == (scenario, strategy)]
        pair_jobs = [j for j in jobs if (j.scenario.label, j.strategy.label) == (scenario, strategy)]
        failed = sum(is_failed(j, board_dir) for j in pair_jobs) if board_dir is not None else 0
        row: dict[str, Any] = {
            "scenario": scenario,
            "kind": kinds[scenario],
            "strategy": strategy,
            "status": _status(len(mine), failed, len(pair_jobs)),
            "seeds_done": len(mine),
            "seeds_failed": failed,
            "seeds_total": len(pair_jobs),
        }
        for key in SUMMARY_KEYS:
            mean, std = _mean_std([r["metrics"]["summary"].get(key) for r in mine])
            row[f"{key}_mean"], row[f"{key}_std"] = mean, std
        row["wall_time_s_mean"] = _mean_std([r["metrics"].get("wall_time_s") for r in mine])[0]
        rows.append(row)
    return pd.DataFrame(rows)


def steps_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Per scenario × strategy × step: seeds, and mean / std (ddof=1) over seeds of each per-step metric."""
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for r in records:
        for step in r["metrics"]["steps"]:
            groups.setdefault((r["job"].scenario.label, r["job"].strategy.label, step["step"]), []).append(step)
    rows = []
    for (scenario, strategy, step), items in groups.items():
        row: dict[str, Any] = {"scenario": scenario, "strategy": strategy, "step": step, "seeds": len(items)}
        keys = [k for k in items[0] if k != "step" and all(isinstance(i.get(k), (int, float, type(None))) for i in items)]
        for key in keys:
            row[f"{key}_mean"], row[f"{key}_std"] = _mean_std([i.get(key) for i in items])
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(mean: float | None, std: float | None, percent: bool) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    scale = 100.0 if percent else 1.0
    text = f"{mean * scale:.1f}" if percent else f"{mean:.3f}"
    if std is not None and not (isinstance(std, float) and math.isnan(std)):
        text += f" ± {std * scale:.1f}" if percent else f" ± {std:.3f}"
    return text


def _seeds_cell(row: dict[str, Any]) -> str:
    text = f"{row['seeds_done']}/{row['seeds_total']}"
    return text + (f" ({row['seeds_failed']} failed)" if row.get("seeds_failed") else "")


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _cell(row: dict[str, Any], key: str) -> str:
    if key == "new_classes_estimated":
        est, true = row["new_classes_estimated_mean"], row["new_classes_true_mean"]
        if not _present(est):
            return "–"
        std = row["new_classes_estimated_std"]
        return f"{est:.1f}" + (f" ± {std:.1f}" if _present(std) else "") + f" / {true:.0f}"
    return _fmt(row[f"{key}_mean"], row[f"{key}_std"], percent=key not in NOT_PERCENT)


def markdown_table(table: pd.DataFrame, board: str, skips: tuple = ()) -> str:
    """A readable table: accuracies in percent, mean ± std over seeds, wall time per job;
    then the skipped pairs.  A status column appears when some pair is not complete; the clustering columns appear when some row is an open-world run
    (``ncd``, ``cgcd``), the accuracy columns when some row is not."""
    records = table.to_dict("records")
    open_world = [_present(r.get("last_clustering_accuracy_mean")) for r in records]
    keys = [
        k
        for k in MARKDOWN_COLUMNS
        if k == "mean_auroc" or (k in CLOSED_WORLD and not all(open_world or [False])) or (k not in CLOSED_WORLD and any(open_world))
    ]
    # the status column appears when some pair is not complete (failed, partial or pending)
    show_status = any(r.get("status", "complete") != "complete" for r in records)
    header = ["scenario", "strategy", *(["status"] if show_status else []), "seeds", *(MARKDOWN_COLUMNS[k] for k in keys), "time/job (s)"]
    lines = [f"### {board}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in records:
        cells = [row["scenario"], row["strategy"], *([row["status"]] if show_status else []), _seeds_cell(row)]
        for key in keys:
            cells.append(_cell(row, key))
        wall = row["wall_time_s_mean"]
        cells.append("–" if wall is None or math.isnan(wall) else f"{wall:.1f}")
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    note = "Accuracies in %, mean ± sample std over seeds; AUROC averaged over steps that have unseen classes."
    if "last_clustering_accuracy" in keys:
        note += (
            " Open-world rows: clustering accuracy after the last step (one Hungarian assignment over all test"
            " samples of seen classes, then Old/New subsets), NMI and ARI over the same samples."
        )
    lines += ["", note]
    if skips:
        lines += ["", "Skipped (not run):", ""] + [f"- {s.scenario} × {s.strategy}: {s.reason}" for s in skips]
    return "\n".join(lines) + "\n"



# ---------------------------------------------------------------------------- plots
# Per-step curves: (file stem, per-step key in metrics.json, y label, scale).  A figure has a panel
# for each scenario where some finished job records the key, so kinds that do not produce a metric
# (clustering accuracy outside ncd/cgcd) have no panel, and a board without any has no figure.
STEP_CURVES: tuple[tuple[str, str, str, float], ...] = (
    ("accuracy", "accuracy", "accuracy on seen classes (%)", 100.0),
    ("auroc", "auroc", "open-set AUROC (seen vs unseen classes)", 1.0),
    ("clustering", "clustering_accuracy", "clustering accuracy, All (%)", 100.0),
)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt



def _png(fig) -> bytes:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    _pyplot().close(fig)
    return buffer.getvalue()


def _pair_records(records, scenario, strategy):
    return [r for r in records if (r["job"].scenario.label, r["job"].strategy.label) == (scenario, strategy)]


def step_curve_plot(jobs: list[Job], records: list[dict[str, Any]], key: str, ylabel: str, scale: float = 1.0) -> bytes | None:
    """PNG: a per-step metric against step, one panel per scenario, one line per strategy (mean ± std
    over seeds; steps where the metric is missing are gaps).  ``None`` when no record has the metric."""
    scenarios = list(
        dict.fromkeys(r["job"].scenario.label for r in records if any(s.get(key) is not None for s in r["metrics"]["steps"]))
    )
    if not scenarios:
        return None
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    strategies = list(dict.fromkeys(j.strategy.label for j in jobs))
    fig, axes = plt.subplots(1, len(scenarios), figsize=(4.5 * len(scenarios), 3.6), squeeze=False)
    for ax, scenario in zip(axes[0], scenarios):
        for strategy in strategies:
            curves = [[s.get(key) for s in r["metrics"]["steps"]] for r in _pair_records(records, scenario, strategy)]
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


def accuracy_plot(jobs: list[Job], records: list[dict[str, Any]]) -> bytes:
    """PNG: accuracy on seen classes against step, one panel per scenario, one line per strategy."""
    return step_curve_plot(jobs, records, "accuracy", STEP_CURVES[0][2], 100.0)


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


def make_plots(jobs: list[Job], records: list[dict[str, Any]], table: pd.DataFrame) -> dict[str, bytes]:
    """``{file stem: PNG}`` for every figure that has data, in a fixed order."""
    plots: dict[str, bytes] = {}
    if not records:
        return plots
    for stem, key, ylabel, scale in STEP_CURVES:
        png = step_curve_plot(jobs, records, key, ylabel, scale)
        if png is not None:
            plots[stem] = png
    png = forgetting_plot(table)
    if png is not None:
        plots["forgetting"] = png
    return plots


def _csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, float_format="%.6f", lineterminator="\n")


def write_report(jobs: list[Job], board_dir: Path, skips: tuple = ()) -> tuple[pd.DataFrame, str]:
    """Write every table, plot and the HTML page of the board; return the table and the markdown."""
    from harness.report_html import leaderboard_html

    records = load_records(jobs, board_dir)
    table = leaderboard_table(jobs, records, board_dir)
    # wall time varies from run to run: it goes to the markdown only, so the CSV depends on the results alone
    csv_table = table.drop(columns=["wall_time_s_mean"])
    atomic_write_text(board_dir / "leaderboard.csv", _csv(csv_table))
    atomic_write_text(board_dir / "steps.csv", _csv(steps_table(records)))
    if skips:
        atomic_write_text(board_dir / "skipped.csv", _csv(pd.DataFrame([vars(s) for s in skips])))
    else:
        (board_dir / "skipped.csv").unlink(missing_ok=True)
    markdown = markdown_table(table, board_dir.name, tuple(skips))
    atomic_write_text(board_dir / "leaderboard.md", markdown)
    plots = make_plots(jobs, records, table)
    for stem, png in plots.items():
        atomic_write_bytes(board_dir / f"{stem}.png", png)
    atomic_write_text(board_dir / "leaderboard.html", leaderboard_html(board_dir.name, table, plots, tuple(skips)))
    return table, markdown
