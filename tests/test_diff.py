"""`mlstack diff` on real edits of the example: what the engine would do, and why.

In-process: plans of the example (the session's) against plans of an edited copy of its
spec. Through the CLI: a git repository holding the example, with the base planned from
a worktree of a ref, exit codes and the written report.

The golden comment is regenerated, after an intended change, with:
    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_diff.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlstack.plan.check import check_plan
from mlstack.plan.diff import compare
from mlstack.plan.diff_render import Provenance, markdown
from mlstack.plan.synth import synthesize
from mlstack.project import find_project
from tests.conftest import EXAMPLE, ROOT

GOLDEN = Path(__file__).resolve().parent / "golden" / "diff" / "prod-instance-type-and-feature.md"
REGENERATE = "UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_diff.py"
PROVENANCE = Provenance(base="main (base)", head="working tree", mlstack="test")
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"


def _plan_dict(plan: Any) -> dict[str, Any]:
    return json.loads(plan.to_json({"governance": check_plan(plan).as_dict()}))


@pytest.fixture(scope="module")
def base_prod(plans) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return _plan_dict(plans("prod"))


def edited(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    """A copy of the example spec (with its lock) with each (old, new) replaced once."""
    text = EXAMPLE.read_text()
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    spec = tmp_path / "mlstack.yaml"
    spec.write_text(text)
    shutil.copy(ROOT / "mlstack.lock.json", tmp_path / "mlstack.lock.json")
    return spec


def head_plan(spec: Path, stack: str = "prod") -> dict[str, Any]:
    return _plan_dict(synthesize(stack, spec=spec, project=find_project(explicit=ROOT)))


INSTANCE_TYPE = ("instance_type: ml.c5.xlarge", "instance_type: ml.c5.2xlarge")
NEW_FEATURE = (
    "      - { name: is_fraud, type: Integral }\n",
    "      - { name: is_fraud, type: Integral }\n      - { name: mcc, type: Integral }\n",
)


def test_a_new_instance_type_replaces_the_configuration_and_rolls_the_endpoint_over(base_prod, tmp_path: Path) -> None:
    diff = compare(base_prod, head_plan(edited(tmp_path, INSTANCE_TYPE)))
    changed = {(s.op, s.type) for s in diff.steps if s.op != "same"}
    assert ("replace", CONFIG) in changed and ("update", ENDPOINT) in changed
    config = next(s for s in diff.steps if s.type == CONFIG)
    assert "productionVariants[0].instanceType" in config.replace_reasons and "name" in config.replace_reasons
    endpoint = next(s for s in diff.steps if s.type == ENDPOINT)
    assert endpoint.old_urn is None and [c.path for c in endpoint.changes] == ["endpointConfigName"]
    (rollover,) = diff.rollovers()
    assert rollover.sentence() == (
        f"endpoint card-fraud-prod-fraud-detector rolls over to configuration {endpoint.changes[0].new} "
        "(CANARY 10 %, bake 600 s, rollback on 3 alarms)"
    )
    assert not diff.stateful_losses and not diff.refused()


def test_renaming_a_model_deletes_its_package_group_and_is_refused_in_prod(base_prod, tmp_path: Path) -> None:
    spec = tmp_path / "renamed.yaml"
    spec.write_text(EXAMPLE.read_text().replace("merchant-risk", "merchant-score"))
    shutil.copy(ROOT / "mlstack.lock.json", tmp_path / "renamed.lock.json")
    diff = compare(base_prod, head_plan(spec))
    losses = {(s.op, s.type, s.name) for s in diff.stateful_losses}
    assert ("delete", "aws:sagemaker/modelPackageGroup:ModelPackageGroup", "merchant-risk-registry-group") in losses
    assert diff.refused() and not diff.refused(allow_stateful_changes=True)
    text = markdown(diff, PROVENANCE)
    assert "> [!CAUTION]" in text and "`merchant-risk-registry-group` (ModelPackageGroup, delete)" in text
    assert "this change is refused (exit 1)" in text


def test_a_new_feature_is_added_in_place(base_prod, tmp_path: Path) -> None:
    diff = compare(base_prod, head_plan(edited(tmp_path, NEW_FEATURE)))
    groups = [s for s in diff.steps if s.type == "aws:sagemaker/featureGroup:FeatureGroup"]
    assert {s.op for s in groups} == {"same"}  # featureDefinitions are ignored after creation
    additions = [s for s in diff.steps if s.type == "pulumi-python:dynamic:Resource" and s.op != "same"]
    assert [(s.op, s.name) for s in additions] == [("update", "feature-store-transactions-additions")]
    assert diff.feature_additions() == {"transactions": [["mcc", "Integral"]]}


def test_a_changed_tag_updates_in_place(base_prod, tmp_path: Path) -> None:
    diff = compare(base_prod, head_plan(edited(tmp_path, ("team: risk-ml", "team: risk-ml-platform"))))
    assert {s.op for s in diff.steps} == {"same", "update"}
    for step in diff.of("update"):
        # tags and Kubernetes labels; a pipeline's definition carries the tags of the jobs it starts
        assert all(".team" in c.path or c.path == "pipelineDefinition" for c in step.changes), (step.name, step.changes)
    assert len(diff.of("update")) > 30 and not diff.stateful_losses


def test_no_change_is_all_same_and_one_line(base_prod) -> None:
    diff = compare(base_prod, base_prod)
    assert not diff.changed and {s.op for s in diff.steps} == {"same"}
    text = markdown(diff, PROVENANCE)
    assert text.splitlines() == [
        "<!-- mlstack-diff project=mlstack env=prod -->",
        f"### mlstack diff · mlstack · prod: no changes ({len(base_prod['resources'])} resources)",
    ]


def _one(inputs: dict[str, Any], options: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    resource = {
        "urn": "urn:pulumi:dev::p::aws:sns/topic:Topic::alerts",
        "type": "aws:sns/topic:Topic",
        "name": "alerts",
        "parent": "",
        "custom": True,
        "provider": "",
        "dependencies": [],
        "inputs": inputs,
        "options": {"aliases": [], "ignore_changes": [], "replace_on_changes": [], **(options or {})},
    }
    return {"project": "p", "stack": "dev", "resources": [{**resource, **fields}], "outputs": {}}


def test_a_changed_secret_is_an_update_masked_on_both_sides() -> None:
    base = _one({"name": "alerts", "deliveryPolicy": "[secret:1111111111111111]"})
    head = _one({"name": "alerts", "deliveryPolicy": "[secret:2222222222222222]"})
    diff = compare(base, head)
    (step,) = diff.steps
    assert step.op == "update" and [c.path for c in step.changes] == ["deliveryPolicy"]
    text = markdown(diff, PROVENANCE)
    assert "| `deliveryPolicy` | `[secret]` | `[secret]` |" in text and "1111" not in text and "2222" not in text


def test_an_alias_keeps_the_resource_and_an_unknown_type_may_replace() -> None:
    base = _one({"name": "alerts"})
    moved = {"urn": "urn:pulumi:dev::p::aws:sns/topic:Topic::notifications", "name": "notifications"}
    head = _one({"name": "alerts"}, {"aliases": ["urn:pulumi:dev::p::aws:sns/topic:Topic::alerts"]}, **moved)
    (step,) = compare(base, head).steps
    assert (step.op, step.old_urn) == ("same", "urn:pulumi:dev::p::aws:sns/topic:Topic::alerts")
    unknown = {"type": "aws:example/widget:Widget", "urn": "urn:pulumi:dev::p::aws:example/widget:Widget::w"}
    (step,) = compare(_one({"size": 1}, **unknown), _one({"size": 2}, **unknown)).steps
    assert step.op == "update" and step.verdict is not None and step.verdict.may_replace
    assert step.as_preview_step()["mayReplace"] is True


def test_the_golden_comment(base_prod, tmp_path: Path) -> None:
    """A comment a reviewer reads: read tests/golden/diff/*.md as it renders on GitHub."""
    diff = compare(base_prod, head_plan(edited(tmp_path, INSTANCE_TYPE, NEW_FEATURE)))
    text = markdown(diff, PROVENANCE)
    assert len(text) < 60_000
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text)
    assert GOLDEN.exists(), f"no golden comment yet: {REGENERATE}"
    assert text == GOLDEN.read_text(), f"the comment changed; if intended: {REGENERATE}"


def test_a_long_comment_drops_detail_first_and_says_so(base_prod) -> None:
    diff = compare({"resources": [], "outputs": {}}, base_prod)  # everything is new
    assert len(markdown(diff, PROVENANCE)) > 4_000
    text = markdown(diff, PROVENANCE, limit=4_000)
    assert len(text) <= 4_000
    assert text.startswith("<!-- mlstack-diff project=mlstack env=prod -->\n### mlstack diff · mlstack · prod · +")
    assert "to fit a PR comment" in text


# --- through the CLI, in a git repository ------------------------------------------------------
def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository whose project (in a subfolder) is the example, one commit."""
    repo = tmp_path_factory.mktemp("repo")
    project = repo / "ml" / "card-fraud"
    project.mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py", "mlstack.yaml", "mlstack.lock.json"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "stacks", project / "stacks")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "card-fraud")
    return project


def _diff(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlstack", "diff", *args],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_cli_renaming_a_model_exits_1_in_prod_and_0_when_allowed(repository: Path, tmp_path: Path) -> None:
    spec = repository / "mlstack.yaml"
    original = spec.read_text()
    spec.write_text(original.replace("merchant-risk", "merchant-score"))
    try:
        report = tmp_path / "prod.md"
        refused = _diff(repository, "prod", "--markdown", "-o", str(report))
        assert refused.returncode == 1, refused.stderr
        text = report.read_text()
        assert text.startswith("<!-- mlstack-diff project=mlstack env=prod -->")
        assert "this change is refused (exit 1)" in text and "HEAD (on main)" in text
        assert "with uncommitted changes" in text
        allowed = _diff(repository, "prod", "--json", "--allow-stateful-changes", "--base", "HEAD")
        assert allowed.returncode == 0, allowed.stderr
        body = json.loads(allowed.stdout)
        kinds = {(s["op"], s["type"]) for s in body["steps"]}
        assert ("delete", "aws:sagemaker/modelPackageGroup:ModelPackageGroup") in kinds
        assert {s["op"] for s in body["steps"]} <= {"create", "update", "replace", "delete", "same"}
        assert body["summary"]["stateful_losses"] and body["summary"]["refused"] is False
    finally:
        spec.write_text(original)


def test_cli_bad_input_exits_2(repository: Path, tmp_path: Path) -> None:
    bad_ref = _diff(repository, "prod", "--base", "no-such-ref")
    assert bad_ref.returncode == 2
    assert "mlstack diff: --base 'no-such-ref' is not a commit of" in bad_ref.stderr
    (tmp_path / "plan.json").write_text("{")
    bad_file = _diff(repository, "prod", "--base-plan", str(tmp_path / "plan.json"))
    assert bad_file.returncode == 2 and "not a plan (`mlstack plan --json`)" in bad_file.stderr
    unknown = _diff(repository, "perf")
    assert unknown.returncode == 2 and "has no stack 'perf'" in unknown.stderr
    assert "Traceback" not in bad_ref.stderr + bad_file.stderr + unknown.stderr


def test_a_changed_json_document_shows_the_changes_inside_it() -> None:
    """A pipeline definition (or a policy) is one string input: the reviewer sees where it changed."""
    from mlstack.plan.diff import compare
    from mlstack.plan.diff_render import terminal

    def plan(threshold: float) -> dict[str, object]:
        definition = {"Steps": [{"Name": "QualityGate", "Arguments": {"RightValue": threshold}}], "Version": "2020"}
        resource = {
            "urn": "urn:pulumi:prod::p::aws:sagemaker/pipeline:Pipeline::fraud-training-pipeline",
            "type": "aws:sagemaker/pipeline:Pipeline",
            "name": "fraud-training-pipeline",
            "parent": "",
            "custom": True,
            "dependencies": [],
            "inputs": {"pipelineDefinition": json.dumps(definition), "pipelineName": "fraud"},
            "options": {"aliases": [], "ignore_changes": [], "protect": False, "retain_on_delete": False},
        }
        return {"project": "p", "stack": "prod", "resources": [resource], "outputs": {}}

    text = terminal(compare(plan(0.9), plan(0.92)), None)
    assert "    pipelineDefinition ▸ Steps[0].Arguments.RightValue: 0.9 → 0.92" in text
