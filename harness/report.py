"""Collecting finished job folders into leaderboard.csv, leaderboard.md and an accuracy plot."""

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


def leaderboard_table(jobs: list[Job], records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per scenario × strategy (in YAML order): mean and sample std (ddof=1) over seeds."""
    pairs = list(dict.fromkeys((j.scenario.label, j.strategy.label) for j in jobs))
    kinds = {j.scenario.label: j.scenario.name for j in jobs}
    rows = []
    for scenario, strategy in pairs:
        mine = [r for r in records if (r["job"].scenario.label, r["job"].strategy.label) == (scenario, strategy)]
        total = sum(1 for j in jobs if (j.scenario.label, j.strategy.label) == (scenario, strategy))
        row: dict[str, Any] = {
            "scenario": scenario,
            "kind": kinds[scenario],
            "strategy": strategy,
            "seeds_done": len(mine),
            "seeds_total": total,
        }
        for key in SUMMARY_KEYS:
            mean, std = _mean_std([r["metrics"]["summary"].get(key) for r in mine])
            row[f"{key}_mean"], row[f"{key}_std"] = mean, std
        row["wall_time_s_mean"] = _mean_std([r["metrics"].get("wall_time_s") for r in mine])[0]
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


def markdown_table(table: pd.DataFrame, board: str) -> str:
    """A readable table: accuracies in percent, mean ± std over seeds, wall time per job.  The
    clustering columns appear when some row is an open-world run (``ncd``, ``cgcd``), the accuracy
    columns when some row is not."""
    records = table.to_dict("records")
    open_world = [_present(r.get("last_clustering_accuracy_mean")) for r in records]
    keys = [
        k
        for k in MARKDOWN_COLUMNS
        if k == "mean_auroc" or (k in CLOSED_WORLD and not all(open_world or [False])) or (k not in CLOSED_WORLD and any(open_world))
    ]
    header = ["scenario", "strategy", "seeds", *(MARKDOWN_COLUMNS[k] for k in keys), "time/job (s)"]
    lines = [f"### {board}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in records:
        cells = [row["scenario"], row["strategy"], f"{row['seeds_done']}/{row['seeds_total']}"]
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
    return "\n".join(lines) + "\n"


def accuracy_plot(jobs: list[Job], records: list[dict[str, Any]]) -> bytes:
    """PNG: accuracy on seen classes against step, one panel per scenario, one line per strategy;
    clustering accuracy (All) for scenarios with unlabeled steps."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = list(dict.fromkeys(j.scenario.label for j in jobs))
    strategies = list(dict.fromkeys(j.strategy.label for j in jobs))
    fig, axes = plt.subplots(1, len(scenarios), figsize=(4.5 * len(scenarios), 3.6), squeeze=False)
    for ax, scenario in zip(axes[0], scenarios):
        mine = [r for r in records if r["job"].scenario.label == scenario]
        key = "clustering_accuracy" if mine and "clustering_accuracy" in mine[0]["metrics"]["steps"][0] else "accuracy"
        for strategy in strategies:
            curves = [[s[key] for s in r["metrics"]["steps"]] for r in mine if r["job"].strategy.label == strategy]
            if not curves:
                continue
            arr = np.array(curves, dtype=float) * 100
            mean, std = arr.mean(0), arr.std(0)
            x = np.arange(len(mean))
            ax.plot(x, mean, marker="o", label=strategy)
            ax.fill_between(x, mean - std, mean + std, alpha=0.2)
        ax.set_title(scenario)
        ax.set_xlabel("step")
        ax.set_ylabel("clustering accuracy, All (%)" if key == "clustering_accuracy" else "accuracy on seen classes (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def write_report(jobs: list[Job], board_dir: Path) -> tuple[pd.DataFrame, str]:
    records = load_records(jobs, board_dir)
    table = leaderboard_table(jobs, records)
    # wall time varies from run to run: it goes to the markdown only, so the CSV depends on the results alone
    csv_table = table.drop(columns=["wall_time_s_mean"])
    atomic_write_text(board_dir / "leaderboard.csv", csv_table.to_csv(index=False, float_format="%.6f", lineterminator="\n"))
    markdown = markdown_table(table, board_dir.name)
    atomic_write_text(board_dir / "leaderboard.md", markdown)
    if records:
        atomic_write_bytes(board_dir / "accuracy.png", accuracy_plot(jobs, records))
    return table, markdown
