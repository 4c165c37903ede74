"""Paper, measured and Δ for every published number of a board's ``reference:`` block.

Written as ``reproduction.md`` (and ``reproduction.csv``) and shown under the leaderboard table and
on the page.  A reference whose pair has no finished seed is ``not run``; otherwise its status names
the devices the seeds ran on, read from the job folders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from harness import jobs
from harness.report.columns import present, summary_keys


def _devices(board_dir: Path, records: list[dict[str, Any]], pair: tuple[str, str]) -> list[str]:
    devices = set()
    for r in records:
        if (r["scenario"], r["strategy"]) == pair:
            config = jobs.read_config(board_dir, r["id"]) or {}
            devices.add(str(config.get("resolved_device", "?")))
    return sorted(devices)


def reproduction_rows(board_dir: Path, manifest: dict[str, Any], table: pd.DataFrame, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per reference value: paper, measured (mean ± std, in the paper's units), Δ, status."""
    percent = {key.name: key.percent for key, _ in summary_keys()}
    rows_by_pair = {(r["scenario"], r["strategy"]): r for r in table.to_dict("records")}
    out = []
    for ref in manifest.get("reference", []):
        pair = (ref["scenario"], ref["strategy"])
        row = rows_by_pair.get(pair, {})
        scale = 100.0 if percent.get(ref["metric"], True) else 1.0
        mean, std = row.get(f"{ref['metric']}_mean"), row.get(f"{ref['metric']}_std")
        done, total = row.get("seeds_done", 0), row.get("seeds_total", 0)
        measured = float(mean) * scale if present(mean) else None
        status = "not run" if not done else f"measured on {', '.join(_devices(board_dir, records, pair))} ({done}/{total} seeds)"
        out.append({
            "scenario": ref["scenario"],
            "strategy": ref["strategy"],
            "metric": ref["metric"],
            "paper": ref["value"],
            "measured": measured,
            "measured_std": float(std) * scale if present(std) else None,
            "delta": measured - ref["value"] if measured is not None else None,
            "status": status,
            "source": ref["source"],
            "verified": ref.get("verified", True),
            "note": ref.get("note") or "",
        })
    return out


def reproduction_html(rows: list[dict[str, Any]]) -> str:
    """The page's section: the same table as ``reproduction.md``."""
    import html

    cells = lambda values: "".join(f"<td>{html.escape(str(v))}</td>" for v in values)  # noqa: E731
    body = "".join(
        f"<tr>{cells([r['scenario'], r['strategy'], r['metric'], _number(r['paper']), _number(r['measured']), _number(r['delta'], True), r['status'], r['source']])}</tr>"
        for r in rows
    )
    head = "".join(f"<th>{h}</th>" for h in ("scenario", "strategy", "metric", "paper", "measured", "Δ", "status", "source"))
    return f'<h2>Reproduction</h2><table id="reproduction"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _number(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def reproduction_markdown(board: str, rows: list[dict[str, Any]]) -> str:
    header = "| scenario | strategy | metric | paper | measured | Δ | status | source |"
    lines = [f"### {board}: reproduction", "", header, "|" + "---|" * 8]
    for r in rows:
        measured = _number(r["measured"]) + (f" ± {r['measured_std']:.2f}" if r["measured_std"] is not None else "")
        source = r["source"] + ("" if r["verified"] else " (not checked against the source)") + (f"; {r['note']}" if r["note"] else "")
        lines.append(f"| {r['scenario']} | {r['strategy']} | {r['metric']} | {_number(r['paper'])} | {measured} | {_number(r['delta'], True)} | {r['status']} | {source} |")
    lines += ["", "Paper and measured values in the paper's units (accuracies in %); Δ = measured − paper."]
    return "\n".join(lines) + "\n"
