"""`mlstack models`: the model registry of an environment, against AWS (boto3).

    mlstack models list prod                         # versions, metrics, decisions, what serves
    mlstack models approve fraud-detector --env prod --version 3 --reason "AUC 0.94 on holdout, reviewed by J."
    mlstack models reject fraud-detector --env prod --version 4 --reason "recall dropped on the March cohort"
    mlstack models promote fraud-detector --version 3 --from staging --to prod --reason "passed staging soak"
    mlstack models history fraud-detector --env prod # the timeline, from the registry's event log
    mlstack models show fraud-detector 3 --env prod  # one version: metrics, audit trail, lineage
    mlstack models snapshot prod -o registry.json    # for offline plans: mlstack plan prod --registry-snapshot ...

Who decided is the caller's STS identity; why is the required --reason (ApprovalDescription),
both kept on the package (registry/audit.py). Every command refuses to write when the
caller's account is not the environment's.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mlstack.cli.options import ProjectOption, project_for, stack_spec
from mlstack.registry.lifecycle import LifecycleError
from mlstack.registry.versions import APPROVED, REJECTED, snapshot_from_live

models_app = typer.Typer(
    name="models",
    help="List, approve, reject, promote and trace registered model versions (boto3).",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)

SpecFile = Annotated[Path | None, typer.Option("--spec", dir_okay=False, help="Spec file instead of the stack's.")]
ProfileOption = Annotated[
    str | None, typer.Option("--profile", help="AWS profile to use; default: the environment's credentials.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@dataclass
class Context:
    """One environment of the project, its names, and AWS clients in its region."""

    env: Any
    names: Any
    session: Any

    def client(self, service: str) -> Any:
        return self.session.client(service, region_name=self.names.region)

    def model(self, name: str) -> Any:
        for model in self.env.spec.models:
            if model.name == name:
                return model
        known = ", ".join(m.name for m in self.env.spec.models) or "none"
        raise LifecycleError(f"no model '{name}' in the spec of {self.env.name} (models: {known})")

    def gate(self, model: Any) -> Any:
        from mlstack.registry.lifecycle import Gate

        gate = model.evaluation
        return Gate(gate.metric, gate.comparison, gate.threshold)

    def caller(self, *, writing: bool) -> Any:
        """The caller's identity; refused when it is not in the environment's account."""
        from mlstack.registry.audit import caller_of

        who = caller_of(self.client("sts"))
        if who.account != self.env.account_id:
            what = "change" if writing else "read"
            raise LifecycleError(
                f"the credentials are for account {who.account} ({who.arn}), but {self.env.name} is account "
                f"{self.env.account_id}: not going to {what} its registry with them. Use that account's "
                "credentials (--profile or the AWS_* variables)"
            )
        return who


def _context(environment: str, spec: Path | None, project: Path | None, profile: str | None = None) -> Context:
    """The environment of a stack of the project, its physical names (the stack's region) and a session."""
    import boto3

    from mlstack.spec import SpecError, load_environment
    from mlstack.spec.naming import Names

    stack = project_for(project).stack(environment)
    env = load_environment(stack_spec(stack, spec), stack.environment)
    if not stack.region:
        raise SpecError.single(stack.display, 1, 1, "config", "aws:region is not set (e.g. `aws:region: eu-west-1`)")
    session = boto3.Session(profile_name=profile) if profile else boto3.Session()
    return Context(env, Names.for_environment(env, stack.region), session)


def _run(action: Any) -> Any:
    """Run a command body: an expected refusal is one line on stderr and exit 2."""
    try:
        return action()
    except LifecycleError as error:
        err.print(f"error: {error}", style="red", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _versions(ctx: Context, model: str, *, metrics: bool = True) -> list[Any]:
    from mlstack.registry import lifecycle

    sagemaker, s3 = ctx.client("sagemaker"), ctx.client("s3") if metrics else None
    group = ctx.names.model_package_group(model)
    return [lifecycle.read_version(sagemaker, s3, summary) for summary in lifecycle.summaries(sagemaker, group)]


# --- list ------------------------------------------------------------------------------------
@models_app.command("list")
def list_versions(
    environment: Annotated[str, typer.Argument(help="Environment (stack) whose registry to read.")],
    model: Annotated[str | None, typer.Argument(help="One model; default: every model of the spec.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Newest versions per model; 0 = all.")] = 20,
    as_json: JsonOption = False,
    spec: SpecFile = None,
    project: ProjectOption = None,
    profile: ProfileOption = None,
) -> None:
    """Per model: each version's status, metrics, who decided and why, and what serves it now."""

    def body() -> None:
        from mlstack.registry.lifecycle import served_packages

        ctx = _context(environment, spec, project, profile)
        ctx.caller(writing=False)
        models = [ctx.model(model)] if model else list(ctx.env.spec.models)
        report: dict[str, Any] = {}
        for item in models:
            versions = _versions(ctx, item.name)
            if item.serving is not None and item.serving.target == "sagemaker":
                endpoint = ctx.names.endpoint(item.name)
                serving = set(served_packages(ctx.client("sagemaker"), endpoint))
                for version in versions:
                    version.serving = [endpoint] if version.arn in serving else []
            report[item.name] = (versions, ctx.gate(item))
        if as_json:
            body_json = {
                name: [_version_json(v, gate) for v in (versions[-limit:] if limit else versions)]
                for name, (versions, gate) in report.items()
            }
            sys.stdout.write(json.dumps(body_json, indent=2, sort_keys=True) + "\n")
            return
        for name, (versions, gate) in report.items():
            _print_versions(ctx, name, versions, gate, limit)

    _run(body)


def _version_json(version: Any, gate: Any) -> dict[str, Any]:
    return {
        "version": version.version,
        "arn": version.arn,
        "status": version.status,
        "created": version.created,
        "metrics": version.metrics,
        "gate_passed": gate.verdict(version.metrics),
        "decided_by": version.decided_by,
        "decided_at": version.decided_at,
        "reason": version.description or None,
        "serving": version.serving,
        "metadata": version.metadata,
    }


def _print_versions(ctx: Context, model: str, versions: list[Any], gate: Any, limit: int) -> None:
    group = ctx.names.model_package_group(model)
    shown = versions[-limit:] if limit else versions
    table = Table(title=f"{model} ({group}, gate: {gate.describe()})", title_justify="left")
    for column in ("version", "status", "created", "metrics", "decided by", "why", "serving"):
        table.add_column(column, overflow="fold")
    for version in reversed(shown):
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in sorted(version.metrics.items())) or "-"
        verdict = gate.verdict(version.metrics)
        if verdict is False:
            metrics += " (gate failed)"
        who = version.decided_by or "-"
        when = f" {version.decided_at}" if version.decided_at else ""
        table.add_row(
            str(version.version),
            version.status,
            (version.created or "-")[:19],
            metrics,
            f"{who}{when}",
            version.description or "-",
            ", ".join(version.serving) or "-",
        )
    out.print(table)
    if not versions:
        out.print(f"  no versions registered in {group} yet")
    elif len(shown) < len(versions):
        out.print(f"  {len(versions) - len(shown)} older version(s) not shown (--limit 0 for all)")


# --- approve / reject --------------------------------------------------------------------------
VersionOption = Annotated[int, typer.Option("--version", min=1, help="Version number in the package group.")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (kept on the package: the audit trail).")]
EnvOption = Annotated[str, typer.Option("--env", help="Environment (stack).")]


def _decide(
    model: str,
    environment: str,
    version: int,
    reason: str,
    status: str,
    force: bool,
    spec: Path | None,
    project: Path | None,
    profile: str | None,
) -> None:
    def body() -> None:
        from mlstack.registry import lifecycle

        ctx = _context(environment, spec, project, profile)
        item = ctx.model(model)
        who = ctx.caller(writing=True)
        sagemaker = ctx.client("sagemaker")
        group = ctx.names.model_package_group(model)
        summary = lifecycle.find(lifecycle.summaries(sagemaker, group), version, group)
        found = lifecycle.read_version(sagemaker, ctx.client("s3"), summary)
        outcome = lifecycle.decide(sagemaker, found, status, reason, who, gate=ctx.gate(item), force=force)
        out.print(f"{group}: {outcome.message}", markup=False, highlight=False, soft_wrap=True)

    _run(body)


@models_app.command("approve")
def approve(
    model: Annotated[str, typer.Argument(help="Model name in the spec.")],
    environment: EnvOption,
    version: VersionOption,
    reason: ReasonOption,
    force: Annotated[
        bool, typer.Option("--force", help="Approve a version the gate failed or that was rejected.")
    ] = False,
    spec: SpecFile = None,
    project: ProjectOption = None,
    profile: ProfileOption = None,
) -> None:
    """Approve a registered version for deployment, with a reason (who = your AWS identity)."""
    _decide(model, environment, version, reason, APPROVED, force, spec, project, profile)


@models_app.command("reject")
def reject(
    model: Annotated[str, typer.Argument(help="Model name in the spec.")],
    environment: EnvOption,
    version: VersionOption,
    reason: ReasonOption,
    spec: SpecFile = None,
    project: ProjectOption = None,
    profile: ProfileOption = None,
) -> None:
    """Reject a registered version (it is never deployed), with a reason."""
    _decide(model, environment, version, reason, REJECTED, False, spec, project, profile)


# --- promote --------------------------------------------------------------------------------
@models_app.command("promote")
def promote(
    model: Annotated[str, typer.Argument(help="Model name in the spec.")],
    version: VersionOption,
    source: Annotated[str, typer.Option("--from", help="Environment (stack) the version is approved in.")],
    target: Annotated[str, typer.Option("--to", help="Environment (stack) to register it in.")],
    reason: ReasonOption,
    source_profile: Annotated[
        str | None,
        typer.Option(
            "--source-profile",
            help="AWS profile to read the source with; default: the target's credentials, across accounts "
            "(what registry.share_with_accounts grants).",
        ),
    ] = None,
    spec: SpecFile = None,
    project: ProjectOption = None,
    profile: ProfileOption = None,
) -> None:
    """Register an approved version's artifact in another environment, as PendingManualApproval."""

    def body() -> None:
        from mlstack.registry import lifecycle

        if source == target:
            raise LifecycleError("--from and --to are the same environment")
        source_ctx = _context(source, spec, project, source_profile or profile)
        target_ctx = _context(target, spec, project, profile)
        item = source_ctx.model(model)
        target_ctx.model(model)
        who = target_ctx.caller(writing=True)
        source_group = source_ctx.names.model_package_group(model)
        reader = source_ctx.client("sagemaker")
        if source_profile is None and source_ctx.env.account_id != who.account:
            # Across accounts the group is named by ARN; its resource policy grants the read.
            source_group = (
                f"arn:aws:sagemaker:{source_ctx.names.region}:{source_ctx.env.account_id}:"
                f"model-package-group/{source_group}"
            )
        try:
            summary = lifecycle.find(lifecycle.summaries(reader, source_group), version, source_group)
            found = lifecycle.read_version(reader, None, summary)
        except Exception as error:
            if "AccessDenied" not in lifecycle.aws_message(error) and "not authorized" not in str(error):
                raise
            shared = target_ctx.env.account_id in item.registry.share_with_accounts
            hint = (
                "it is listed in the model's registry.share_with_accounts: has the source stack been deployed since?"
                if shared
                else f"add {target_ctx.env.account_id} to models[{model}].registry.share_with_accounts in "
                f"{source}'s spec and deploy {source}"
            )
            raise LifecycleError(
                f"account {target_ctx.env.account_id} may not read {source_group} in account "
                f"{source_ctx.env.account_id} ({lifecycle.aws_message(error)}): {hint}"
            ) from None
        outcome = lifecycle.promote(
            target_ctx.client("sagemaker"),
            found,
            source_ctx.env.account_id,
            target_ctx.names.model_package_group(model),
            reason,
            who,
        )
        out.print(outcome.message, markup=False, highlight=False, soft_wrap=True)

    _run(body)


# --- history / show --------------------------------------------------------------------------
@models_app.command("history")
def history(
    model: Annotated[str, typer.Argument(help="Model name in the spec.")],
    environment: EnvOption,
    as_json: JsonOption = False,
    spec: SpecFile = None,
    project: ProjectOption = None,
    profile: ProfileOption = None,
) -> None:
    """The model's timeline: registered, approved/rejected (who, why), promoted, deployed."""

    def body() -> None:
        from mlstack.registry import history as timeline

        ctx = _context(environment, spec, project, profile)
        ctx.model(model)
        ctx.caller(writing=False)
        log_group = ctx.names.registry_log_group(model)
        events = timeline.from_log_group(ctx.client("logs"), log_group)
        source = f"event log {log_group}"
        if events is None:
            events = timeline.from_packages(_versions(ctx, model, metrics=False))
            source = (
                f"the packages themselves: {log_group} does not exist yet (deploy the stack to keep every change); "
                "only each version's creation, promotion and last decision are known"
            )
        if as_json:
            rows = [{"at": e.at, "what": e.what, "version": e.version, "detail": e.detail} for e in events]
            sys.stdout.write(json.dumps({"source": source, "events": rows}, indent=2) + "\n")
            return
        table = Table(title=f"{model} in {environment}: from {source}", title_justify="left")
        for column in ("at", "what", "version", "detail"):
            table.add_column(column, overflow="fold")
        for event in events:
            table.add_row(event.at, event.what, "-" if event.version is None else str(event.version), event.detail)
        out.print(table)
        if not events:
            out.print("  nothing recorded yet")

    _run(body)


@models_app.command("show")
def show(
    model: Annotated[str, typer.Argument(help="Model name in the spec.")],
    version: Annotated[int, typer.Argument(min=1, help="Version number in the package group.")],
    environment: EnvOption,
    as_json: JsonOption = False,
    spec: SpecFile = None,
    project: ProjectOption = None,
    profile: ProfileOption = None,
) -> None:
    """One version: status, metrics, the audit trail and its lineage (what it was trained on, by what)."""

    def body() -> None:
        from mlstack.registry import audit, lifecycle

        ctx = _context(environment, spec, project, profile)
        item = ctx.model(model)
        ctx.caller(writing=False)
        sagemaker, s3 = ctx.client("sagemaker"), ctx.client("s3")
        group = ctx.names.model_package_group(model)
        found = lifecycle.read_version(
            sagemaker, s3, lifecycle.find(lifecycle.summaries(sagemaker, group), version, group)
        )
        lineage_uri = found.metadata.get(audit.LINEAGE)
        lineage = lifecycle.read_json(s3, lineage_uri) if lineage_uri else None
        report = {**_version_json(found, ctx.gate(item)), "lineage_uri": lineage_uri, "lineage": lineage}
        if as_json:
            sys.stdout.write(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")
            return
        table = Table(title=f"{group} version {version}", show_header=False, title_justify="left")
        table.add_column("field", style="bold")
        table.add_column("value", overflow="fold")
        for key in ("status", "created", "arn", "reason", "decided_by", "decided_at", "gate_passed"):
            table.add_row(key.replace("_", " "), str(report[key]) if report[key] is not None else "-")
        for name, value in sorted(found.metrics.items()):
            table.add_row(f"metric {name}", f"{value:.6g}")
        for key, value in sorted(found.metadata.items()):
            table.add_row(key, value)
        if lineage is None:
            table.add_row("lineage", "not recorded (registered before the pipeline recorded lineage, or unreadable)")
        else:
            for key, value in _flatten(lineage):
                table.add_row(f"lineage {key}", value)
        out.print(table)

    _run(body)


def _flatten(node: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        return [row for key, value in sorted(node.items()) for row in _flatten(value, f"{prefix}{key}.")]
    if isinstance(node, list) and node and all(isinstance(item, dict) for item in node):
        return [row for index, item in enumerate(node) for row in _flatten(item, f"{prefix}{index}.")]
    return [(prefix.rstrip("."), json.dumps(node) if not isinstance(node, str) else node)]


# --- snapshot ---------------------------------------------------------------------------------
@models_app.command("snapshot")
def snapshot(
    environment: Annotated[str, typer.Argument(help="Environment whose registry to read.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Snapshot file to write.")],
    spec: SpecFile = None,
    project: ProjectOption = None,
    profile: ProfileOption = None,
) -> None:
    """Write the environment's model package groups as a registry snapshot (JSON), for offline plans."""
    ctx = _context(environment, spec, project, profile)
    groups = [ctx.names.model_package_group(m.name) for m in ctx.env.spec.models]
    body = snapshot_from_live(ctx.client("sagemaker"), groups)
    output.write_text(json.dumps(body, indent=2, sort_keys=True, default=str) + "\n")
    out.print(
        f"wrote {output}: {sum(len(v) for v in body['groups'].values())} versions in {len(body['groups'])} groups"
    )
