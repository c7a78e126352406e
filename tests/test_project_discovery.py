"""Which project a command works on: --project, else the nearest Pulumi.yaml upward; never the example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlstack.plan.synth import synthesize
from mlstack.project import ProjectNotFound, find_project
from mlstack.spec import SpecError
from tests.conftest import ROOT
from tests.user_project import make_user_project


def test_discovery_from_the_root_a_subfolder_and_an_explicit_project(tmp_path: Path) -> None:
    assert find_project(start=ROOT).root == ROOT
    assert find_project(start=ROOT / "tests" / "fixtures").root == ROOT
    user = make_user_project(tmp_path / "shop")
    (user / "notebooks" / "eda").mkdir(parents=True)
    assert find_project(start=user / "notebooks" / "eda").name == "shop-ml"
    assert find_project(explicit=user, start=ROOT).root == user  # --project wins over the current directory


def test_no_project_names_the_search_and_how_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFound) as found:
        find_project(start=tmp_path)
    message = str(found.value)
    assert f"looked for Pulumi.yaml in {tmp_path} and every directory above it" in message
    assert "mlstack init DIR --name NAME" in message
    with pytest.raises(ProjectNotFound, match=r"no Pulumi.yaml in .* \(given with --project\)"):
        find_project(explicit=tmp_path)


@pytest.mark.parametrize(
    "args",
    [
        ("plan", "dev"),
        ("check", "prod"),
        ("validate",),
        ("lock",),
        ("models", "snapshot", "dev", "-o", "registry.json"),
    ],
)
def test_every_command_exits_2_without_a_project(cli, tmp_path: Path, args: tuple[str, ...]) -> None:
    code, out, err = cli(*args, cwd=tmp_path)
    assert code == 2
    assert err.startswith(f"no mlstack project here: looked for Pulumi.yaml in {tmp_path}")
    assert "Traceback" not in err and "card-fraud" not in out + err
    assert not (tmp_path / "registry.json").exists()


def test_a_user_project_plans_its_own_qa_stack_in_its_region(cli, tmp_path: Path) -> None:
    user = make_user_project(tmp_path / "shop", region="us-east-2")
    code, out, err = cli("plan", "qa", "--json", cwd=user / "stacks")
    assert code == 0, err
    body = json.loads(out)
    assert (body["project"], body["stack"]) == ("shop-ml", "qa")
    urns = [r["urn"] for r in body["resources"]]
    assert urns and all(u.startswith("urn:pulumi:qa::shop-ml::") for u in urns)
    text = json.dumps(body)
    assert ":us-east-2:" in text and "eu-west-1" not in text
    assert "card-fraud" not in text and "shop-qa-" in text


def test_validate_and_plan_take_the_project_from_the_option(cli, tmp_path: Path) -> None:
    user = make_user_project(tmp_path / "shop")
    code, out, err = cli("validate", "--project", str(user), cwd=ROOT)
    assert code == 0, err
    assert [line.split(":")[0] for line in out.splitlines()] == ["ok dev", "ok prod", "ok qa"]
    assert "card-fraud" not in out


def test_a_stack_naming_an_environment_the_spec_lacks_is_located(cli, tmp_path: Path) -> None:
    user = make_user_project(tmp_path / "shop", stacks={"dev": "dev", "perf": "perf"})
    code, _, err = cli("validate", cwd=user)
    assert code == 2
    assert (
        "stacks/Pulumi.perf.yaml:3:3: config.mlstack:environment: stack 'perf' deploys environment 'perf', "
        "which mlstack.yaml does not define (defined: dev, prod, qa)"
    ) in err


def test_an_unknown_stack_names_the_project_and_its_stacks(tmp_path: Path) -> None:
    user = make_user_project(tmp_path / "shop")
    with pytest.raises(SpecError) as raised:
        synthesize("prod", project=find_project(explicit=user))
    assert "project 'shop-ml'" in str(raised.value) and "(stacks: dev, qa)" in str(raised.value)


@pytest.mark.parametrize(
    ("pulumi_yaml", "expected"),
    [
        ("runtime: python\n", "Pulumi.yaml:1:1: name: a Pulumi project needs a name"),
        ("name: x\nstackConfigDir: [a]\n", "Pulumi.yaml:2:1: stackConfigDir: must be a path relative to Pulumi.yaml"),
        ("name: x\nconfig: [1, 2\n", "Pulumi.yaml:3:1: invalid YAML: expected ',' or ']'"),
    ],
)
def test_a_broken_pulumi_yaml_is_a_located_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pulumi_yaml: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Pulumi.yaml").write_text(pulumi_yaml)
    with pytest.raises(SpecError) as raised:
        find_project(start=tmp_path)
    assert str(raised.value).startswith(expected)


def test_the_program_of_the_project_runs_from_its_directory_with_its_own_packages(tmp_path: Path) -> None:
    """A project's own pipelines/ and components/ packages neither shadow mlstack's nor are shadowed."""
    main = (
        "import pulumi\n"
        "from pathlib import Path\n\n"
        "import components\n"
        "import pipelines.extra\n"
        "from mlstack.program import run\n\n"
        "run()\n"
        "pulumi.export('user', [components.OWNER, pipelines.extra.NAME, Path('label.txt').read_text()])\n"
    )
    user = make_user_project(
        tmp_path / "shop",
        main=main,
        files={
            "components/__init__.py": "OWNER = 'shop-team'\n",
            "pipelines/__init__.py": "",
            "pipelines/extra.py": "NAME = 'nightly-features'\n",
            "policies/__init__.py": "raise ImportError('a user package, not the policy pack')\n",
            "label.txt": "from-the-program-directory",
        },
    )
    plan = synthesize("dev", project=find_project(explicit=user))
    assert plan.outputs["user"] == ["shop-team", "nightly-features", "from-the-program-directory"]
    assert plan.of_type("aws:sagemaker/pipeline:Pipeline")
    import sys

    assert "pipelines" not in sys.modules and "components" not in sys.modules  # forgotten after the run


def test_spec_still_overrides_the_stack_config(tmp_path: Path) -> None:
    user = make_user_project(tmp_path / "shop")
    other = user / "variants" / "bigger.yaml"
    other.parent.mkdir()
    other.write_text((user / "mlstack.yaml").read_text().replace("name: scorer", "name: ranker"))
    plan = synthesize("dev", spec=other, project=find_project(explicit=user))
    assert any("ranker" in r.urn for r in plan.resources)
    assert not any("scorer" in r.urn for r in plan.resources)
