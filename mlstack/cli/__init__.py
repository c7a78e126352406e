"""The `mlstack` command: `main` is the console entry point; the typer app is in `commands`."""

from __future__ import annotations

from mlstack.collection import collection_paused


def main() -> None:
    """Run one `mlstack` command, with cyclic garbage collection off for its length.

    A command builds one large object graph (a plan holds every resource's outputs and
    futures) and exits: each collection walks all of it and frees next to nothing. Off,
    `plan prod` takes a fifth less CPU and an extra resource half the time
    (bench/README.md). The previous state is restored on return, for callers that run
    commands in-process (the tests); `plan --watch` collects between plans.
    """
    with collection_paused():
        from mlstack.cli.commands import main as run_command

        run_command()


__all__ = ["main"]
