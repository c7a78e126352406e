"""`mlstack models`: the model registry of an environment, against AWS (boto3).

    mlstack models snapshot prod -o registry.json   # for offline plans: mlstack plan prod --registry-snapshot ...
    mlstack models approve fraud-detector --env prod --version 3 --reason "AUC 0.94 on holdout, reviewed by J."

The approval reason is kept on the model package (ApprovalDescription): the audit trail.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mlstack.cli.options import ProjectOption, project_for, stack_spec
from mlstack.registry.versions import APPROVED, snapshot_from_live

models_app = typer.Typer(
    name="models", help="Snapshot and approve registered model versions (boto3).", no_args_is_help=True
)
out = Console()


def _context(environment: str, spec: Path | None, project: Path | None):  # type: ignore[no-untyped-def]
    """The environment of a stack of the project, and its physical names (the stack's region)."""
    from mlstack.spec import SpecError, load_environment
    from mlstack.spec.naming import Names

    stack = project_for(project).stack(environment)
    env = load_environment(stack_spec(stack, spec), stack.environment)
    if not stack.region:
        raise SpecError.single(stack.display, 1, 1, "config", "aws:region is not set (e.g. `aws:region: eu-west-1`)")
    return env, Names.for_environment(env, stack.region)


def _client(region: str):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client("sagemaker", region_name=region)


@models_app.command("snapshot")
def snapshot(
    environment: Annotated[str, typer.Argument(help="Environment whose registry to read.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Snapshot file to write.")],
    spec: Annotated[Path | None, typer.Option("--spec", dir_okay=False)] = None,
    project: ProjectOption = None,
) -> None:
    """Write the environment's model package groups as a registry snapshot (JSON)."""
    env, names = _context(environment, spec, project)
    groups = [names.model_package_group(m.name) for m in env.spec.models]
    body = snapshot_from_live(_client(names.region), groups)
    output.write_text(json.dumps(body, indent=2, sort_keys=True, default=str) + "\n")
    out.print(
        f"wrote {output}: {sum(len(v) for v in body['groups'].values())} versions in {len(body['groups'])} groups"
    )


@models_app.command("approve")
def approve(
    model: Annotated[str, typer.Argument(help="Model name in the spec.")],
    environment: Annotated[str, typer.Option("--env", help="Environment (stack).")],
    version: Annotated[int, typer.Option("--version", min=1, help="Version number in the package group.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it may serve users (kept as the audit trail).")],
    spec: Annotated[Path | None, typer.Option("--spec", dir_okay=False)] = None,
    project: ProjectOption = None,
) -> None:
    """Approve a registered version for deployment, with a reason."""
    env, names = _context(environment, spec, project)
    if model not in {m.name for m in env.spec.models}:
        raise typer.BadParameter(f"no model '{model}' in the spec", param_hint="MODEL")
    if not reason.strip():
        raise typer.BadParameter("give a reason: it is the audit trail of the approval", param_hint="--reason")
    group = names.model_package_group(model)
    client = _client(names.region)
    client.describe_model_package_group(ModelPackageGroupName=group)  # an unknown group is an AWS error
    pages = client.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group)
    arns = {p["ModelPackageVersion"]: p["ModelPackageArn"] for page in pages for p in page["ModelPackageSummaryList"]}
    if version not in arns:
        known = ", ".join(str(v) for v in sorted(arns)) or "none"
        raise typer.BadParameter(f"{group} has no version {version} (versions: {known})", param_hint="--version")
    client.update_model_package(
        ModelPackageArn=arns[version], ModelApprovalStatus=APPROVED, ApprovalDescription=reason.strip()
    )
    out.print(f"approved {group} version {version}: {reason.strip()}")
