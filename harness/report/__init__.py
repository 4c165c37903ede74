"""Collecting a board's folder into its tables and figures, from the folder alone.

Written into the board folder: ``leaderboard.csv`` (one row per scenario × strategy: status, seeds
done/failed, mean and sample std over seeds of every declared summary metric; no timings, so the file
depends on the results alone), ``steps.csv`` (per step: mean and std over seeds of the per-step
metrics), ``comparisons.csv`` (paired comparisons over seeds, :mod:`harness.report.comparisons`), ``ranks.csv``
and ``ranks.png`` (average ranks, Friedman, critical difference: :mod:`harness.report.ranks`),
``training.png`` (per-epoch training curves of the strategies that train), ``claims.csv`` and
``claims.md`` (the board's ``claims:``, :mod:`harness.report.claims`), ``cost.csv`` and ``cost.png``
(what each job cost, :mod:`harness.report.cost`), ``scenarios.md`` (a card per scenario,
:mod:`harness.report.scenario_cards`), ``leaderboard.md``, ``skipped.csv`` (unsupported pairs and why, when any), the figures of
every declared step curve and of forgetting, and ``leaderboard.html`` (:mod:`harness.report.page`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness import jobs
from harness.io import atomic_write_bytes, atomic_write_text
from harness.report.claims import claim_rows, claims_markdown
from harness.report.cost import cost_html, cost_markdown, cost_plot, cost_table
from harness.report.comparisons import comparisons, table_marks
from harness.report.scenario_cards import scenario_cards
from harness.report.scorers import scorer_correlation, scorer_curves_plot, scorer_table, scorers_markdown
from harness.report.ranks import rank_blocks, rank_plot, rank_table
from harness.report.training_curves import training_plot
from harness.report.markdown import markdown_table
from harness.report.page import leaderboard_html
from harness.report.plots import make_plots
from harness.report.reproduction import reproduction_html, reproduction_markdown, reproduction_rows
from harness.report.tables import leaderboard_csv, leaderboard_table, load_records, steps_table, to_csv

__all__ = ["markdown_table", "output_files", "write_report"]


def __getattr__(name: str):
    if name == "SUMMARY_KEYS":  # computed on use: a metric registered later has its keys too
        from harness.report.columns import summary_key_names

        return summary_key_names()
    raise AttributeError(name)


def output_files() -> list[str]:
    """The names of every file :func:`write_report` may write into a board folder."""
    from harness.report.columns import step_curves

    names = ["leaderboard.csv", "steps.csv", "comparisons.csv", "ranks.csv", "ranks.png", "training.png", "claims.csv", "claims.md", "skipped.csv", "leaderboard.md", "leaderboard.html", "forgetting.png", "reproduction.md", "reproduction.csv", "accuracy_matrix.png", "cost.csv", "cost.png", "scenarios.md", "scorers.csv", "scorer_correlation.csv", "scorers.png"]
    return names + [f"{curve.stem}.png" for curve in step_curves()]


def write_report(board_dir: Path) -> tuple[pd.DataFrame, str]:
    """Write every table, plot and the HTML page of the board; return the table and the markdown."""
    manifest = jobs.read_manifest(board_dir)
    skips = tuple(manifest["skipped"])
    records = load_records(board_dir, manifest)
    table = leaderboard_table(board_dir, manifest, records)
    atomic_write_text(board_dir / "leaderboard.csv", leaderboard_csv(table))
    atomic_write_text(board_dir / "steps.csv", to_csv(steps_table(records)))
    compared = comparisons(records, manifest.get("compare_to") or "nmc")
    atomic_write_text(board_dir / "comparisons.csv", to_csv(compared))
    blocks = rank_blocks(records)
    ranks = rank_table(blocks)
    atomic_write_text(board_dir / "ranks.csv", to_csv(ranks))
    if skips:
        atomic_write_text(board_dir / "skipped.csv", to_csv(pd.DataFrame(list(skips))))
    else:
        (board_dir / "skipped.csv").unlink(missing_ok=True)
    marks = table_marks(compared)
    table.attrs["marks"] = marks  # for the printed table (harness.report.terminal)
    markdown = markdown_table(table, manifest["board"], skips, marks)
    reproduction = reproduction_rows(board_dir, manifest, table, records) if manifest.get("reference") else []
    if reproduction:
        text = reproduction_markdown(manifest["board"], reproduction)
        atomic_write_text(board_dir / "reproduction.md", text)
        atomic_write_text(board_dir / "reproduction.csv", to_csv(pd.DataFrame(reproduction)))
        markdown += "\n" + text
    cards = scenario_cards(board_dir, manifest, records)
    if cards:
        atomic_write_text(board_dir / "scenarios.md", cards)
    scored = scorer_table(records)
    if len(scored):
        correlation = scorer_correlation(records, scored)
        atomic_write_text(board_dir / "scorers.csv", to_csv(scored))
        atomic_write_text(board_dir / "scorer_correlation.csv", to_csv(correlation))
        markdown += scorers_markdown(scored, correlation)
    costs = cost_table(records)
    atomic_write_text(board_dir / "cost.csv", to_csv(costs))
    if len(costs):
        markdown += "\nCost per job (mean over seeds; cost.csv):\n\n" + cost_markdown(costs)
    if manifest.get("claims"):
        claims = claim_rows(manifest["board"], manifest["claims"], records)
        atomic_write_text(board_dir / "claims.csv", to_csv(claims))
        atomic_write_text(board_dir / "claims.md", claims_markdown(claims))
        markdown += "\nClaims checked (claims.csv):\n\n" + claims_markdown(claims)
    atomic_write_text(board_dir / "leaderboard.md", markdown)
    strategies = list(dict.fromkeys(j["strategy"] for j in manifest["jobs"]))
    plots = make_plots(strategies, records, table)
    for stem, title, png in (
        ("ranks", "Average ranks and critical difference", rank_plot(ranks, blocks[3])),
        ("training", "Training curves", training_plot(records)),
        ("cost", "Primary metric against cost per job, with the Pareto front", cost_plot(records)),
        ("scorers", "Open-set AUROC against step per scorer", scorer_curves_plot(records)),
    ):
        if png is None:
            (board_dir / f"{stem}.png").unlink(missing_ok=True)
        else:
            plots[stem] = (title, png)
    for stem, (_, png) in plots.items():
        atomic_write_bytes(board_dir / f"{stem}.png", png)
    extra = (reproduction_html(reproduction) if reproduction else "") + (cost_html(costs) if len(costs) else "")
    links: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for job in manifest["jobs"]:
        if jobs.is_done(board_dir, job["id"]) or jobs.is_failed(board_dir, job["id"]):
            links.setdefault((job["scenario"], job["strategy"]), []).append((job["seed"], job["id"]))
    atomic_write_text(board_dir / "leaderboard.html", leaderboard_html(manifest["board"], table, plots, skips, extra, marks, links))
    return table, markdown
