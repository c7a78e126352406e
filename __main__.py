"""Pulumi program (`pulumi up -s <env>`): the stack config names the environment and the spec."""

from mlstack.program import run

run()
