"""Compiled bytecode wherever mlstack is installed: machines and CI images that set
PYTHONDONTWRITEBYTECODE=1 read .pyc but never write it, so an uncompiled install recompiles
thousands of modules on every command (`mlstack plan prod`: 5.0 s instead of 2.1 s)."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

# The packages an offline plan spends its imports on.
HEAVY = (
    "pulumi",
    "pulumi_aws.sagemaker",
    "pulumi_kubernetes.core.v1",
    "sagemaker.core",
    "botocore.client",
    "pydantic.main",
)


@pytest.mark.parametrize("module", HEAVY)
def test_the_installed_packages_have_bytecode(module: str) -> None:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    cached = Path(importlib.util.cache_from_source(spec.origin))
    assert cached.is_file(), f"{module} is not compiled ({cached} missing): install with `uv sync` (compile-bytecode)"


def test_every_uv_sync_compiles() -> None:
    """The Makefile's, CI's and `pulumi up`'s `uv sync` read [tool.uv]; so do projects `mlstack init` writes."""
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["compile-bytecode"] is True
    template = (ROOT / "mlstack" / "templates" / "project" / "template" / "pyproject.toml.jinja").read_text()
    assert "compile-bytecode = true" in template
    assert "toolchain: uv" in (ROOT / "Pulumi.yaml").read_text()


def test_make_compiles_mlstack_s_own_code_before_running_it() -> None:
    """An editable install is not compiled by uv: the Makefile's targets do it first."""
    makefile = (ROOT / "Makefile").read_text()
    assert "-m compileall" in makefile
    for target in ("plan", "validate", "test", "bench"):
        line = next(line for line in makefile.splitlines() if line.startswith(f"{target}:"))
        assert "bytecode" in line, target
