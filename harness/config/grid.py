"""Parameter grids: one scenario or strategy entry that expands into one entry per combination.

Syntax (the values under ``grid`` are always lists of candidate values, so list-typed parameters
such as ``class_order`` are unambiguous: a grid over them is a list of lists)::

    strategies:
      - name: nmc
        metric: cosine            # fixed for every combination
        grid:
          normalize_means: [true, false]
          normalize_features: [true, false]

expands into four entries, in the order of the grid's keys (the last key varies fastest), labelled
``<label>.<key>-<value>`` for each key, e.g. ``nmc.normalize_means-true.normalize_features-false``.
A value that is not a short plain word (a list, a mapping, a string with other characters, a string
that reads as a number or boolean) appears
in the label as ``h`` and 6 hex digits of its hash; a label longer than 64 characters becomes the
entry's label, a dot and 8 hex digits of the combination's hash.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from typing import Any

from harness.api.errors import ConfigError
from harness.config.safe_yaml import shorten

GRID_KEY = "grid"
_WORD = re.compile(r"^[A-Za-z0-9_.-]{1,24}$")
MAX_LABEL = 64
MAX_COMBINATIONS = 10_000  # the default of a board's max_jobs


def _digest(value: Any, n: int) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:n]


def value_token(value: Any) -> str:
    """How a grid value appears in a label."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, (int, float)) or (isinstance(value, str) and not _looks_like_literal(value)):
        text = str(value)
        if _WORD.match(text):
            return text
    return "h" + _digest(value, 6)


def _looks_like_literal(text: str) -> bool:
    """``"1"``, ``"true"``, ``"none"``: a string shown as such would read as another value."""
    if text.lower() in ("true", "false", "none", "null"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def combination_label(label: str, combo: dict[str, Any]) -> str:
    full = ".".join([label, *(f"{k}-{value_token(v)}" for k, v in combo.items())])
    if len(full) <= MAX_LABEL:
        return full
    return f"{label[: MAX_LABEL - 9]}.{_digest(combo, 8)}"


def expand_grid(grid: Any, fixed: dict[str, Any], label: str, path: str, limit: int = MAX_COMBINATIONS) -> list[tuple[dict[str, Any], str]]:
    """``[(values of one combination, its label), ...]``; ``[({}, label)]`` without a grid.  A grid of
    more than ``limit`` combinations is refused before anything is expanded."""
    if grid is None:
        return [({}, label)]
    if not isinstance(grid, dict) or not grid:
        raise ConfigError(path, f"must be a non-empty mapping from parameter names to lists of values; got {shorten(grid)}")
    for key, values in grid.items():
        if not isinstance(key, str):
            raise ConfigError(path, f"parameter names must be strings; got {shorten(key)}")
        if key in fixed:
            raise ConfigError(f"{path}.{key}", "is also set outside the grid; set it in one place")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{path}.{key}", f"must be a non-empty list of values (a list of lists for a list-typed parameter); got {shorten(values)}")
        tokens = [json.dumps(v, sort_keys=True) for v in values]
        if len(set(tokens)) != len(tokens):
            raise ConfigError(f"{path}.{key}", f"lists a value twice; got {shorten(values)}")
    size = math.prod(len(values) for values in grid.values())
    if size > limit:
        raise ConfigError(path, f"expands into {size:,} combinations, more than the limit of {limit:,}; shrink it, or raise the board's max_jobs")
    keys = list(grid)
    combos = [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]
    return [(combo, combination_label(label, combo)) for combo in combos]
