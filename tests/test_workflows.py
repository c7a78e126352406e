"""The GitHub workflows of this repository and of the project template: linted, pinned, chained.

Both linters run offline as subprocesses: check-jsonschema with its bundled GitHub
workflow schema, zizmor with `--offline` (its online audits are skipped).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.conftest import ROOT

BIN = Path(sys.executable).parent
WORKFLOWS = ("deploy.yml", "pr-comment.yml", "pr.yml")
# `uses: owner/repo[/path]@<40 hex> # vX.Y.Z` (or `# pinned commit` where no tag is known)
PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s+[\w.-]+/[\w./-]+@[0-9a-f]{40}\s+#\s+(?:v\d+\.\d+\.\d+|pinned commit)\s*$")
USES = re.compile(r"^\s*(?:-\s+)?uses:")


def _workflow_files(project: Path) -> list[Path]:
    return sorted((project / ".github" / "workflows").glob("*.yml"))


def _load(path: Path) -> dict[str, Any]:
    return YAML(typ="safe").load(path.read_text())  # YAML 1.2: `on:` stays a string key


def _run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, check=False, timeout=60)


def _lint(files: list[Path]) -> None:
    schema = _run(BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", *files)
    assert schema.returncode == 0, schema.stdout + schema.stderr
    audit = _run(BIN / "zizmor", "--offline", "--no-progress", "--color", "never", *files)
    assert audit.returncode == 0, audit.stdout + audit.stderr


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[str]]]:
    """Two projects from the template: the default stacks, and [dev, qa]."""
    from mlstack.scaffold import scaffold

    base = tmp_path_factory.mktemp("workflows")
    demo = scaffold(base / "demo", {"project_name": "demo-ml"}, ask=False)
    qa = scaffold(
        base / "qa",
        {
            "project_name": "qa-ml",
            "environments": ["dev", "qa"],
            "accounts": {"dev": "123456789012", "qa": "210987654321"},
        },
        ask=False,
    )
    return {"demo": (demo, ["dev", "staging", "prod"]), "qa": (qa, ["dev", "qa"])}


def _projects(rendered: dict[str, tuple[Path, list[str]]]) -> list[tuple[Path, list[str]]]:
    return [(ROOT, ["dev", "staging", "prod"]), *rendered.values()]


def test_the_repository_workflows_pass_check_jsonschema_and_zizmor() -> None:
    files = _workflow_files(ROOT)
    assert [f.name for f in files] == list(WORKFLOWS)
    _lint(files)


@pytest.mark.parametrize("name", ["demo", "qa"])
def test_the_template_workflows_render_and_pass_check_jsonschema_and_zizmor(
    rendered: dict[str, tuple[Path, list[str]]], name: str
) -> None:
    project, _ = rendered[name]
    files = _workflow_files(project)
    assert [f.name for f in files] == list(WORKFLOWS)
    for path in files:
        assert "{%" not in path.read_text() and "{{ " not in path.read_text().replace("${{ ", "")
    _lint(files)


def test_deploy_jobs_chain_in_the_order_of_the_environments(rendered: dict[str, tuple[Path, list[str]]]) -> None:
    for project, environments in _projects(rendered):
        jobs = _load(project / ".github" / "workflows" / "deploy.yml")["jobs"]
        assert list(jobs) == [f"deploy-{env}" for env in environments], project
        for previous, env in zip([None, *environments], environments, strict=False):
            job = jobs[f"deploy-{env}"]
            assert job.get("needs") == (f"deploy-{previous}" if previous else None), (project, env)
            assert job["environment"] == env
            assert job["concurrency"] == {"group": f"deploy-{env}", "cancel-in-progress": False}
            assert job["permissions"] == {"contents": "read", "id-token": "write"}
            up = next(s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
            assert (up["with"]["command"], up["with"]["stack-name"]) == ("up", env)
            assert up["with"]["policyPacks"] and up["with"]["policyPackConfigs"]


def test_every_stack_gets_a_diff_a_preview_and_a_comment(rendered: dict[str, tuple[Path, list[str]]]) -> None:
    for project, environments in _projects(rendered):
        workflows = project / ".github" / "workflows"
        pr = _load(workflows / "pr.yml")
        assert pr["permissions"] == {"contents": "read"}
        assert pr["jobs"]["diff"]["strategy"]["matrix"]["stack"] == environments
        previews = {name: job for name, job in pr["jobs"].items() if name.startswith("preview-")}
        assert list(previews) == [f"preview-{env}" for env in environments], project
        for env, job in zip(environments, previews.values(), strict=True):
            assert f"vars.AWS_PREVIEW_ROLE_ARN_{env.upper()} != ''" in job["if"]
            assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"]
            assert job["permissions"] == {"contents": "read", "id-token": "write"}
        for name, job in pr["jobs"].items():
            if not name.startswith("preview-"):
                assert "permissions" not in job, (project, name)  # the workflow's read-only token
        comment = _load(workflows / "pr-comment.yml")
        assert comment["on"]["workflow_run"] == {"workflows": [pr["name"]], "types": ["completed"]}
        assert comment["jobs"]["comment"]["strategy"]["matrix"]["stack"] == environments


def test_pr_comment_never_checks_out_the_pull_request(rendered: dict[str, tuple[Path, list[str]]]) -> None:
    for project, _ in _projects(rendered):
        workflow = _load(project / ".github" / "workflows" / "pr-comment.yml")
        uses = [step["uses"].split("@")[0] for step in _steps(workflow) if "uses" in step]
        assert "actions/checkout" not in uses, project
        assert uses == ["actions/download-artifact", "marocchino/sticky-pull-request-comment"]
        assert workflow["permissions"] == {}
        assert workflow["jobs"]["comment"]["permissions"] == {"actions": "read", "pull-requests": "write"}


def test_every_action_is_pinned_to_a_commit_the_same_everywhere(rendered: dict[str, tuple[Path, list[str]]]) -> None:
    pins: dict[str, set[str]] = {}
    for project, _ in _projects(rendered):
        for path in _workflow_files(project):
            lines = [line for line in path.read_text().splitlines() if USES.match(line)]
            assert lines, path
            for line in lines:
                assert PINNED.match(line), f"{path}: {line.strip()}"
                action, pin = line.split("uses:", 1)[1].strip().split("@", 1)
                pins.setdefault(action, set()).add(pin)
            for step in _steps(_load(path)):
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, path
    assert {action: pin for action, pin in pins.items() if len(pin) > 1} == {}
