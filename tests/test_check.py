"""`mlstack check`: the governance pack over the offline plan, as a PR runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mlstack.plan.check import check_plan
from mlstack.plan.synth import synthesize
from tests.conftest import FIXTURES, ROOT

BAD = FIXTURES / "bad-governance.yaml"
EXPECTED_BAD_PROD = {
    "stateful-resources-protected",
    "pipeline-registers-for-approval",
    "sagemaker-allowed-instance-types",
}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlstack", "check", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_example_passes_every_mandatory_rule(plans, environment: str) -> None:
    result = check_plan(plans(environment))
    assert [(v.policy, v.urn, v.message) for v in result.report.mandatory] == []
    assert not result.failed
    assert result.report.not_evaluated == []


def test_bad_fixture_fails_in_prod_with_the_expected_rules() -> None:
    result = check_plan(synthesize("prod", spec=BAD))
    assert result.failed
    assert {v.policy for v in result.report.mandatory} == EXPECTED_BAD_PROD


def test_cli_exits_0_with_a_summary_on_the_example() -> None:
    run = _cli("prod")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASSED prod (tier prod, prod.json)" in " ".join(run.stdout.split())


def test_cli_exits_1_and_names_the_rules_on_the_bad_fixture() -> None:
    run = _cli("prod", "--spec", str(BAD), "--json")
    assert run.returncode == 1
    body = json.loads(run.stdout)
    assert body["passed"] is False
    assert {v["policy"] for v in body["violations"] if v["level"] == "mandatory"} == EXPECTED_BAD_PROD
    assert all(v["fix"] for v in body["violations"])


def test_the_report_wraps_at_80_columns_and_truncates_nothing() -> None:
    """CI logs are 80 columns wide: every violation and fix must be readable there, in full."""
    from io import StringIO

    from rich.console import Console

    from mlstack.plan.render import check_view

    result = check_plan(synthesize("prod", spec=BAD))
    console = Console(file=StringIO(), width=80, color_system=None)
    console.print(check_view(result))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    flat = " ".join(text.split())
    for violation in result.report.violations:
        assert " ".join(violation.message.split()) in flat
        assert " ".join(f"fix: {violation.fix}".split()) in flat


def test_the_plan_view_wraps_long_type_tokens(plans) -> None:  # type: ignore[no-untyped-def]
    from io import StringIO

    from rich.console import Console

    from mlstack.plan.render import type_counts

    console = Console(file=StringIO(), width=80, color_system=None)
    console.print(type_counts(plans("prod")))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "…" not in text
    joined = "".join(line.split("│")[1].strip() for line in text.splitlines() if line.count("│") == 3)
    assert "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration" in joined
