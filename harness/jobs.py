"""A job, its id and its folder: everything about the results-folder format lives here.

A board's folder ``<output>/<board>/`` holds:

- ``board.json``: the board's plan, written before any job runs: every job (id, scenario label and
  kind, strategy label, seed) in YAML order and the pairs skipped with their reasons. The report is
  built from this file and the job folders alone;
- ``<job-id>/``: one folder per job, published whole from a staging folder ``.<job-id>.*``:
  ``config.json``, ``metrics.json``, ``steps.csv``, ``predictions.npz`` (:mod:`harness.predictions`) and the ``done`` marker for a finished job, or
  ``failed.json`` alone for a failed one.

The job id is a short hash of the job's fully resolved config.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import inspect
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.api.params import Params
from harness.io import atomic_write_bytes, atomic_write_json, atomic_write_text, dumps_json, finite_json, make_temp_dir, publish_dir, set_aside

DONE_MARKER = "done"
FAILED_FILE = "failed.json"
PREDICTIONS_FILE = "predictions.npz"
MANIFEST = "board.json"


@dataclass(frozen=True)
class Entry:
    """A validated dataset, scenario, strategy, backbone or executor entry: registered name, display
    label and typed parameters; ``path`` names it in the YAML (``strategies[1]``)."""

    name: str
    label: str
    params: Params
    path: str

    def resolved(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "params": self.params.model_dump(mode="json")}


@dataclass(frozen=True)
class Job:
    board: str
    dataset: Entry
    scenario: Entry
    strategy: Entry
    seed: int
    device: str
    backbone: Entry | None = None
    archive_top_k: int = 5  # how much of each prediction predictions.npz keeps (0: none); not part of the id
    scorers: tuple[Entry, ...] = ()  # the board's open-set scorers (part of the id when there are some)
    far: Entry | None = None  # far-unknown dataset (part of the id when there is one)
    predictions: str = "auto"  # dense logits or summaries (the same numbers); not part of the id
    threads: int | str = "auto"  # torch threads of the job (the same numbers); not part of the id

    def resolved(self) -> dict[str, Any]:
        """Everything that determines the job's numbers; its hash is the job id."""
        resolved = {
            "board": self.board,
            "dataset": self.dataset.resolved(),
            "scenario": self.scenario.resolved(),
            "strategy": self.strategy.resolved(),
            "seed": self.seed,
            "device": self.device,
        }
        if self.backbone is not None:  # absent without one, so boards without a backbone keep their ids
            resolved["backbone"] = self.backbone.resolved()
        if self.scorers:  # likewise: boards without scorers keep their ids
            resolved["scorers"] = [s.resolved() for s in self.scorers]
        if self.far is not None:
            resolved["far"] = self.far.resolved()
        return resolved

    @property
    def id(self) -> str:
        canonical = json.dumps(self.resolved(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    @property
    def title(self) -> str:
        return f"{self.scenario.label}/{self.strategy.label}/seed{self.seed}"

    def folder(self, board_dir: Path) -> Path:
        return board_dir / self.id

    def is_done(self, board_dir: Path) -> bool:
        return is_done(board_dir, self.id)


# ---------------------------------------------------------------------------- code fingerprint
def _source_sha256(obj: object) -> str | None:
    try:
        path = inspect.getsourcefile(obj)  # type: ignore[arg-type]
    except TypeError:
        return None
    if path is None or not Path(path).is_file():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@functools.lru_cache(maxsize=1)
def _git_commit() -> dict[str, Any] | None:
    """``{"commit", "dirty"}`` of the checkout owlbench runs from, ``None`` outside a git checkout."""
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return None
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if commit.returncode:
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def code_fingerprint(job: Job) -> dict[str, Any]:
    """The code behind a job's numbers: owlbench's version and checkout (recorded), and the SHA-256 of
    the source files of its strategy and scenario classes (compared by :func:`stale_reason`)."""
    from harness import __version__
    from harness.api.registry import SCENARIOS, STRATEGIES

    return {
        "owlbench": __version__,
        "git": _git_commit(),
        "strategy_source_sha256": _source_sha256(STRATEGIES.get(job.strategy.name)),
        "scenario_source_sha256": _source_sha256(SCENARIOS.get(job.scenario.name)),
    }


STALE_KEYS = ("owlbench", "strategy_source_sha256", "scenario_source_sha256")


def stale_reason(board_dir: Path, job: Job, current: dict[str, Any]) -> str | None:
    """Why a finished job's numbers may not be those the code present now would give (its recorded
    version or strategy / scenario source differs), ``None`` when they match or nothing was recorded."""
    config = read_config(board_dir, job.id)
    if config is None:
        return None
    recorded = config.get("code")
    if not isinstance(recorded, dict):
        return "it records no code fingerprint (made by an older owlbench)"
    changed = [key.removesuffix("_sha256").replace("_", " ") for key in STALE_KEYS if recorded.get(key) != current.get(key)]
    return f"{', '.join(changed)} changed since it ran" if changed else None


# ---------------------------------------------------------------------------- markers
def is_done(board_dir: Path, job_id: str) -> bool:
    return (board_dir / job_id / DONE_MARKER).is_file()


def is_failed(board_dir: Path, job_id: str) -> bool:
    return (board_dir / job_id / FAILED_FILE).is_file() and not is_done(board_dir, job_id)


def _json_object(path: Path, keys: dict[str, type]) -> str | None:
    """What is wrong with a JSON file that must hold an object with ``keys`` of the given types."""
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return f"{path.name} is missing"
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"{path.name} does not parse ({type(exc).__name__})"
    if not isinstance(value, dict):
        return f"{path.name} holds {type(value).__name__}, not an object"
    for key, kind in keys.items():
        if not isinstance(value.get(key), kind):
            return f"{path.name} has no {kind.__name__} {key!r}"
    return None


def folder_problem(board_dir: Path, job_id: str) -> str | None:
    """What is wrong with a job's folder, ``None`` when it is absent or sound (done, or failed)."""
    folder = board_dir / job_id
    if not folder.exists() and not folder.is_symlink():
        return None
    if folder.is_symlink() or not folder.is_dir():
        return "not a folder"
    if (folder / DONE_MARKER).exists():
        if not (folder / DONE_MARKER).is_file():
            return "its done marker is not a file"
        return _json_object(folder / "metrics.json", {"summary": dict, "steps": list}) or _json_object(folder / "config.json", {})
    if (folder / FAILED_FILE).exists():
        return _json_object(folder / FAILED_FILE, {})
    return "neither a done marker nor failed.json"


def set_aside_damaged(board_dir: Path, jobs: list[Job]) -> list[tuple[Path, Path, str]]:
    """Move every damaged job folder aside intact (``<job-id>.damaged-N``), so the job runs again;
    ``(old path, new path, what was wrong)`` for each."""
    moved = []
    for job in jobs:
        problem = folder_problem(board_dir, job.id)
        if problem:
            folder = job.folder(board_dir)
            moved.append((folder, set_aside(folder), problem))
    return moved


# ---------------------------------------------------------------------------- writing
def _staging(board_dir: Path, job_id: str) -> Path:
    return make_temp_dir(board_dir, f".{job_id}.")


def steps_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    columns = list(rows[0]) if rows else []
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in columns})
    return buffer.getvalue()


def publish_record(job: Job, board_dir: Path, record: dict[str, Any]) -> None:
    """Write the record of a finished job (from :func:`harness.runner.execute`, maybe run elsewhere)
    as its folder: config.json, metrics.json, steps.csv and the ``done`` marker, written into a
    staging folder that is moved into place at the end, so an interrupted job leaves no folder that
    looks finished."""
    staging = _staging(board_dir, job.id)
    try:
        atomic_write_json(staging / "config.json", record["config"])
        atomic_write_json(staging / "metrics.json", {**record["metrics"], "training": record.get("training", []), "cost": record.get("cost", {}), "wall_time_s": record["wall_time_s"]})
        atomic_write_text(staging / "steps.csv", steps_csv(record["metrics"]["steps"]))
        if record.get("predictions"):  # the archive's bytes (harness.predictions)
            atomic_write_bytes(staging / PREDICTIONS_FILE, record["predictions"])
        atomic_write_text(staging / DONE_MARKER, dumps_json({"job_id": job.id, "status": "done"}))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # only the half-written staging folder of this attempt
        raise
    publish_dir(staging, job.folder(board_dir))


def publish_failure(job: Job, board_dir: Path, error: str | None, traceback: str | None) -> None:
    """A folder holding only ``failed.json`` (status, error, traceback); it replaces what was there."""
    staging = _staging(board_dir, job.id)
    atomic_write_json(
        staging / FAILED_FILE,
        finite_json({"job_id": job.id, "title": job.title, "status": "failed", "error": error, "traceback": traceback}),
    )
    publish_dir(staging, job.folder(board_dir))


def remove_stale_staging(board_dir: Path, jobs: list[Job]) -> None:
    """Staging folders (``.<job-id>.*``) left by a sweep that was killed mid-job."""
    if board_dir.is_dir():
        for job in jobs:
            for stale in board_dir.glob(f".{job.id}.*"):
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)


def write_manifest(
    board_dir: Path,
    board: str,
    jobs: list[Job],
    skips: list[dict[str, str]],
    reference: list[dict[str, Any]] = (),
    compare_to: str = "nmc",
    claims: list[dict[str, Any]] = (),
) -> None:
    """``board.json``: the jobs of the board in YAML order, the skipped pairs, the published
    numbers of a paper board and the claims it checks, for the report."""
    atomic_write_json(
        board_dir / MANIFEST,
        {
            "board": board,
            "jobs": [
                {"id": j.id, "scenario": j.scenario.label, "kind": j.scenario.name, "strategy": j.strategy.label, "seed": j.seed}
                for j in jobs
            ],
            "skipped": list(skips),
            "reference": list(reference),
            "compare_to": compare_to,
            "claims": list(claims),
        },
    )


# ---------------------------------------------------------------------------- reading
def read_manifest(board_dir: Path) -> dict[str, Any]:
    return json.loads((board_dir / MANIFEST).read_text(encoding="utf-8"))


def read_config(board_dir: Path, job_id: str) -> dict[str, Any] | None:
    """A job folder's ``config.json`` as a mapping; ``None`` when it is missing or not one."""
    try:
        value = json.loads((board_dir / job_id / "config.json").read_bytes().decode("utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def read_metrics(board_dir: Path, job_id: str) -> dict[str, Any] | None:
    """The metrics of a finished, sound job folder; ``None`` otherwise (see :func:`folder_problem`)."""
    if not is_done(board_dir, job_id) or folder_problem(board_dir, job_id):
        return None
    return json.loads((board_dir / job_id / "metrics.json").read_text(encoding="utf-8"))
