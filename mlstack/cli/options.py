"""Options every command shares, and the one way a command finds its project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlstack.project import Project, Stack, find_project

ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project",
        help="Project directory (with Pulumi.yaml); default: the nearest Pulumi.yaml upward from here.",
        file_okay=False,
        show_default=False,
    ),
]
SpecOption = Annotated[
    Path | None,
    typer.Option("--spec", help="Spec file to use instead of the one the stack config names.", dir_okay=False),
]
SnapshotOption = Annotated[
    Path | None,
    typer.Option(
        "--registry-snapshot",
        help="Model registry snapshot (JSON) to resolve versions from; default: the offline stand-in.",
        dir_okay=False,
    ),
]


def project_for(option: Path | None) -> Project:
    """--project DIR, else discovery from the current directory. Raises ProjectNotFound."""
    return find_project(explicit=option)


def stack_spec(stack: Stack, spec: Path | None) -> Path:
    """The spec a command reads for a stack: --spec, else the one the stack config names."""
    return spec or stack.spec_path
