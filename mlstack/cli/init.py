"""`mlstack init DIR --name NAME`: scaffold a new ML project (copier template, validated first)."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

out = Console()

# The template's questions, by the option that answers them (for error messages).
OPTION_OF = {
    "project_name": "--name",
    "owner": "--owner",
    "region": "--region",
    "environments": "--environments",
    "accounts": "--account",
    "subnet_ids": "--subnet",
    "security_group_ids": "--security-group",
    "model_name": "--model",
    "problem_type": "--problem-type",
    "data_source": "--data",
    "data_uri": "--data",
    "serving_target": "--serving",
    "serving_image": "--serving-image",
}


class ProblemType(StrEnum):
    binary = "BinaryClassification"
    multiclass = "MulticlassClassification"
    regression = "Regression"


class ServingTarget(StrEnum):
    sagemaker = "sagemaker"
    kubernetes = "kubernetes"
    none = "none"


def _environments(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names or len(set(names)) != len(names):
        raise typer.BadParameter("a comma-separated list of distinct names, e.g. dev,staging,prod")
    return names


def _accounts(pairs: list[str] | None, environments: list[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    accounts: dict[str, str] = {}
    for pair in pairs:
        env, sep, account = pair.partition("=")
        if not sep or not env or not account:
            raise typer.BadParameter(f"'{pair}': give ENV=ACCOUNT_ID, e.g. prod=333333333333", param_hint="--account")
        accounts[env.strip()] = account.strip()
    missing = [env for env in environments or ["dev", "staging", "prod"] if env not in accounts]
    if missing:
        raise typer.BadParameter(f"no account id for {', '.join(missing)}", param_hint="--account")
    return accounts


def _data(value: str | None) -> dict[str, str]:
    if value is None:
        return {}
    if value == "feature-group":
        return {"data_source": "feature_group"}
    if value.startswith("s3://"):
        return {"data_source": "s3", "data_uri": value if value.endswith("/") else f"{value}/"}
    raise typer.BadParameter(
        "an s3:// prefix, or 'feature-group' for a feature group of the project", param_hint="--data"
    )


def init(
    directory: Annotated[
        Path, typer.Argument(help="Directory of the new project (created; must be empty).", metavar="DIR")
    ],
    name: Annotated[str | None, typer.Option("--name", help="Project name, e.g. fraud-ml.")] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Owner e-mail (tags, alerts).")] = None,
    region: Annotated[str | None, typer.Option("--region", help="AWS region of every stack.")] = None,
    environments: Annotated[
        str | None, typer.Option("--environments", help="Comma-separated environments (one stack each).")
    ] = None,
    account: Annotated[
        list[str] | None, typer.Option("--account", help="ENV=ACCOUNT_ID, once per environment.")
    ] = None,
    subnet: Annotated[
        list[str] | None, typer.Option("--subnet", help="Private subnet id for prod (repeat for each).")
    ] = None,
    security_group: Annotated[
        list[str] | None, typer.Option("--security-group", help="Security group id for prod (repeat for each).")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="Name of the first model.")] = None,
    problem_type: Annotated[ProblemType | None, typer.Option("--problem-type", help="What it predicts.")] = None,
    data: Annotated[
        str | None, typer.Option("--data", help="Training data: an s3:// prefix, or 'feature-group'.")
    ] = None,
    serving: Annotated[ServingTarget | None, typer.Option("--serving", help="Where it serves.")] = None,
    serving_image: Annotated[
        str | None, typer.Option("--serving-image", help="Serving image (with --serving kubernetes).")
    ] = None,
    defaults: Annotated[
        bool, typer.Option("--defaults", help="Take the default for every answer not given; ask nothing.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Write into a non-empty directory.")] = False,
    template_source: Annotated[
        str | None,
        typer.Option(
            "--template-source",
            help="Git repository of the mlstack template recorded for `copier update` "
            "(default: $MLSTACK_TEMPLATE_SOURCE, else the installed template).",
        ),
    ] = None,
) -> None:
    """Scaffold a new ML project: Pulumi.yaml, stacks, mlstack.yaml, pyproject.toml, tests."""
    from mlstack.scaffold import ScaffoldError, scaffold

    ask = not defaults
    if ask and not sys.stdin.isatty():
        raise typer.BadParameter(
            "standard input is not a terminal, so nothing can be asked: "
            "pass --defaults to take the default for every answer not given as an option",
            param_hint="--defaults",
        )
    if not ask and not name:
        raise typer.BadParameter("the project needs a name", param_hint="--name")
    names = _environments(environments)
    answers = {
        "project_name": name,
        "owner": owner,
        "region": region,
        "environments": names,
        "accounts": _accounts(account, names),
        "subnet_ids": subnet or None,
        "security_group_ids": security_group or None,
        "model_name": model,
        "problem_type": problem_type.value if problem_type else None,
        "serving_target": serving.value if serving else None,
        "serving_image": serving_image,
        **_data(data),
    }
    try:
        target = scaffold(directory, answers, ask=ask, force=force, template_source=template_source)
    except ScaffoldError as exc:
        hint = OPTION_OF.get(exc.question, exc.question) if exc.question else "DIR"
        raise typer.BadParameter(str(exc), param_hint=hint) from None
    from mlstack.project import display, find_project

    project = find_project(explicit=target)
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    out.print(f"[green]created[/] {display(target)}: project [bold]{project.name}[/], {len(files)} files")
    for file in files:
        out.print(f"  {file}")
    first = project.stack_names()[0]
    out.print(
        f"next: cd {display(target)} && mlstack validate && mlstack plan {first} && pytest "
        "(set the real account ids in mlstack.yaml before `pulumi up`)"
    )
