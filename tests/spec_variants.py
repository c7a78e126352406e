"""Spec variants for error tests: edit a spec's text, write it, collect the rendered problems."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlstack.spec import SpecError, load_all, load_environment
from tests.conftest import FIXTURES

MINIMAL = (FIXTURES / "minimal.yaml").read_text()


def variant(tmp_path: Path, *edits: tuple[str, str], base: str = MINIMAL, lock: Path | None = None) -> tuple[Path, str]:
    """`base` with each (old, new) replaced once, written as tmp_path/mlstack.yaml (and `lock` beside it)."""
    text = base
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "mlstack.yaml"
    path.write_text(text)
    if lock is not None:
        shutil.copyfile(lock, tmp_path / "mlstack.lock.json")
    return path, text


def problems(path: Path, environment: str | None = None) -> list[str]:
    """The rendered problem lines of loading `path` (one environment, or all), file shown as mlstack.yaml."""
    with pytest.raises(SpecError) as caught:
        if environment:
            load_environment(path, environment)
        else:
            load_all(path)
    return [p.render().replace(str(path), "mlstack.yaml") for p in caught.value.problems]
