"""`mlstack diff STACK`: what a change does to a stack, planned offline on both sides."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from mlstack.cli.options import ProjectOption, SpecOption, project_for

out = Console()
err = Console(stderr=True)


def _summary(result: Any, base: Any, head: Any, allow: bool) -> dict[str, Any]:
    from mlstack import __version__

    governance = result.governance()
    return {
        "project": result.project,
        "stack": result.stack,
        "counts": {op: result.counts.get(op, 0) for op in ("create", "update", "replace", "delete", "same")},
        "changed": result.changed,
        "stateful_losses": [{"urn": s.urn, "type": s.type, "op": s.op} for s in result.stateful_losses],
        "refused": result.refused(allow),
        "rollovers": [r.sentence() for r in result.rollovers()],
        "model_versions": {m: {"base": old, "head": new} for m, (old, new) in result.model_versions().items()},
        "feature_additions": result.feature_additions(),
        "governance": None if governance is None else {"new": governance[0], "fixed": governance[1]},
        "base": {"source": base.source, "sha": base.sha},
        "head": {"source": head.source, "sha": head.sha},
        "mlstack": __version__,
    }


def diff(
    environment: Annotated[str, typer.Argument(help="Stack to diff, e.g. prod.")],
    base: Annotated[
        str | None,
        typer.Option("--base", help="Git ref of the base; default: the merge base with the default branch, else HEAD."),
    ] = None,
    base_plan: Annotated[
        Path | None,
        typer.Option(
            "--base-plan", help="A saved `mlstack plan --json` as the base (e.g. of the last deploy).", dir_okay=False
        ),
    ] = None,
    spec: SpecOption = None,
    markdown_output: Annotated[bool, typer.Option("--markdown", help="A pull-request comment (Markdown).")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Steps shaped like `pulumi preview --json`.")] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report here instead of stdout.")
    ] = None,
    allow_stateful_changes: Annotated[
        bool,
        typer.Option("--allow-stateful-changes", help="Accept replacing or deleting stateful resources deliberately."),
    ] = False,
    project: ProjectOption = None,
) -> None:
    """Compare a stack's offline plan at the base with the working tree; exit 1 when protected state would be lost."""
    from mlstack import __version__
    from mlstack.plan.diff import compare
    from mlstack.plan.diff_render import Provenance, markdown, terminal
    from mlstack.plan.sides import DiffInputError, plan_sides

    if markdown_output and json_output:
        raise typer.BadParameter("choose one of --markdown and --json", param_hint="--markdown")
    if base is not None and base_plan is not None:
        raise typer.BadParameter("give the base as a git ref or as a saved plan, not both", param_hint="--base")
    found = project_for(project)
    found.stack(environment)  # an unknown stack is a located error before anything runs
    try:
        base_side, head_side = plan_sides(found, environment, base_ref=base, base_plan=base_plan, spec=spec)
    except DiffInputError as exc:
        err.print(f"mlstack diff: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    result = compare(base_side.plan, head_side.plan)
    provenance = Provenance(base_side.source, head_side.source, __version__)
    if json_output:
        body = {**result.preview_json(), "summary": _summary(result, base_side, head_side, allow_stateful_changes)}
        text = json.dumps(body, indent=2, sort_keys=True) + "\n"
    elif markdown_output:
        text = markdown(result, provenance, allow_stateful_changes=allow_stateful_changes)
    else:
        text = ""
        out.print(terminal(result, provenance, allow_stateful_changes=allow_stateful_changes), highlight=False)
    if text and output:
        output.write_text(text)
    elif text:
        sys.stdout.write(text)
    if result.refused(allow_stateful_changes):
        raise typer.Exit(1)
