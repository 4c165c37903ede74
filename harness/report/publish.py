"""Result sections of a document (the README) and ``docs/claims.md``, written from result folders.

A document marks each generated section with a pair of HTML comments naming the board's YAML::

    <!-- results: leaderboards/mnist-family.yaml -->
    (written by ``owlbench publish``)
    <!-- /results -->

:func:`publish_document` rewrites what lies between each pair from the board's result folder and
leaves everything outside the markers as written (explanations of the numbers stay hand-written
prose next to them).  A section holds the protocol (the comment block at the top of the board's
YAML), the command, seeds, job times, device and versions (from the jobs' ``config.json`` and
``metrics.json``), the board's ``leaderboard.md`` and the names of its figures.  No number in a
section is typed by hand.  :func:`claims_document` gathers the ``claims.csv`` of those boards into
one table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from harness import jobs
from harness.api.errors import ConfigError
from harness.report.claims import claims_markdown

MARKER = re.compile(r"<!-- results: (?P<config>[^ >]+) -->\n.*?<!-- /results -->", re.DOTALL)
FIGURES = ("training.png", "ranks.png", "forgetting.png")


@dataclass(frozen=True)
class BoardResults:
    """One board's YAML and result folder, as a section reads them."""

    config_path: str  # as written in the marker
    board_dir: Path
    protocol: str

    def manifest(self) -> dict[str, Any]:
        try:
            return jobs.read_manifest(self.board_dir)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                str(self.board_dir), f"no readable board.json ({exc.__class__.__name__}); run 'owlbench run {self.config_path}' first"
            ) from None

    def has_run(self) -> bool:
        return (self.board_dir / jobs.MANIFEST).is_file() and (self.board_dir / "leaderboard.md").is_file()

    def text(self, name: str) -> str:
        path = self.board_dir / name
        try:
            return path.read_text(encoding="utf-8")
        except OSError:
            raise ConfigError(str(path), f"missing; run 'owlbench run {self.config_path}' to write it") from None


def protocol_text(config_file: Path) -> str:
    """The comment block at the top of a board's YAML, without the ``#`` marks, as one paragraph."""
    lines = []
    for line in config_file.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(part for part in lines if part)


def _seeds(values: list[int]) -> str:
    values = sorted(set(values))
    if values and values == list(range(values[0], values[-1] + 1)) and len(values) > 2:
        return f"{values[0]}–{values[-1]}"
    return ", ".join(str(v) for v in values)


# the distributions the published line names (avalanche-lib only where a board's jobs used it)
VERSIONS_SHOWN = ("owlbench", "torch", "avalanche-lib")


def run_facts(results: BoardResults, manifest: dict[str, Any]) -> dict[str, Any]:
    """Seeds, job counts and times, devices and versions of the board's finished jobs."""
    planned = manifest["jobs"]
    times, devices = [], set()
    versions: dict[str, set[str]] = {k: set() for k in VERSIONS_SHOWN}
    for job in planned:
        metrics = jobs.read_metrics(results.board_dir, job["id"])
        if metrics is None:
            continue
        times.append(float(metrics.get("wall_time_s") or 0.0))
        config = jobs.read_config(results.board_dir, job["id"]) or {}
        devices.add(str(config.get("resolved_device", "?")))
        found = config.get("versions") if isinstance(config.get("versions"), dict) else {}
        for k in VERSIONS_SHOWN:
            if k in found:
                versions[k].add(str(found[k]))
    failed = sum((results.board_dir / j["id"] / jobs.FAILED_FILE).is_file() for j in planned)
    return {
        "planned": len(planned),
        "done": len(times),
        "failed": failed,
        "seeds": _seeds([j["seed"] for j in planned]),
        "job_time_s": sum(times),
        "longest_s": max(times, default=0.0),
        "devices": ", ".join(sorted(devices)) or "–",
        "versions": ", ".join(f"{k} {' / '.join(sorted(v))}" for k, v in versions.items() if v) or "–",
    }


def board_section(results: BoardResults) -> str:
    """The generated markdown of one board (see the module docstring)."""
    manifest = results.manifest()
    facts = run_facts(results, manifest)
    table = results.text("leaderboard.md").split("\n", 2)[-1].strip()  # without its "### <board>" heading
    figures = [f"`{results.board_dir.as_posix()}/{name}`" for name in FIGURES if (results.board_dir / name).is_file()]
    lines = [
        f"Protocol ({results.config_path}): {results.protocol}" if results.protocol else f"Protocol: see {results.config_path}.",
        "",
        f"Command: `owlbench run {results.config_path}` — {facts['done']} of {facts['planned']} jobs done"
        + (f", {facts['failed']} failed" if facts["failed"] else "")
        + f", seeds {facts['seeds']}; job time {facts['job_time_s']:.0f} s in all, longest job {facts['longest_s']:.0f} s"
        f" (device {facts['devices']}; {facts['versions']}).",
        "",
        table,
        "",
        "Paired statistics: " + f"`{results.board_dir.as_posix()}/comparisons.csv`"
        + (", figures: " + ", ".join(figures) if figures else "") + ".",
    ]
    return "\n".join(lines) + "\n"


def _board(config_path: str, root: Path, board_dir_of: Callable[[Path], Path]) -> BoardResults:
    path = (root / config_path).resolve()
    if root.resolve() not in path.parents or not path.is_file():
        raise ConfigError(f"results marker {config_path!r}", f"not a board YAML inside {root}")
    board_dir = board_dir_of(path)
    return BoardResults(config_path, board_dir if board_dir.is_absolute() else root / board_dir, protocol_text(path))


def marked_boards(document: str, root: Path, board_dir_of: Callable[[Path], Path]) -> list[BoardResults]:
    """The boards a document's markers name, in document order; ``board_dir_of`` maps a board's YAML to
    its result folder (the command line loads the board for it; relative folders are taken from ``root``)."""
    return [_board(m["config"], root, board_dir_of) for m in MARKER.finditer(document)]


def publish_document(document: str, boards: list[BoardResults], keep_missing: bool = False) -> str:
    """``document`` with every marked section rewritten from its board's result folder (``boards``:
    :func:`marked_boards` of the same document); with ``keep_missing``, the sections of boards that
    have not run are left as they are instead of raising."""
    boards = iter(boards)

    def replace(match: re.Match) -> str:
        results = next(boards)
        if keep_missing and not results.has_run():
            return match[0]
        return f"<!-- results: {match['config']} -->\n{board_section(results)}<!-- /results -->"

    return MARKER.sub(replace, document)


def claims_document(boards: list[BoardResults]) -> str:
    """``docs/claims.md``: every claim of the boards, one table, and the command of each board."""
    frames, commands = [], []
    for results in boards:
        if not results.has_run():
            commands.append(f"- `{results.board_dir.name}`: not run yet (`owlbench run {results.config_path}`); its claims, if any, are not in the table")
            continue
        if not results.manifest().get("claims"):
            continue
        frames.append(pd.read_csv(results.board_dir / "claims.csv", keep_default_na=False, na_values=[""]))
        commands.append(f"- `{results.board_dir.name}`: `owlbench run {results.config_path}`")
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    lines = [
        "# Claims checked",
        "",
        "Each paper's central claim, tested on a CPU board with paired statistics over its seeds (written by",
        "`owlbench publish`; see the README's section on claims for the verdict rules). \"effect\" is",
        "treatment − control in the metric's units (percentage points for accuracies; for an error, negative",
        "is better), with its 95 % paired-t interval.",
        "",
        claims_markdown(table) if len(table) else "No board declares claims.\n",
        "Commands:",
        "",
        *commands,
    ]
    return "\n".join(lines) + "\n"
