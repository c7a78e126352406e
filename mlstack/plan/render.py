"""Human-readable renderings of a plan (rich tree and type counts)."""

from __future__ import annotations

from collections import Counter

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from mlstack.plan.check import SEVERITY_ORDER, CheckResult
from mlstack.plan.physical_names import PHYSICAL_NAME_KEYS
from mlstack.plan.synth import Plan, RecordedResource


def _label(resource: RecordedResource) -> str:
    kind = resource.type.rsplit(":", 1)[-1]
    label = f"[bold]{resource.name}[/] [dim]{kind}[/]"
    # Other resources' `bucket` input names the bucket they configure, not themselves.
    keys = [k for k in PHYSICAL_NAME_KEYS if k != "bucket" or resource.type == "aws:s3/bucket:Bucket"]
    physical = next((resource.inputs[k] for k in keys if isinstance(resource.inputs.get(k), str)), None)
    if physical and physical != resource.name:
        label += f" [cyan]{physical}[/]"
    flags = [flag for flag in ("protect", "retain_on_delete") if resource.options.get(flag)]
    if flags:
        label += " [yellow](" + ", ".join(flags).replace("_", "-") + ")[/]"
    return label


def plan_tree(plan: Plan) -> Tree:
    env = plan.environment
    root = Tree(
        f"[bold]{plan.project}[/] stack [bold]{plan.stack}[/] — {env.spec.project.name}, "
        f"tier {env.tier}, account {env.account_id}"
    )
    children: dict[str, list[RecordedResource]] = {}
    for resource in plan.resources:
        children.setdefault(resource.parent, []).append(resource)
    urns = {r.urn for r in plan.resources}

    def add(node: Tree, parent: str) -> None:
        for resource in sorted(children.get(parent, []), key=lambda r: (r.custom, r.name)):
            add(node.add(_label(resource)), resource.urn)

    for parent in sorted(p for p in children if p not in urns):  # top level: parented to the stack
        add(root, parent)
    return root


def type_counts(plan: Plan) -> Table:
    table = Table(title="Resources by type", show_footer=True)
    counts = Counter(r.type for r in plan.resources if r.custom)
    table.add_column("type", footer="total", overflow="fold")  # wrap long type tokens, never cut them
    table.add_column("count", justify="right", footer=str(sum(counts.values())))
    for type_, count in sorted(counts.items()):
        table.add_row(type_, str(count))
    return table


def schema_changes(plan: Plan) -> Text | None:
    """Feature-group schema changes against the lock: what `pulumi up` will add in place."""
    changes = plan.schema_changes
    if not plan.environment.spec.feature_groups:
        return None
    lock = changes.get("lock_file")
    if lock is None:
        return Text.from_markup(
            "[yellow]Feature schemas:[/] no lock file yet; run `mlstack lock` to record the accepted schemas"
        )
    lines = [f"Feature schemas (vs {lock}):"]
    for group in plan.environment.spec.feature_groups:
        added = changes["added"].get(group.name)
        if group.name in changes["new_groups"]:
            lines.append(f"  {group.name}: new group, {len(group.features)} features")
        elif added:
            listed = ", ".join(f"{name} ({type_})" for name, type_ in added)
            lines.append(f"  {group.name}: + {listed} — added in place (UpdateFeatureGroup), no replacement")
        else:
            lines.append(f"  {group.name}: unchanged ({len(group.features)} features)")
    return Text("\n".join(lines))


def model_versions(plan: Plan) -> Text | None:
    """Which registered version each served model deploys, and where the answer came from."""
    versions = plan.outputs.get("model_versions") or {}
    if not versions:
        return None
    lines = ["Model versions:"]
    for model, choice in sorted(versions.items()):
        if choice.get("skipped"):
            lines.append(f"  {model}: skipped (no approved version; when_unapproved: skip)")
            continue
        source = {"stand-in": "offline stand-in, no registry read", "snapshot": "registry snapshot"}.get(
            choice["source"], "live registry"
        )
        line = f"  {model}: version {choice['version']} ({choice['status']}, {source}) {choice['arn']}"
        if choice.get("warning"):
            line += f" — warning: {choice['warning']}"
        lines.append(line)
    return Text("\n".join(lines))


def plan_view(plan: Plan) -> Group:
    components = sum(1 for r in plan.resources if not r.custom)
    summary = (
        f"{len(plan.resources) - components} resources in {components} components, "
        f"synthesized offline in {plan.seconds:.2f} s"
    )
    parts: list[RenderableType] = [plan_tree(plan), type_counts(plan)]
    for section in (model_versions(plan), schema_changes(plan)):
        if section is not None:
            parts.append(section)
    from mlstack.spec.advice import warnings_for

    parts += [Text(w.render(), style="yellow") for w in warnings_for(plan.environment)]
    parts.append(summary)
    return Group(*parts)


_LEVEL_STYLE = {"mandatory": "bold red", "advisory": "yellow"}


def _short(urn: str) -> str:
    """'urn:pulumi:prod::mlstack::a$b$aws:s3/bucket:Bucket::name' -> 'Bucket name'."""
    if not urn:
        return "(stack)"
    parts = urn.split("::")
    return f"{parts[2].rsplit('$', 1)[-1].rsplit(':', 1)[-1]} {parts[-1]}" if len(parts) >= 4 else urn


def check_view(result: CheckResult) -> Group:
    report = result.report
    parts: list[RenderableType] = []
    for severity in SEVERITY_ORDER:
        found = [v for v in report.violations if (v.severity or "") == severity]
        if not found:
            continue
        # A list, not a table: it wraps at any width (CI logs are 80 columns) and never truncates.
        parts.append(Text(f"{severity or 'unrated'} severity", style="bold"))
        for v in sorted(found, key=lambda v: (v.policy, v.urn, v.message)):
            head = Text(v.policy, style="bold") + Text("  ")
            head += Text(v.level, style=_LEVEL_STYLE.get(v.level, "")) + Text(f"  {_short(v.urn)}")
            parts.append(Padding(head, (0, 0, 0, 2)))
            detail = Text(v.message) + (Text(f"\nfix: {v.fix}", style="dim") if v.fix else Text(""))
            parts.append(Padding(detail, (0, 0, 0, 4)))
    mandatory, advisory = len(report.mandatory), len(report.violations) - len(report.mandatory)
    verdict = "[bold red]FAILED[/]" if result.failed else "[bold green]PASSED[/]"
    skipped = f", {len(report.not_evaluated)} not evaluated (unknown until deploy)" if report.not_evaluated else ""
    parts.append(
        Text.from_markup(
            f"{verdict} {result.plan.stack} (tier {result.plan.environment.tier}, {result.config_path.name}): "
            f"{result.rules} rules over {sum(1 for r in result.plan.resources if r.custom)} resources, "
            f"{mandatory} mandatory and {advisory} advisory violations{skipped}; "
            f"rules ran in {result.seconds:.2f} s after a {result.plan.seconds:.2f} s synthesis"
        )
    )
    return Group(*parts)
