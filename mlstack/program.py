"""The Pulumi program body: stack config -> spec -> platform.

`__main__.py` calls `run()`. Kept here so the program can be imported and run
under mocks by the offline synthesis exactly as `pulumi up` runs it.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from mlstack.feature_lock import ensure_compatible, read_lock
from mlstack.platform import Platform, build_platform
from mlstack.spec import EnvironmentSpec, SpecError, load_environment

PROJECT_DIR = Path(__file__).resolve().parent.parent


def spec_path(configured: str | None, project_dir: Path = PROJECT_DIR) -> Path:
    path = Path(configured or "mlstack.yaml")
    return path if path.is_absolute() else project_dir / path


def load_checked(path: Path, environment: str) -> EnvironmentSpec:
    """Load one environment and check it against the accepted feature schemas (mlstack.lock.json)."""
    env = load_environment(path, environment)
    ensure_compatible(env, read_lock(path))
    return env


def run(project_dir: Path = PROJECT_DIR) -> Platform:
    config = pulumi.Config("mlstack")
    environment = config.require("environment")
    region = pulumi.Config("aws").require("region")
    path = spec_path(config.get("spec"), project_dir)
    try:
        env = load_checked(path, environment)
        return build_platform(env, region, registry=config.get("registry"))
    except SpecError as exc:
        # A clean message instead of a Python traceback in `pulumi up`.
        raise pulumi.RunError(f"invalid spec for environment '{environment}':\n{exc}") from None
