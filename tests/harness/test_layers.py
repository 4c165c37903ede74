"""The house plan, checked from the source: few root modules, small modules, and imports that only
go from a higher layer to a lower one (docs/architecture.md)."""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "harness"
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            out.add(base)
            out |= {f"{base}.{alias.name}" for alias in node.names if base in ("harness", "scenarios", "strategies")}
    return out


def _modules(folder: Path):
    return sorted(p for p in folder.rglob("*.py"))


def _first_party(name: str) -> bool:
    return name.split(".")[0] in ("harness", "scenarios", "strategies")


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


# room -> the first-party modules and third-party packages it may import
ALLOWED = {
    "harness.api": (("harness.api",), {"torch", "numpy", "pydantic"}),
    "harness.store": (("harness.store", "harness.io", "harness.devices", "harness.api.summary"), {"torch", "numpy", "safetensors", "triton"}),
    "harness.io": ((), set()),
    "harness.devices": ((), {"torch", "threadpoolctl"}),  # threadpoolctl imported only inside blas_threads
    "harness.jobs": (("harness.api", "harness.io"), set()),
    "harness.metrics": (("harness.api", "harness.metrics"), {"torch", "numpy", "scipy"}),
}


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_rooms_import_only_what_they_may(room):
    first, third = ALLOWED[room]
    folder = HARNESS / room.removeprefix("harness.").replace(".", "/")
    files = _modules(folder) if folder.is_dir() else [folder.with_suffix(".py")]
    bad = []
    for path in files:
        for name in _imports(path):
            top = name.split(".")[0]
            # "harness" itself (its __init__ holds only the version) may be imported from anywhere
            ok = (name in ("harness", "harness.__version__") or _within(name, first)) if _first_party(name) else (top in STDLIB or top in third)
            if not ok:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


FORBIDDEN = {
    "harness/runner.py": ("harness.sweep", "harness.executors", "harness.report", "harness.cli", "harness.config"),
    "harness/report": ("harness.runner", "harness.sweep", "harness.executors", "harness.config", "harness.cli", "strategies", "scenarios"),
    "strategies": ("harness.metrics", "harness.runner", "harness.sweep", "harness.report", "harness.jobs", "harness.executors", "harness.config", "harness.cli", "scenarios"),
    "scenarios": ("harness.metrics", "harness.runner", "harness.sweep", "harness.report", "harness.jobs", "harness.executors", "harness.cli", "strategies"),
    "harness/components": ("harness.runner", "harness.sweep", "harness.report", "harness.metrics", "harness.jobs", "harness.executors", "harness.config", "harness.cli"),
    "harness/backbones": ("harness.runner", "harness.sweep", "harness.report", "harness.metrics", "harness.executors", "harness.config", "harness.cli"),
    "harness/datasets": ("harness.runner", "harness.sweep", "harness.report", "harness.metrics", "harness.executors", "harness.config", "harness.cli", "harness.backbones"),
    "harness/training": ("harness.runner", "harness.sweep", "harness.report", "harness.metrics", "harness.executors", "harness.config", "harness.cli", "harness.components"),
}


@pytest.mark.parametrize("where", sorted(FORBIDDEN))
def test_no_import_from_a_lower_layer_to_a_higher_one(where):
    target = ROOT / where
    files = [target] if target.suffix == ".py" else _modules(target)
    bad = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in _imports(path)
        if _within(name, FORBIDDEN[where])
    ]
    assert not bad, "\n".join(bad)


def test_nothing_imports_the_command_line():
    users = [
        str(p.relative_to(ROOT))
        for folder in ("harness", "strategies", "scenarios")
        for p in _modules(ROOT / folder)
        if p != HARNESS / "cli.py" and any(_within(n, ("harness.cli",)) for n in _imports(p))
    ]
    assert users == []


def test_few_modules_at_the_root_and_none_too_long():
    root_modules = sorted(p.name for p in HARNESS.glob("*.py"))
    assert len(root_modules) <= 10, root_modules
    long = [
        f"{p.relative_to(ROOT)}: {n} lines"
        for folder in ("harness", "strategies", "scenarios")
        for p in _modules(ROOT / folder)
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400
    ]
    assert not long, "\n".join(long)
