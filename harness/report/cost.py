"""``cost.csv``, the cost table of ``leaderboard.md`` and the page, and ``cost.png`` (the board's primary
metric against the time a job took, with the Pareto front per scenario), from the ``cost`` block each
job's ``metrics.json`` holds (:mod:`harness.cost`).  Kept out of ``leaderboard.csv``, which depends
on the results alone: timings differ from run to run."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from harness.report.plots import _png, _pyplot
from harness.report.ranks import primary_metric

FIELDS = ("learn_s_total", "eval_s_total", "score_s_total", "cpu_s", "peak_rss_mb", "cuda_peak_mb", "parameters", "trained_parameters", "samples_given")
LABELS = {
    "learn_s_total": "learn (s)", "eval_s_total": "evaluate (s)", "score_s_total": "scorers (s)", "cpu_s": "CPU (s)", "peak_rss_mb": "peak RSS (MB)",
    "cuda_peak_mb": "peak CUDA (MB)", "parameters": "parameters", "trained_parameters": "trained", "samples_given": "samples given",
}


def cost_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Per scenario × strategy (in job order): seeds with a cost record, then the mean over them of each field."""
    rows = []
    for pair in dict.fromkeys((r["scenario"], r["strategy"]) for r in records):
        costs = [r["metrics"].get("cost") or {} for r in records if (r["scenario"], r["strategy"]) == pair]
        costs = [c for c in costs if c]
        if not costs:
            continue
        row: dict[str, Any] = {"scenario": pair[0], "strategy": pair[1], "seeds": len(costs)}
        for field in FIELDS:
            values = [c[field] for c in costs if isinstance(c.get(field), (int, float))]
            row[f"{field}_mean"] = float(np.mean(values)) if values else None
        rows.append(row)
    table = pd.DataFrame(rows, columns=["scenario", "strategy", "seeds", *(f"{f}_mean" for f in FIELDS)])
    return table.dropna(axis=1, how="all")


def _cell(field: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if field in ("parameters", "trained_parameters", "samples_given"):
        return f"{value:,.0f}"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _fields(table: pd.DataFrame) -> list[str]:
    return [f for f in FIELDS if f"{f}_mean" in table.columns]


def cost_markdown(table: pd.DataFrame) -> str:
    fields = _fields(table)
    header = ["scenario", "strategy", "seeds", *(LABELS[f] for f in fields)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in table.to_dict("records"):
        lines.append("| " + " | ".join([row["scenario"], row["strategy"], str(row["seeds"]), *(_cell(f, row[f"{f}_mean"]) for f in fields)]) + " |")
    return "\n".join(lines) + "\n"


def cost_html(table: pd.DataFrame) -> str:
    fields = _fields(table)
    def cell(tag: str, i: int, text: Any) -> str:
        css = ' class="text"' if i < 2 else ""  # scenario, strategy: left-aligned
        return f"<{tag}{css}>{html.escape(str(text))}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(["scenario", "strategy", "seeds", *(LABELS[f] for f in fields)]))
    body = "".join(
        "<tr>" + "".join(cell("td", i, c) for i, c in enumerate([row["scenario"], row["strategy"], row["seeds"], *(_cell(f, row[f"{f}_mean"]) for f in fields)])) + "</tr>"
        for row in table.to_dict("records")
    )
    return f'<h2>Cost per job</h2><p class="note">Mean over seeds, measured while the jobs ran (cost.csv).</p><div class="table-scroll"><table id="cost"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats in both cost (lower) and score (higher), by increasing cost."""
    front, best = [], -np.inf
    for cost, score in sorted(points, key=lambda p: (p[0], -p[1])):
        if score > best:
            front.append((cost, score))
            best = score
    return front


def cost_plot(records: list[dict[str, Any]]) -> bytes | None:
    """PNG: per scenario, each strategy's mean primary metric against its mean time per job (log axis)."""
    panels: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for r in records:
        metric, cost = primary_metric(r["kind"]), r["metrics"].get("cost") or {}
        value = r["metrics"]["summary"].get(metric[0]) if metric else None
        seconds = (cost.get("learn_s_total") or 0) + (cost.get("eval_s_total") or 0)
        if value is None or not cost or seconds <= 0:
            continue
        panels.setdefault(r["scenario"], {}).setdefault(r["strategy"], []).append((seconds, float(value) * 100))
    if not panels:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.9), squeeze=False)
    for ax, (scenario, strategies) in zip(axes[0], panels.items()):
        points = {s: (float(np.mean([p[0] for p in v])), float(np.mean([p[1] for p in v]))) for s, v in strategies.items()}
        for strategy, (x, y) in points.items():
            ax.scatter([x], [y], label=strategy, zorder=3)
        front = pareto_front(list(points.values()))
        ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="grey", alpha=0.6, label="Pareto front", zorder=2)
        ax.set_xscale("log")
        ax.set_title(scenario)
        ax.set_xlabel("learn + evaluate time per job (s, log)")
        kind = next(r["kind"] for r in records if r["scenario"] == scenario)
        ax.set_ylabel(f"{primary_metric(kind)[0].replace('_', ' ')} (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Primary metric against cost per job (mean over seeds)", fontsize=11)
    fig.tight_layout()
    return _png(fig)
