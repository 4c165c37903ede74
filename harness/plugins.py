"""Strategies from outside the package: entry points and ``package.module:Class`` names.

Two ways for a third-party strategy to reach a leaderboard, neither needing a change to owlbench:

- an installed distribution declares an entry point in the group ``owlbench.strategies``
  (``knn1 = my_package.knn:OneNearestNeighbour``); the YAML then names it like a built-in
  (``name: knn1``). Entry points are loaded lazily, only when a name is not a built-in, or all at
  once for listing;
- the YAML names the class directly, ``name: my_package.knn:OneNearestNeighbour``. The text must be
  a dotted module name, a colon and a class name (no paths, no relative imports, no attribute
  chains); the module is imported with :func:`importlib.import_module` and the object must be a
  subclass of :class:`harness.strategy.Strategy`.

Every failure is a :class:`harness.errors.UnknownNameError` or :class:`PluginError` with a message
that names the plugin and what went wrong; the config turns both into a one-line error.
"""

from __future__ import annotations

import importlib
import re
from importlib import metadata

from harness.errors import UnknownNameError
from harness.registry import STRATEGIES, load_builtins

GROUP = "owlbench.strategies"
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
CLASS_PATH = re.compile(rf"^{_IDENT}(\.{_IDENT})*:{_IDENT}$")


class PluginError(ValueError):
    """A plugin was found but cannot be used (import failed, not a Strategy, name clash)."""


def _check_strategy(obj: object, where: str) -> type:
    from harness.strategy import Strategy

    if not (isinstance(obj, type) and issubclass(obj, Strategy)):
        raise PluginError(f"{where} is {obj!r}, not a subclass of harness.strategy.Strategy")
    if not obj.supports:
        raise PluginError(f"{where} declares no supported scenario kinds (set 'supports')")
    return obj


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=GROUP)}


def _load_entry_point(ep: metadata.EntryPoint) -> type:
    where = f"entry point {ep.name!r} ({ep.value}) of group {GROUP!r}"
    try:
        obj = ep.load()
    except Exception as exc:  # an installed plugin that is broken: say which and why
        raise PluginError(f"{where} failed to load: {exc!r}") from None
    cls = _check_strategy(obj, where)
    if ep.name in STRATEGIES:
        if STRATEGIES.get(ep.name) is not cls:
            raise PluginError(f"{where} clashes with the strategy already registered as {ep.name!r}")
    else:
        STRATEGIES.register(ep.name)(cls)
    return cls


def load_class_path(text: str) -> type:
    """Import ``package.module:Class`` and check that it is a strategy."""
    if not CLASS_PATH.match(text):
        raise PluginError(f"{text!r} is not of the form package.module:Class")
    module_name, class_name = text.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise PluginError(f"cannot import module {module_name!r} for {text!r}: {exc}") from None
    if not hasattr(module, class_name):
        raise PluginError(f"module {module_name!r} has no attribute {class_name!r}")
    return _check_strategy(getattr(module, class_name), text)


def strategy_class(name: str) -> type:
    """The strategy class for a YAML ``name``: a built-in, an entry point, or ``package.module:Class``."""
    load_builtins()
    if ":" in name:
        return load_class_path(name)
    if name in STRATEGIES:
        return STRATEGIES.get(name)
    ep = _entry_points().get(name)
    if ep is None:
        load_all()  # so that the message lists the installed plugins too
        raise UnknownNameError(STRATEGIES.unknown_message(name) + "; or give package.module:Class")
    return _load_entry_point(ep)


def load_all() -> list[str]:
    """Register every installed entry-point strategy; return one message per plugin that failed."""
    load_builtins()
    problems = []
    for ep in _entry_points().values():
        try:
            _load_entry_point(ep)
        except PluginError as exc:
            problems.append(str(exc))
    return problems


def default_label(name: str, cls: type) -> str:
    """Label of an entry without one: its name, or for ``package.module:Class`` the class name in lower case."""
    return cls.__name__.lower() if ":" in name else name
