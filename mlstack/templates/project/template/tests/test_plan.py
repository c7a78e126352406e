"""Every stack of this project plans offline and passes the governance pack (mlstack.testing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlstack.testing import check_stack, plan_stack, project_at

PROJECT = project_at(Path(__file__).resolve().parent.parent)
STACKS = PROJECT.stack_names()


@pytest.mark.parametrize("stack", STACKS)
def test_stack_plans_offline(stack: str) -> None:
    plan = plan_stack(PROJECT, stack)
    assert plan.resources, f"stack {stack} creates nothing"
    assert all(r.urn.split("::")[1] == PROJECT.name for r in plan.resources)


@pytest.mark.parametrize("stack", STACKS)
def test_stack_passes_governance(stack: str) -> None:
    result = check_stack(PROJECT, stack)
    assert not result.failed, result.summary()
