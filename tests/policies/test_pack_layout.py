"""The pack has the layout `pulumi preview --policy-pack policies` expects, and stays importable."""

from __future__ import annotations

import re
import subprocess
import sys

from ruamel.yaml import YAML

from mlstack.policies.rules import ALL_POLICIES
from mlstack.policies.testing import resolve_config
from tests.conftest import ROOT

PACK = ROOT / "policies"


def test_pack_files_exist() -> None:
    manifest = YAML(typ="safe").load((PACK / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"]["name"] == "python"
    assert (PACK / "__main__.py").is_file() and (PACK / "requirements.txt").is_file()


def test_importing_the_rules_starts_no_server() -> None:
    probe = "import mlstack.policies.rules, mlstack.policies.testing; print(len(mlstack.policies.rules.ALL_POLICIES))"
    result = subprocess.run(
        [sys.executable, "-c", probe], check=False, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and int(result.stdout) == len(ALL_POLICIES)


def test_the_pack_imports_its_rules_without_mlstack() -> None:
    """The engine runs __main__.py in the pack's own virtualenv: the rules import from beside it."""
    # mlstack is made unimportable, as it is in the pack's own virtualenv.
    probe = (
        f"import sys; sys.modules['mlstack'] = None; sys.path.insert(0, {str(PACK)!r}); "
        "import rules; print(len(rules.ALL_POLICIES))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-c", probe], check=False, cwd=PACK, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == len(ALL_POLICIES)
    assert "sys.path.insert(0, str(Path(__file__).resolve().parent))" in (PACK / "__main__.py").read_text()


def test_only_main_constructs_a_policy_pack() -> None:
    constructing = [
        path.relative_to(PACK).as_posix()
        for path in PACK.rglob("*.py")
        if "venv" not in path.parts and re.search(r"\bPolicyPack\(", path.read_text())
    ]
    assert constructing == ["__main__.py"]


def test_requirements_match_the_lock() -> None:
    lock = (ROOT / "uv.lock").read_text()
    for line in (PACK / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            assert f'name = "{name}"\nversion = "{version}"' in lock, line


def test_every_rule_is_documented_and_named_in_kebab_case() -> None:
    names = [p.name for p in ALL_POLICIES]
    assert len(names) == len(set(names))
    for policy in ALL_POLICIES:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", policy.name), policy.name
        assert policy.description and policy.severity is not None, policy.name
        assert policy.remediation_steps, f"{policy.name}: say how to fix it"


def test_config_levels_follow_the_pulumi_config_format() -> None:
    policy = ALL_POLICIES[0]
    assert resolve_config(policy, None)[0] == "mandatory"
    assert resolve_config(policy, {"all": "advisory"})[0] == "advisory"
    assert resolve_config(policy, {"all": "advisory", policy.name: "mandatory"})[0] == "mandatory"
    assert resolve_config(policy, {policy.name: {"enforcementLevel": "disabled"}})[0] == "disabled"
