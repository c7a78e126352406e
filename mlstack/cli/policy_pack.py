"""`mlstack policy-pack`: where the installed governance pack is, for `pulumi preview --policy-pack`.

    pulumi preview -s prod --policy-pack "$(mlstack policy-pack path)" \\
        --policy-pack-config "$(mlstack policy-pack config prod)"

The pack runs the same rules `mlstack check` runs offline. Pulumi creates the pack's
own virtualenv (`venv/`, from its pinned requirements.txt) inside that directory the
first time, so it must be writable: it is, in a project's `.venv`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from mlstack import shared_package_dir

policy_pack_app = typer.Typer(
    name="policy-pack", help="Locate the installed CrossGuard policy pack and its tier configs.", no_args_is_help=True
)


@policy_pack_app.command("path")
def path() -> None:
    """Print the directory of the installed policy pack (holds PulumiPolicy.yaml)."""
    typer.echo(str(shared_package_dir("policies")))


@policy_pack_app.command("config")
def config(tier: Annotated[str, typer.Argument(help="dev, staging or prod.")]) -> None:
    """Print the path of the pack's config for a tier (for --policy-pack-config)."""
    configs = shared_package_dir("policies") / "config"
    file = configs / f"{tier}.json"
    if not file.is_file():
        known = ", ".join(sorted(p.stem for p in configs.glob("*.json")))
        raise typer.BadParameter(f"no config for tier '{tier}' (tiers: {known})", param_hint="TIER")
    typer.echo(str(file))
