"""The leaderboard YAML: parsing and typed validation with one clear error per bad field.

Shape::

    name: quickstart             # folder name under the output folder
    dataset: digits              # or {name: digits, test_fraction: 0.3, ...}
    scenarios:                   # each: kind, optional label, then the kind's parameters
      - {kind: cil, base_classes: 4, increment: 2}
    strategies:                  # each: name, optional label, then the strategy's parameters
      - {name: nmc, metric: euclidean}
    seeds: [0, 1, 2]
    device: auto                 # auto | cpu | cuda | cuda:N
    output: results
    backbone: minilm             # optional frozen backbone: a name or {name: ..., params}
    executor: local              # or {name: process, workers: 2}, {name: ray, address: ..., cpus_per_job: 1}

A scenario or strategy entry may hold ``grid:``, a mapping from parameter names to lists of values:
the entry expands into one entry per combination (see :mod:`harness.config.grid`).

Every problem is reported as :class:`harness.api.errors.ConfigError` whose path names the field in the
YAML, e.g. ``scenarios[1].shots``.  Validation needs the dataset (for checks such as "more shots than
a class has samples"), so it loads it; nothing is written.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from harness.config import safe_yaml
from harness.config.safe_yaml import shorten
from harness.api.errors import ConfigError, UnknownNameError
from harness.jobs import Entry
from harness.config.grid import GRID_KEY, MAX_COMBINATIONS, expand_grid
from harness.config.claims import parse_claims
from harness.config.reference import parse_reference
from harness.api.registry import BACKBONES, DATASETS, EXECUTORS, SCENARIOS, STRATEGIES, load_builtins
from harness.config.open_set import check_far, parse_far, parse_scorers

SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SLUG_HINT = "letters, digits, '_', '.', '-' (at most 64, starting with a letter or digit)"
DEVICE = re.compile(r"^(auto|cpu|cuda|cuda:\d{1,3})$")
MAX_SEED = 2**32 - 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BoardModel(_Strict):
    """Top level of a leaderboard YAML; entries of ``scenarios``/``strategies`` are checked afterwards
    against the parameters their kind or name declares."""

    name: str = Field(..., description="board name, also its results folder")
    dataset: str | dict[str, Any] = Field(..., description="dataset name, or a mapping with 'name' and its parameters")
    scenarios: list[Any] = Field(..., min_length=1)
    strategies: list[Any] = Field(..., min_length=1)
    seeds: list[StrictInt] = Field([0], min_length=1, description=f"job seeds, 0 .. {MAX_SEED}")
    device: str = "auto"
    output: str = "results"
    backbone: str | dict[str, Any] | None = Field(None, description="frozen backbone: a name, or a mapping with 'name' and its parameters")
    executor: str | dict[str, Any] = Field("local", description="executor name, or a mapping with 'name' and its parameters")
    max_jobs: StrictInt = Field(MAX_COMBINATIONS, ge=1, description="refuse a board (or one grid) of more jobs than this")
    reference: dict[str, Any] | None = Field(None, description="published numbers the board reproduces (see harness.config.reference)")
    compare_to: str = Field("nmc", description="strategy label every other strategy is compared with in comparisons.csv")
    claims: list[Any] | None = Field(None, description="papers' claims checked on this board (see harness.config.claims)")
    open_set: dict[str, Any] | None = Field(None, description="open-set evaluation options: {scorers: [msp, energy, ...]} (see harness.scorers)")
    archive_top_k: StrictInt = Field(
        5, ge=0, le=1000, description="class ids and logits kept per test sample and step in each job's predictions.npz (0: no archive)"
    )
    predictions: Literal["auto", "dense", "summary"] = Field(
        "auto",
        description="dense: strategies give every logit; summary: those that can give the top classes and the reductions the "
        "metrics and scorers read (same numbers, no N x C matrix); auto: summary once a step's dense logits would pass 256 MiB",
    )
    threads: Literal["auto"] | Annotated[int, Field(ge=1, le=1024)] = Field(
        "auto", description="torch threads of each job: auto (chosen from the work's size and the executor) or a number"
    )

    @field_validator("name", "device")
    @classmethod
    def _pattern(cls, value: str, info) -> str:
        pattern, hint = (SLUG, SLUG_HINT) if info.field_name == "name" else (DEVICE, "auto, cpu, cuda or cuda:N")
        if not pattern.match(value):
            raise ValueError(f"must be {hint}; got {shorten(value)}")
        return value

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: list[int]) -> list[int]:
        if any(s < 0 for s in value):
            raise ValueError(f"seeds must be >= 0; got {shorten(value)}")
        if any(s > MAX_SEED for s in value):
            raise ValueError(f"seeds must be at most {MAX_SEED} (2^32 - 1); got {shorten(max(value))}")
        if len(set(value)) != len(value):
            raise ValueError(f"seeds must be distinct; got {shorten(value)}")
        return value


@dataclass(frozen=True)
class BoardConfig:
    name: str
    dataset: Entry
    scenarios: tuple[Entry, ...]
    strategies: tuple[Entry, ...]
    seeds: tuple[int, ...]
    device: str
    output: Path
    source: Path | None = None
    backbone: Entry | None = None
    executor: Entry | None = None  # None means the in-process 'local' executor
    reference: tuple[dict[str, Any], ...] = ()
    compare_to: str = "nmc"
    claims: tuple[dict[str, Any], ...] = ()
    archive_top_k: int = 5
    predictions: str = "auto"
    threads: int | str = "auto"
    scorers: tuple[Entry, ...] = ()
    far: Entry | None = None  # a dataset whose test samples are unknown at every step (far unknowns)

    @property
    def board_dir(self) -> Path:
        return self.output / self.name


# ---------------------------------------------------------------------------- error formatting
def _path(loc: tuple[Any, ...], prefix: str = "") -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the field at ``loc`` (used to list valid keys)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return None
        annotation = current.model_fields[part].annotation
        candidates = [a for a in typing.get_args(annotation) or (annotation,)]
        nested = [a for a in candidates if isinstance(a, type) and issubclass(a, BaseModel)]
        current = nested[0] if nested else annotation
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _first_error(err: ValidationError, model: type[BaseModel], prefix: str, skip_keys: tuple[str, ...] = ()) -> ConfigError:
    errors = err.errors()
    first = errors[0]
    loc = tuple(first["loc"])
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    if first["type"] == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        keys = sorted(set(owner.model_fields) | set(skip_keys)) if owner else []
        return ConfigError(_path(loc, prefix), f"unknown key; valid keys: {', '.join(keys)}{more}")
    if first["type"] == "missing":
        return ConfigError(_path(loc, prefix), f"required field is missing{more}")
    message = first["msg"].removeprefix("Value error, ")
    got = first.get("input")
    shown = "" if isinstance(got, (dict, list)) or "got " in message else f"; got {shorten(got)}"
    return ConfigError(_path(loc, prefix), f"{message}{shown}{more}")


# ---------------------------------------------------------------------------- entries
def _parse_entry(raw: Any, path: str, key: str, registry, reserved: tuple[str, ...] = ("label",), lookup=None) -> Entry:
    return _parse_entries(raw, path, key, registry, reserved, lookup)[0]


def _parse_entries(raw: Any, path: str, key: str, registry, reserved: tuple[str, ...] = ("label",), lookup=None, limit: int = MAX_COMBINATIONS) -> list[Entry]:
    """One entry, or one per combination of its ``grid`` when ``grid`` is among ``reserved``.

    ``lookup(name) -> class`` resolves the name (default ``registry.get``).  The label defaults to
    the name, or for a ``package.module:Class`` name to the class name in lower case."""
    if isinstance(raw, str):
        raw = {key: raw}
    if not isinstance(raw, dict):
        raise ConfigError(path, f"must be a mapping with '{key}' and parameters; got {type(raw).__name__}")
    if key not in raw:
        raise ConfigError(f"{path}.{key}", f"required field is missing; known: {', '.join(registry.names())}")
    name = raw[key]
    if not isinstance(name, str):
        raise ConfigError(f"{path}.{key}", f"must be a string; got {shorten(name)}")
    try:
        cls = (lookup or registry.get)(name)
    except (UnknownNameError, ValueError) as exc:
        raise ConfigError(f"{path}.{key}", str(exc)) from None
    label = raw.get("label", cls.__name__.lower() if ":" in name else name)
    if not isinstance(label, str) or not SLUG.match(label):
        raise ConfigError(f"{path}.label", f"must be {SLUG_HINT}; got {shorten(label)}")
    values = {k: v for k, v in raw.items() if k not in (key, *reserved)}
    combos = expand_grid(raw.get(GRID_KEY), values, label, f"{path}.{GRID_KEY}", limit) if GRID_KEY in reserved else [({}, label)]
    entries = []
    for combo, combo_label in combos:
        try:
            params = cls.Params.model_validate({**values, **combo})
        except ValidationError as err:
            field = err.errors()[0]["loc"][:1]
            where = f"{path}.{GRID_KEY}" if field and field[0] in combo else path
            raise _first_error(err, cls.Params, where, skip_keys=(key, *reserved)) from None
        entries.append(Entry(name=name, label=combo_label, params=params, path=path))
    return entries


def _check_unique_labels(entries: list[Entry], what: str) -> None:
    seen: dict[str, str] = {}
    for e in entries:
        if e.label in seen:
            raise ConfigError(f"{e.path}.label", f"{what} label {e.label!r} is used twice (also {seen[e.label]}); give each a distinct label")
        seen[e.label] = e.path


def _check_device(name: str) -> None:
    """A CUDA device must exist on this machine (checked before anything runs)."""
    if not name.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        raise ConfigError("device", f"{name!r} was asked for but this machine has no CUDA device; use device: auto or cpu")
    index = int(name.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise ConfigError("device", f"{name!r} does not exist: this machine has {torch.cuda.device_count()} CUDA device(s)")


# ---------------------------------------------------------------------------- loading
def read_yaml(path: Path) -> Any:
    """The config file's YAML, read with the limits of :mod:`harness.config.safe_yaml`."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("", f"config file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise ConfigError("", f"config file {str(path)!r} is a folder; name a YAML file") from None
    except OSError as exc:
        raise ConfigError("", f"cannot read config file {str(path)!r}: {exc.strerror}") from None
    try:
        return safe_yaml.load(safe_yaml.decode(blob, "the config file"))
    except safe_yaml.YAMLLimitError as exc:
        raise ConfigError("", str(exc)) from None
    except RecursionError:
        raise ConfigError("", "the YAML is nested too deeply; flatten it") from None
    except (ValueError, OverflowError) as exc:  # a scalar PyYAML cannot convert (an integer of 5,000 digits, ...)
        raise ConfigError("", f"a value cannot be read: {shorten(str(exc))}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError("", f"YAML syntax error{where}: {problem}") from None


def executor_entry(executor: Any, override: dict[str, Any] | None = None) -> dict[str, Any]:
    """A board's ``executor`` value as a mapping with ``name``, after the command line's
    ``override``: that replaces it, or, naming the same executor, overrides only its parameters."""
    current = {"name": executor} if isinstance(executor, str) else dict(executor) if isinstance(executor, dict) else {}
    if override is None:
        return current
    return {**current, **override} if current.get("name") == override.get("name") else dict(override)


def parse_config(
    data: Any, source: Path | None = None, output: Path | None = None, executor: dict[str, Any] | None = None
) -> BoardConfig:
    """Validate a loaded YAML mapping into a :class:`BoardConfig`; raise :class:`ConfigError` on the first problem.

    ``executor`` (from the command line) replaces the YAML's executor; when it names the same
    executor, the YAML's parameters are kept and the given ones override them."""
    load_builtins()
    if not isinstance(data, dict):
        raise ConfigError("", f"the config must be a mapping with keys {', '.join(BoardModel.model_fields)}; got {type(data).__name__}")
    if executor is not None:
        data = {**data, "executor": executor_entry(data.get("executor", "local"), executor)}
    try:
        board = BoardModel.model_validate(data)
    except ValidationError as err:
        raise _first_error(err, BoardModel, "") from None
    dataset = _parse_entry(board.dataset, "dataset", "name", DATASETS, reserved=())
    backbone = None if board.backbone is None else _parse_entry(board.backbone, "backbone", "name", BACKBONES, reserved=())
    executor = _parse_entry(board.executor, "executor", "name", EXECUTORS, reserved=())
    entry_keys = ("label", GRID_KEY)
    scenarios = [e for i, s in enumerate(board.scenarios) for e in _parse_entries(s, f"scenarios[{i}]", "kind", SCENARIOS, entry_keys, limit=board.max_jobs)]
    strategies = [
        e
        for i, s in enumerate(board.strategies)
        for e in _parse_entries(s, f"strategies[{i}]", "name", STRATEGIES, entry_keys, lookup=STRATEGIES.get, limit=board.max_jobs)
    ]
    jobs = len(scenarios) * len(strategies) * len(board.seeds)
    if jobs > board.max_jobs:
        raise ConfigError("max_jobs", f"the board has {jobs:,} jobs (scenarios × strategies × seeds), more than max_jobs = {board.max_jobs:,}; set max_jobs to run it")
    _check_device(board.device)
    _check_unique_labels(scenarios, "scenario")
    _check_unique_labels(strategies, "strategy")
    # a pair a strategy does not support is skipped by the sweep (and listed); a strategy that
    # supports none of the board's scenarios is surely a mistake and is refused
    kinds = {s.name for s in scenarios}
    for strategy in strategies:
        cls = STRATEGIES.get(strategy.name)
        if all(cls.unsupported_reason(kind) for kind in kinds):
            supported = cls.supports
            raise ConfigError(
                f"{strategy.path}.name",
                f"strategy {strategy.name!r} supports none of this board's scenario kinds ({', '.join(sorted(kinds))}); "
                f"it supports: {', '.join(sorted(supported))}",
            )
    config = BoardConfig(
        name=board.name,
        dataset=dataset,
        scenarios=tuple(scenarios),
        strategies=tuple(strategies),
        seeds=tuple(board.seeds),
        device=board.device,
        output=Path(output) if output is not None else Path(board.output),
        source=source,
        backbone=backbone,
        executor=executor,
        compare_to=board.compare_to,
        reference=tuple(parse_reference(board.reference, {s.label for s in scenarios}, {s.label for s in strategies}, _first_error)),
        claims=tuple(parse_claims(board.claims, {s.label for s in scenarios}, {s.label for s in strategies}, _first_error)),
        archive_top_k=board.archive_top_k,
        predictions=board.predictions,
        threads=board.threads,
        scorers=tuple(parse_scorers(board.open_set, _parse_entry)),
        far=parse_far(board.open_set, _parse_entry),
    )
    _check_against_data(config)
    _check_predictions(config)
    return config


def _check_predictions(config: BoardConfig) -> None:
    """``predictions: summary`` only where no metric or scorer reads every logit."""
    from harness.api.registry import METRICS, SCORERS

    if config.predictions != "summary":
        return
    readers = [f"metric {m.registered_name!r}" for m in METRICS.in_order() if m.needs_logits]
    readers += [f"scorer {s.name!r}" for s in config.scorers if SCORERS.get(s.name).needs_logits]
    if readers:
        raise ConfigError("predictions", f"summary cannot serve {', '.join(readers)}, which read(s) every logit; use predictions: dense or auto")


def _check_against_data(config: BoardConfig) -> None:
    from harness.datasets.loading import load_dataset

    try:
        data = load_dataset(config.dataset.name, config.dataset.params)
    except Exception as exc:  # a dataset that cannot be loaded is a config problem the user must fix
        raise ConfigError("dataset", f"cannot load {config.dataset.name!r}: {exc}") from None
    from harness.backbones.inputs import check_backbone

    needs_features = any(
        not STRATEGIES.get(s.name).encodes_own_inputs(s.params) for s in config.strategies
    )
    check_backbone(config.backbone, data, needs_features)
    if config.far is not None:
        check_far(config, data)
    if config.backbone is not None and needs_features:
        from harness.backbones.feature_cache import FeatureCache

        root = FeatureCache().root
        if root.exists() and not root.is_dir():
            raise ConfigError("backbone", f"the feature cache folder {str(root)!r} is a file; remove it or set $OWLBENCH_CACHE_DIR to a folder")
    input_shape = (-1,) if config.backbone is not None else tuple(getattr(data.train_x, "shape", (None, -1))[1:])
    for s in config.strategies:
        cls = STRATEGIES.get(s.name)
        problem = None if cls.encodes_own_inputs(s.params) else cls.input_problem(s.params, input_shape)
        if problem:
            raise ConfigError(f"{s.path}.{problem[0]}", problem[1])
    for scenario in config.scenarios:
        try:
            SCENARIOS.get(scenario.name)().check(scenario.params, data)
        except ConfigError as exc:
            raise ConfigError(f"{scenario.path}.{exc.path}" if exc.path else scenario.path, exc.message) from None


def load_config(
    path: str | Path, output: str | Path | None = None, executor: dict[str, Any] | None = None, overrides: list[str] | None = None
) -> BoardConfig:
    """Read, override (``--set key=value``, see :mod:`harness.config.overrides`) and validate a board."""
    from harness.config.overrides import apply_all

    path = Path(path)
    data = apply_all(read_yaml(path), overrides)
    return parse_config(data, source=path, output=Path(output) if output is not None else None, executor=executor)
