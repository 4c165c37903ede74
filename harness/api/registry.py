"""One generic registry type for every kind of pluggable entry: strategies, scenarios, datasets,
backbones, executors, metrics and open-set scorers.

- Registration: ``@STRATEGIES.register("name")``; a duplicate name is refused, and so is a class that
  is not a subclass of the kind's base (``harness.api.strategy.Strategy`` for strategies, ...).
- Lookup: ``STRATEGIES.get(name)`` answers, in this order, a built-in entry; an installed entry point
  of the kind's group (``owlbench.strategies``, ``owlbench.scenarios``, ``owlbench.datasets``,
  ``owlbench.backbones``, ``owlbench.executors``, ``owlbench.metrics``, ``owlbench.scorers``), loaded only when first asked
  for; or, for a name of the form ``package.module:Class``, that class, imported with
  :func:`importlib.import_module` (a dotted module name, a colon and a class name: no paths, no
  relative imports, no attribute chains). An unknown name is answered with the known names and the
  closest match.
- ``load_builtins`` imports the packages whose modules register the built-in entries, so importing
  ``harness`` alone stays cheap.

Every failure is an :class:`UnknownNameError` or a :class:`PluginError` naming the plugin and what
went wrong; the config turns both into a one-line error.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import importlib.util
import pkgutil
import re
from importlib import metadata
from typing import Callable, Generic, Iterator, TypeVar

from harness.api.errors import PluginError, UnknownNameError

T = TypeVar("T")

NAME_PATTERN = "lowercase letters, digits, '_' and '-', starting with a letter"
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
CLASS_PATH = re.compile(rf"^{_IDENT}(\.{_IDENT})*:{_IDENT}$")


def _valid_name(name: str) -> bool:
    return bool(name) and name[0].isalpha() and all(c.islower() or c.isdigit() or c in "_-" for c in name)


def _import_attribute(text: str) -> object:
    """``package.module:Name`` imported; :class:`PluginError` when it cannot be."""
    if not CLASS_PATH.match(text):
        raise PluginError(f"{text!r} is not of the form package.module:Class")
    module_name, attribute = text.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise PluginError(f"cannot import module {module_name!r} for {text!r}: {exc}") from None
    if not hasattr(module, attribute):
        raise PluginError(f"module {module_name!r} has no attribute {attribute!r}")
    return getattr(module, attribute)


class Registry(Generic[T]):
    """Named entries of one kind.

    ``base`` (``"package.module:Class"``, resolved when first needed, so that the registry module does
    not import the bases) turns on the subclass check at registration, entry points of ``group`` and
    ``package.module:Class`` names; ``check(cls)`` returns a problem with an otherwise valid class
    (``None`` when there is none)."""

    def __init__(self, kind: str, base: str | None = None, group: str | None = None, check: Callable[[type], str | None] | None = None):
        self.kind = kind
        self.base = base
        self.group = group
        self.check = check
        self._entries: dict[str, T] = {}

    # ------------------------------------------------------------------ registration
    def _problem(self, obj: object, where: str) -> str | None:
        if self.base is None:
            return None
        base = _import_attribute(self.base)
        if not (isinstance(obj, type) and issubclass(obj, base)):  # type: ignore[arg-type]
            return f"{where} is {obj!r}, not a subclass of {base.__module__}.{base.__qualname__}"
        problem = self.check(obj) if self.check else None
        return f"{where} {problem}" if problem else None

    def register(self, name: str) -> Callable[[T], T]:
        if not _valid_name(name):
            raise ValueError(f"{self.kind} name {name!r} is invalid: use {NAME_PATTERN}")

        def decorator(obj: T) -> T:
            problem = self._problem(obj, f"{self.kind} {name!r}")
            if problem:
                raise TypeError(problem)
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is already registered by {self._entries[name]!r}")
            self._entries[name] = obj
            try:
                obj.registered_name = name  # type: ignore[attr-defined]
            except (AttributeError, TypeError):
                pass
            return obj

        return decorator

    def unregister(self, name: str) -> None:
        """Remove an entry (a test's temporary registration)."""
        self._entries.pop(name, None)

    # ------------------------------------------------------------------ lookup
    def get(self, name: str) -> T:
        if self.group is not None:
            load_builtins()
        if name in self._entries:
            return self._entries[name]
        if self.base is not None and ":" in name:
            return self._load_class_path(name)
        ep = self._entry_points().get(name) if self.group is not None else None
        if ep is None:
            if self.group is not None:
                self.load_all()  # so that the message lists the installed plugins too
            raise UnknownNameError(self.unknown_message(name)) from None
        return self._load_entry_point(ep)

    def unknown_message(self, name: str) -> str:
        known = sorted(self._entries)
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        tail = "; or give package.module:Class" if self.base is not None else ""
        return f"unknown {self.kind} {name!r}{hint} known: {', '.join(known) or '(none)'}{tail}"

    def _load_class_path(self, text: str) -> T:
        obj = _import_attribute(text)
        problem = self._problem(obj, text)
        if problem:
            raise PluginError(problem)
        return obj  # type: ignore[return-value]

    def _entry_points(self) -> dict[str, metadata.EntryPoint]:
        return {ep.name: ep for ep in metadata.entry_points(group=self.group)} if self.group else {}

    def _load_entry_point(self, ep: metadata.EntryPoint) -> T:
        where = f"entry point {ep.name!r} ({ep.value}) of group {self.group!r}"
        try:
            obj = ep.load()
        except Exception as exc:  # an installed plugin that is broken: say which and why
            raise PluginError(f"{where} failed to load: {exc!r}") from None
        problem = self._problem(obj, where)
        if problem:
            raise PluginError(problem)
        if ep.name in self._entries and self._entries[ep.name] is not obj:
            raise PluginError(f"{where} clashes with the {self.kind} already registered as {ep.name!r}")
        if ep.name not in self._entries:
            self.register(ep.name)(obj)
        return obj

    def load_all(self) -> list[str]:
        """Register every installed entry point of this kind; one message per plugin that failed."""
        load_builtins()
        problems = []
        for ep in self._entry_points().values():
            try:
                self._load_entry_point(ep)
            except PluginError as exc:
                problems.append(str(exc))
        return problems

    # ------------------------------------------------------------------ listing
    def in_order(self) -> list[T]:
        """Every entry in registration order (built-ins first, in their import order)."""
        if self.group is not None:
            load_builtins()
        return list(self._entries.values())

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)


def _strategy_problem(cls: type) -> str | None:
    return None if cls.supports else "declares no supported scenario kinds (set 'supports')"


STRATEGIES: Registry = Registry("strategy", "harness.api.strategy:Strategy", "owlbench.strategies", _strategy_problem)
SCENARIOS: Registry = Registry("scenario", "harness.api.scenario:Scenario", "owlbench.scenarios")
DATASETS: Registry = Registry("dataset", "harness.api.dataset:DatasetSource", "owlbench.datasets")
BACKBONES: Registry = Registry("backbone", "harness.api.backbone:Backbone", "owlbench.backbones")
EXECUTORS: Registry = Registry("executor", "harness.executors.base:Executor", "owlbench.executors")
METRICS: Registry = Registry("metric", "harness.api.metric:Metric", "owlbench.metrics")
SCORERS: Registry = Registry("scorer", "harness.api.scorer:Scorer", "owlbench.scorers")

ALL = {
    "datasets": DATASETS,
    "scenarios": SCENARIOS,
    "strategies": STRATEGIES,
    "backbones": BACKBONES,
    "executors": EXECUTORS,
    "metrics": METRICS,
    "scorers": SCORERS,
}

# packages whose modules register built-in entries; a package that does not exist yet is skipped
_BUILTIN_PACKAGES = ("harness.datasets", "harness.backbones", "harness.executors", "harness.metrics", "harness.scorers", "scenarios", "strategies")
_loaded = False
_loading = False


def _import_package_modules(package_name: str) -> None:
    if importlib.util.find_spec(package_name) is None:
        return
    package = importlib.import_module(package_name)
    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{package_name}.{module.name}")


def load_builtins() -> None:
    """Import every module of the built-in packages so that their decorators register them."""
    global _loaded, _loading
    if _loaded or _loading:  # a built-in module that looks a name up while importing must not recurse
        return
    _loading = True
    try:
        for package_name in _BUILTIN_PACKAGES:
            _import_package_modules(package_name)
        _loaded = True
    finally:
        _loading = False


def load_all_plugins() -> list[str]:
    """Register the installed entry points of every kind; one message per plugin that failed."""
    return [problem for registry in ALL.values() for problem in registry.load_all()]
