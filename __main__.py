"""Pulumi entry point (`pulumi up -s <env>`): the stack config names the environment and the spec."""

from pathlib import Path

from mlstack.program import run

run(Path(__file__).resolve().parent)
