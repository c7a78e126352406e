"""Test helpers for ML projects that use mlstack: plan and check their stacks offline.

A project's `tests/test_plan.py` (as `mlstack init` writes it):

    PROJECT = project_at(Path(__file__).resolve().parent.parent)

    @pytest.mark.parametrize("stack", PROJECT.stack_names())
    def test_stack_passes_governance(stack):
        result = check_stack(PROJECT, stack)
        assert not result.failed, result.summary()

Everything runs offline (Pulumi's mocks, the registry stand-in): no AWS, no Pulumi CLI.
"""

from __future__ import annotations

from pathlib import Path

from mlstack.plan.check import CheckResult, check_plan
from mlstack.plan.synth import Plan, synthesize
from mlstack.project import Project, find_project


def project_at(directory: Path) -> Project:
    """The project whose Pulumi.yaml is in `directory` (no upward search: tests name their project)."""
    return find_project(explicit=directory)


def plan_stack(
    project: Project, stack: str, *, spec: Path | None = None, registry_snapshot: Path | None = None
) -> Plan:
    """The offline plan of one stack, as `mlstack plan` makes it."""
    return synthesize(stack, spec=spec, project=project, registry_snapshot=registry_snapshot)


def check_stack(project: Project, stack: str, *, policy_config: Path | None = None) -> CheckResult:
    """The governance pack over a stack's offline plan, as `mlstack check` runs it."""
    return check_plan(plan_stack(project, stack), policy_config)


__all__ = ["CheckResult", "Plan", "Project", "check_stack", "plan_stack", "project_at"]
