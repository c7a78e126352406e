"""The `mlstack` command line: validate, plan, schema.

Every command that reads a spec takes `--spec`; by default the stack config
(`stacks/Pulumi.<env>.yaml`, key `mlstack:spec`) names it. Spec problems print
as `file:line:col: path: message` and exit with code 2, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mlstack.spec import SpecError

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


def _add_models_commands() -> None:
    from mlstack.models_cli import models_app

    app.add_typer(models_app, name="models")


_add_models_commands()

SnapshotOption = Annotated[
    Path | None,
    typer.Option(
        "--registry-snapshot",
        help="Model registry snapshot (JSON) to resolve versions from; default: the offline stand-in.",
        dir_okay=False,
    ),
]
SpecOption = Annotated[
    Path | None,
    typer.Option("--spec", help="Spec file to use instead of the one the stack config names.", dir_okay=False),
]


def _default_spec(environment: str | None) -> Path:
    from mlstack.program import PROJECT_DIR, spec_path
    from mlstack.synth import read_stack_config

    if environment is None:
        return Path("mlstack.yaml")
    project, config = read_stack_config(environment, PROJECT_DIR)
    return spec_path(config.get(f"{project}:spec"), PROJECT_DIR)


@app.command()
def validate(
    environment: Annotated[str | None, typer.Argument(help="Environment to validate; all when omitted.")] = None,
    spec: SpecOption = None,
) -> None:
    """Check the spec (every environment, or one) without synthesizing anything."""
    from mlstack.feature_lock import check_evolution, read_lock
    from mlstack.spec import load_all, load_environment

    path = spec or Path("mlstack.yaml")
    resolved = {environment: load_environment(path, environment)} if environment else load_all(path)
    lock = read_lock(path)
    problems = [p for env in resolved.values() for p in check_evolution(env, lock)]
    if problems:
        raise SpecError(problems)
    for name, env in resolved.items():
        spec_ = env.spec
        out.print(
            f"[green]ok[/] {name}: tier {env.tier}, account {env.account_id}, "
            f"{len(spec_.feature_groups)} feature groups, {len(spec_.models)} models"
        )


@app.command()
def plan(
    environment: Annotated[str, typer.Argument(help="Stack / environment to plan, e.g. dev.")],
    spec: SpecOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Write the recorded resources as JSON.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write JSON here instead of stdout.")] = None,
    registry_snapshot: SnapshotOption = None,
) -> None:
    """Run the Pulumi program for a stack offline (mocks, no cloud) and show what it creates."""
    from mlstack.render import plan_view
    from mlstack.synth import synthesize

    result = synthesize(environment, spec=spec, registry_snapshot=registry_snapshot)
    if json_output:
        text = result.to_json()
        if output:
            output.write_text(text)
        else:
            sys.stdout.write(text)
        return
    out.print(plan_view(result))


@app.command()
def check(
    environment: Annotated[str, typer.Argument(help="Stack / environment to check, e.g. prod.")],
    spec: SpecOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    policy_config: Annotated[
        Path | None,
        typer.Option("--policy-config", help="Policy-pack config to use instead of policies/config/<tier>.json."),
    ] = None,
    registry_snapshot: SnapshotOption = None,
) -> None:
    """Run the governance policy pack over the offline plan of a stack; exit 1 on a mandatory violation."""
    from mlstack.check import check_plan
    from mlstack.render import check_view
    from mlstack.synth import synthesize

    result = check_plan(synthesize(environment, spec=spec, registry_snapshot=registry_snapshot), policy_config)
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
) -> None:
    """Record the spec's feature-group schemas in <spec>.lock.json after review.

    Additions are recorded; removals and type changes are refused (exit 2).
    """
    from mlstack.feature_lock import read_lock, updated_lock
    from mlstack.spec import load_all

    path = spec or Path("mlstack.yaml")
    current = read_lock(path)
    new = updated_lock(load_all(path), current, tuple(drop or ()))
    text = new.render()
    if current.exists and new.path.read_text() == text:
        out.print(f"{new.path.name} is up to date")
        return
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
    out.print(f"wrote {new.path.name}")


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write; stdout when omitted.")] = None,
) -> None:
    """Print (or write) the JSON Schema of mlstack.yaml."""
    from mlstack.schema import render_schema

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
