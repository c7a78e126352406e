"""The `mlstack` command line: validate, plan, check, lock, schema (+ init, models, policy-pack).

Every command works on the project found by `mlstack.project` (`--project DIR`, else
the nearest Pulumi.yaml upward). A stack's config (`Pulumi.<stack>.yaml`, key
`mlstack:spec`) names its spec; `--spec` overrides it. Problems print as
`file:line:col: path: message` and exit with code 2, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mlstack.cli.options import ProjectOption, SnapshotOption, SpecOption, project_for, stack_spec
from mlstack.project import ProjectNotFound, Stack, display
from mlstack.spec import EnvironmentSpec, Problem, SpecError

EXIT_SPEC_ERROR = 2

app = typer.Typer(
    name="mlstack",
    help="Declarative MLOps on SageMaker: validate the spec and plan stacks offline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        from mlstack import __version__

        out.print(f"mlstack {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Declarative MLOps on SageMaker: validate the spec, plan and check stacks offline."""


def _add_subcommands() -> None:
    from mlstack.cli.diff import diff
    from mlstack.cli.init import init
    from mlstack.cli.models import models_app
    from mlstack.cli.policy_pack import policy_pack_app

    app.add_typer(models_app, name="models")
    app.add_typer(policy_pack_app, name="policy-pack")
    app.command()(init)
    app.command()(diff)


_add_subcommands()


@app.command()
def validate(
    environment: Annotated[
        str | None, typer.Argument(help="Stack to validate; every stack and environment when omitted.")
    ] = None,
    spec: SpecOption = None,
    project: ProjectOption = None,
) -> None:
    """Check the spec (every environment, or one stack's) without synthesizing anything."""
    from mlstack.spec import load_environment

    if environment is not None:
        stack = project_for(project).stack(environment)
        resolved = [load_environment(stack_spec(stack, spec), stack.environment)]
        problems: list[Problem] = []
    elif spec is not None:
        resolved, problems = _load_every_environment([spec], [])
    else:
        found = project_for(project)
        resolved, problems = _load_every_environment(found.specs(), found.stacks())
    problems.extend(_lock_problems(resolved))
    if problems:
        raise SpecError(problems)
    from mlstack.spec.advice import warnings_for

    for warning in sorted({w for env in resolved for w in warnings_for(env)}):
        sys.stderr.write(warning.render() + "\n")
    for env in resolved:
        out.print(
            f"[green]ok[/] {env.name}: {env.display}, tier {env.tier}, account {env.account_id}, "
            f"{len(env.spec.feature_groups)} feature groups, {len(env.spec.models)} models"
        )


def _lock_problems(resolved: list[EnvironmentSpec]) -> list[Problem]:
    """Feature-lock problems of every environment; one that only an overlay causes says where ("(in prod)")."""
    from mlstack.spec.feature_lock import check_evolution, read_lock
    from mlstack.spec.loader import per_environment

    by_spec: dict[Path, list[EnvironmentSpec]] = {}
    for env in resolved:
        by_spec.setdefault(env.source.resolve(), []).append(env)
    problems: list[Problem] = []
    for envs in by_spec.values():
        lock = read_lock(envs[0].source)
        found = {env.name: check_evolution(env, lock) for env in envs}
        problems.extend(per_environment(found, [env.name for env in envs]))
    return problems


def _load_every_environment(specs: list[Path], stacks: list[Stack]) -> tuple[list[EnvironmentSpec], list[Problem]]:
    """Every environment of every spec, and a problem for each stack whose environment its spec lacks."""
    from mlstack.spec import load_all, read_document

    resolved: list[EnvironmentSpec] = []
    problems: list[Problem] = []
    for path in specs:
        try:
            resolved.extend(load_all(path).values())
        except SpecError as exc:
            problems.extend(exc.problems)
    environments: dict[Path, list[str] | None] = {}  # per spec file: stacks usually share one
    for stack in stacks:
        key = stack.spec_path.resolve()
        if key not in environments:
            try:
                environments[key] = read_document(stack.spec_path).environments
            except SpecError:
                environments[key] = None  # already reported with the spec
        defined = environments[key]
        if defined is None:
            continue
        if stack.environment not in defined:
            problems.append(
                Problem(
                    stack.display,
                    *stack.position("mlstack:environment"),
                    "config.mlstack:environment",
                    f"stack '{stack.name}' deploys environment '{stack.environment}', which "
                    f"{display(stack.spec_path)} does not define (defined: {', '.join(defined)})",
                )
            )
    return resolved, problems


@app.command()
def plan(
    environment: Annotated[str, typer.Argument(help="Stack to plan, e.g. dev.")],
    spec: SpecOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Write the recorded resources as JSON.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write JSON here instead of stdout.")] = None,
    registry_snapshot: SnapshotOption = None,
    project: ProjectOption = None,
    with_check: Annotated[
        bool,
        typer.Option("--check", help="With --json: include the governance check of the plan (as mlstack diff uses)."),
    ] = False,
    watch: Annotated[
        bool,
        typer.Option("--watch", help="Stay running: re-plan when the spec, lock or stack files change (Ctrl-C ends)."),
    ] = False,
) -> None:
    """Run the Pulumi program for a stack offline (mocks, no cloud) and show what it creates."""
    from mlstack.plan.render import plan_view
    from mlstack.plan.synth import synthesize

    if watch:
        _watch(environment, spec, project, registry_snapshot)
        return
    result = synthesize(environment, spec=spec, project=project_for(project), registry_snapshot=registry_snapshot)
    if json_output:
        from mlstack.plan.check import check_plan

        text = result.to_json({"governance": check_plan(result).as_dict()} if with_check else None)
        if output:
            output.write_text(text)
        else:
            sys.stdout.write(text)
        return
    out.print(plan_view(result))


def _watch(environment: str, spec: Path | None, project: Path | None, snapshot: Path | None) -> None:
    from mlstack.plan.render import plan_view
    from mlstack.plan.synth import synthesize
    from mlstack.plan.watch import Watch, project_files

    def plan_once():  # type: ignore[no-untyped-def]
        # The project is found again each time: a stack file's config may have changed.
        return synthesize(environment, spec=spec, project=project_for(project), registry_snapshot=snapshot)

    def files() -> list[Path]:
        try:
            return project_files(project_for(project).stack(environment), spec, snapshot)
        except SpecError:  # a broken Pulumi.yaml or stack file: keep watching what we watched
            return list(watcher.stamps)

    watcher = Watch(plan_once, files, lambda text: out.print(text, highlight=False))
    first = plan_once()  # a bad spec at the start is an error, as for a plain plan
    out.print(plan_view(first))
    watcher.previous = first
    watcher.changed()
    from mlstack.wiring.pipeline_cache import prewarm

    prewarm()  # a pipeline change then re-plans in under a second, not after the SDK's import
    out.print(f"[dim]watching {', '.join(p.name for p in watcher.stamps)} (Ctrl-C to stop)[/]")
    watcher.run()


@app.command()
def check(
    environment: Annotated[str, typer.Argument(help="Stack to check, e.g. prod.")],
    spec: SpecOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    policy_config: Annotated[
        Path | None,
        typer.Option("--policy-config", help="Policy-pack config to use instead of the pack's config/<tier>.json."),
    ] = None,
    registry_snapshot: SnapshotOption = None,
    project: ProjectOption = None,
) -> None:
    """Run the governance policy pack over the offline plan of a stack; exit 1 on a mandatory violation."""
    from mlstack.plan.check import check_plan
    from mlstack.plan.render import check_view
    from mlstack.plan.synth import synthesize

    plan_ = synthesize(environment, spec=spec, project=project_for(project), registry_snapshot=registry_snapshot)
    result = check_plan(plan_, policy_config)
    if json_output:
        sys.stdout.write(result.to_json())
    else:
        out.print(check_view(result))
    if result.failed:
        raise typer.Exit(1)


@app.command()
def lock(
    spec: SpecOption = None,
    drop: Annotated[
        list[str] | None, typer.Option("--drop", help="Retire a feature group from the lock (deliberate data loss).")
    ] = None,
    project: ProjectOption = None,
) -> None:
    """Record the spec's feature-group schemas in <spec>.lock.json after review.

    Additions are recorded; removals and type changes are refused (exit 2).
    """
    from mlstack.spec import load_all
    from mlstack.spec.feature_lock import read_lock, updated_lock

    for path in [spec] if spec else project_for(project).specs():
        current = read_lock(path)
        new = updated_lock(load_all(path), current, tuple(drop or ()))
        text = new.render()
        if current.exists and new.path.read_text() == text:
            out.print(f"{display(new.path)} is up to date")
            continue
        new.path.write_text(text)
        for name, group in sorted(new.groups.items()):
            before = current.groups.get(name)
            if before is None:
                out.print(f"[green]+[/] {name}: {len(group.features)} features")
            elif before != group:
                added = [f for f in group.features if f not in before.features]
                out.print(f"[green]~[/] {name}: + {', '.join(n for n, _ in added)}")
        for name in sorted(set(current.groups) - set(new.groups)):
            out.print(f"[red]-[/] {name} (retired)")
        out.print(f"wrote {display(new.path)}")


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write; stdout when omitted.")] = None,
) -> None:
    """Print (or write) the JSON Schema of mlstack.yaml."""
    from mlstack.spec.schema import render_schema

    text = render_schema()
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
        out.print(f"wrote {output}")
    else:
        sys.stdout.write(text)


def _aws_errors() -> tuple[type[BaseException], ...]:
    """botocore's error types, without importing botocore before it is needed."""
    if "botocore" not in sys.modules:
        return ()
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def main() -> None:
    """Console entry point: spec problems exit 2 with located messages, no traceback."""
    try:
        # Without standalone mode click returns a command's exit code instead of exiting.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            raise SystemExit(code)
    except SpecError as exc:
        # One plain line per problem (no wrapping) so editors and grep can jump to it.
        for problem in exc.problems:
            sys.stderr.write(problem.render() + "\n")
        count = len(exc.problems)
        err.print(f"{count} problem{'s' if count != 1 else ''} found", style="red")
        raise SystemExit(EXIT_SPEC_ERROR) from None
    except ProjectNotFound as exc:
        sys.stderr.write(f"{exc}\n")
        raise SystemExit(EXIT_SPEC_ERROR) from None
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        raise SystemExit(1) from None
    except SystemExit:
        raise
    except _aws_errors() as exc:
        err.print(f"AWS error: {exc}", style="red", markup=False, highlight=False)
        raise SystemExit(1) from None
    except typer.TyperException as exc:  # usage errors, bad parameters
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", 2)
        if show is None:
            raise
        show()
        raise SystemExit(exit_code) from None
