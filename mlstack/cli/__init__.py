"""The `mlstack` command (typer): `main` is the console entry point."""

from __future__ import annotations

import gc
from typing import Any


def main() -> None:
    """Run one `mlstack` command, with cyclic garbage collection off for its length.

    A command builds one large object graph (a plan holds every resource's outputs and
    futures) and exits: each collection walks all of it and frees next to nothing. Off,
    `plan prod` takes a fifth less CPU and an extra resource half the time
    (bench/README.md). The previous state is restored on return, for callers that run
    commands in-process (the tests); `plan --watch` collects between plans.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        from mlstack.cli.commands import main as run_command

        run_command()
    finally:
        if enabled:
            gc.enable()


def __getattr__(name: str) -> Any:
    # The typer app imports the CLI's modules: only on demand, so `main` runs first.
    if name == "app":
        from mlstack.cli.commands import app

        return app
    raise AttributeError(name)


__all__ = ["app", "main"]
