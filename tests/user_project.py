"""A small ML project of a user's own, outside this repository, for discovery and init tests."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import FIXTURES

MAIN = '"""Pulumi program."""\n\nfrom mlstack.program import run\n\nrun()\n'
QA_OVERLAY = '  qa:\n    settings:\n      account_id: "444444444444"\n      tier: staging\n'


def make_user_project(
    root: Path,
    *,
    name: str = "shop-ml",
    stacks: dict[str, str] | None = None,
    region: str = "us-east-2",
    main: str = MAIN,
    files: dict[str, str] | None = None,
) -> Path:
    """Pulumi.yaml, __main__.py, stacks/Pulumi.<stack>.yaml (stack -> environment) and mlstack.yaml."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "Pulumi.yaml").write_text(
        f"name: {name}\nruntime:\n  name: python\n  options:\n    toolchain: uv\nstackConfigDir: stacks\n"
    )
    (root / "__main__.py").write_text(main)
    spec = (FIXTURES / "minimal.yaml").read_text().replace("name: demo\n", "name: shop\n", 1) + QA_OVERLAY
    (root / "mlstack.yaml").write_text(spec)
    (root / "stacks").mkdir(exist_ok=True)
    for stack, environment in (stacks or {"dev": "dev", "qa": "qa"}).items():
        (root / "stacks" / f"Pulumi.{stack}.yaml").write_text(
            f"config:\n  aws:region: {region}\n  mlstack:environment: {environment}\n"
        )
    for relative, text in (files or {}).items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root
