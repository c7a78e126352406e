"""The Pulumi program of an mlstack project: stack config -> spec -> platform.

A project's `__main__.py` is three lines:

    \"\"\"Pulumi program: the stack config names the environment and the spec.\"\"\"
    from mlstack.program import run
    run()

Pulumi runs it from the program's own directory; everything is resolved against the
project found from there (the nearest Pulumi.yaml upward), never against where
mlstack is installed. The offline synthesis runs the same file the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pulumi

from mlstack.project import ProjectNotFound, find_project
from mlstack.spec import EnvironmentSpec, SpecError, load_environment
from mlstack.spec.advice import warnings_for
from mlstack.spec.feature_lock import ensure_compatible, read_lock
from mlstack.wiring.platform import Platform, build_platform


def load_checked(path: Path, environment: str) -> EnvironmentSpec:
    """Load one environment and check it against the accepted feature schemas (the lock beside the spec)."""
    env = load_environment(path, environment)
    ensure_compatible(env, read_lock(path))
    return env


def _caller_dir() -> Path:
    """The directory of the program file that called run() (Pulumi's working directory otherwise)."""
    caller = sys._getframe(2).f_globals.get("__file__")
    return Path(caller).resolve().parent if caller else Path.cwd()


def run(project_dir: Path | None = None) -> Platform:
    """Build the platform of the stack being deployed. Bad input is a RunError, never a traceback."""
    try:
        project = find_project(start=project_dir or _caller_dir())
    except (ProjectNotFound, SpecError) as exc:
        raise pulumi.RunError(str(exc)) from None
    config = pulumi.Config("mlstack")
    environment = config.get("environment") or pulumi.get_stack()
    region = pulumi.Config("aws").require("region")
    path = project.resolve(config.get("spec") or project.default_spec)
    try:
        env = load_checked(path, environment)
        for warning in warnings_for(env):
            pulumi.log.warn(warning.render())
        return build_platform(env, region, registry=config.get("registry"))
    except SpecError as exc:
        # A clean message instead of a Python traceback in `pulumi up`.
        raise pulumi.RunError(f"invalid spec for environment '{environment}':\n{exc}") from None
