"""The `mlstack` command (typer): `main` is the console entry point."""

from mlstack.cli.main import app, main

__all__ = ["app", "main"]
