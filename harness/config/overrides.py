"""``--set key=value``: changes to a board's YAML from the command line, applied before validation,
so an override is typed and checked exactly like the file.

``key`` is a dotted path into the YAML with list indices in brackets: ``seeds``,
``dataset.max_per_class``, ``strategies[0].backbone.epochs``, ``scenarios[1].shots``.  ``value`` is read
as YAML (``3``, ``0.5``, ``true``, ``[0, 1]``, ``{arch: mlp}``, or a string), with the same limits as a
config file.  Missing mappings on the way are created; an entry written as a bare name (``- nmc``)
becomes ``{name: nmc}`` (``{kind: ...}`` for a scenario) when a parameter is set inside it.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import yaml

from harness.config import safe_yaml
from harness.api.errors import ConfigError

_STEP = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_-]*)(?P<index>(\[\d{1,6}\])*)$")


def parse_path(key: str) -> list[str | int]:
    """``strategies[0].backbone.epochs`` -> ``["strategies", 0, "backbone", "epochs"]``."""
    out: list[str | int] = []
    for part in key.split("."):
        match = _STEP.match(part)
        if not match:
            raise ConfigError("--set", f"{safe_yaml.shorten(key)} is not a dotted path such as strategies[0].backbone.epochs")
        out.append(match["key"])
        out += [int(i) for i in re.findall(r"\[(\d+)\]", match["index"])]
    return out


def _as_mapping(node: Any, parent_key: Any) -> Any:
    if isinstance(node, str):
        return {"kind" if parent_key == "scenarios" else "name": node}
    return node


def apply(data: Any, assignment: str) -> Any:
    """A copy of the loaded YAML ``data`` with one ``key=value`` applied."""
    key, sep, text = assignment.partition("=")
    if not sep or not key:
        raise ConfigError("--set", f"expected key=value; got {safe_yaml.shorten(assignment)}")
    path = parse_path(key.strip())
    try:
        value = safe_yaml.load(text)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:  # YAMLLimitError is a ValueError
        raise ConfigError(f"--set {key}", f"value is not valid YAML: {safe_yaml.shorten(str(exc))}") from None
    root = copy.deepcopy(data) if isinstance(data, dict) else {}
    node: Any = root
    parent_key: Any = None
    for i, step in enumerate(path[:-1]):
        nxt = path[i + 1]
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                raise ConfigError(f"--set {key}", f"there is no entry [{step}] at {'.'.join(map(str, path[:i])) or 'the top'}")
            node[step] = _as_mapping(node[step], parent_key) if isinstance(nxt, str) else node[step]
            node, parent_key = node[step], step
            continue
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}", f"{step!r} is set inside something that is not a mapping")
        if step not in node or node[step] is None:
            node[step] = [] if isinstance(nxt, int) else {}
        node[step] = _as_mapping(node[step], step) if isinstance(nxt, str) else node[step]
        node, parent_key = node[step], step
    last = path[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise ConfigError(f"--set {key}", f"there is no entry [{last}] to set")
        node[last] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ConfigError(f"--set {key}", f"{last!r} is set inside something that is not a mapping")
    return root


def apply_all(data: Any, assignments: list[str] | None) -> Any:
    for assignment in assignments or ():
        data = apply(data, assignment)
    return data
