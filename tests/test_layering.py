"""The house rules of imports (DESIGN §3), checked on the source: layers import downward only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

SHARED = ("components", "pipelines", "policies")
# mlstack/ layers, top to bottom; a module may import its own layer and those below it.
LAYERS = (
    ("cli",),
    ("testing", "scaffold"),
    ("plan",),
    ("program",),
    ("wiring", "registry"),
    ("project",),
    ("spec",),
)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(level, module) of every import: level 0 is absolute."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend((0, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or ""))
    return found


@pytest.mark.parametrize("package", SHARED)
def test_shared_packages_import_neither_mlstack_nor_each_other(package: str) -> None:
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        depth = len(path.relative_to(ROOT / package).parts) - 1  # how far up a relative import may go
        for level, module in _imports(path):
            top = module.split(".")[0]
            if (level == 0 and top in ("mlstack", *SHARED)) or level > depth + 1:
                offenders.append(f"{path.relative_to(ROOT)}: {'.' * level}{module}")
    assert offenders == []


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "mlstack" or len(parts) < 2:
        return None
    return next((index for index, names in enumerate(LAYERS) if parts[1] in names), None)


def test_mlstack_layers_import_downward_only() -> None:
    offenders = []
    for path in sorted((ROOT / "mlstack").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        own = _layer(module)
        if own is None:
            continue
        for level, imported in _imports(path):
            target = _layer(imported) if level == 0 else own
            if target is not None and target < own:
                offenders.append(f"{module} imports {imported}")
    assert offenders == []


def test_the_spec_imports_nothing_of_ours() -> None:
    for path in sorted((ROOT / "mlstack" / "spec").rglob("*.py")):
        for level, module in _imports(path):
            assert level or not module.startswith("mlstack.") or module.startswith("mlstack.spec"), (path, module)
