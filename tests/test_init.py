"""`mlstack init`: a new project from the copier template that validates, plans and passes governance."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from mlstack.plan.check import check_plan
from mlstack.plan.synth import synthesize
from mlstack.project import find_project
from mlstack.scaffold import TEMPLATE, requirement
from mlstack.spec import load_all
from tests.conftest import ROOT

GENERATED = [
    ".copier-answers.yml",
    ".github/workflows/deploy.yml",
    ".github/workflows/pr-comment.yml",
    ".github/workflows/pr.yml",
    ".gitignore",
    "Pulumi.yaml",
    "README.md",
    "__main__.py",
    "mlstack.yaml",
    "pyproject.toml",
    "schema/mlstack.schema.json",
    "stacks/Pulumi.dev.yaml",
    "stacks/Pulumi.prod.yaml",
    "stacks/Pulumi.staging.yaml",
    "tests/test_plan.py",
]


def _files(directory: Path) -> list[str]:
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlstack.scaffold import scaffold

    return scaffold(tmp_path_factory.mktemp("init") / "demo", {"project_name": "demo-ml"}, ask=False)


def test_init_writes_the_project_files(demo: Path) -> None:
    assert _files(demo) == GENERATED
    project = find_project(explicit=demo)
    assert (project.name, project.stack_names()) == ("demo-ml", ["dev", "prod", "staging"])
    main = (demo / "__main__.py").read_text()
    assert [line for line in main.splitlines() if line and not line.startswith('"""')] == [
        "from mlstack.program import run",
        "run()",
    ]
    assert 'dependencies = ["mlstack>=' in (demo / "pyproject.toml").read_text()
    answers = (demo / ".copier-answers.yml").read_text()
    assert 'project_name: "demo-ml"' in answers and f"_src_path: {TEMPLATE}" in answers
    assert (demo / "schema" / "mlstack.schema.json").read_text() == (
        ROOT / "schema" / "mlstack.schema.json"
    ).read_text()


def test_the_new_project_validates_plans_and_passes_governance_in_prod(demo: Path) -> None:
    assert set(load_all(demo / "mlstack.yaml")) == {"dev", "staging", "prod"}
    project = find_project(explicit=demo)
    plan = synthesize("prod", project=project)
    text = plan.to_json()
    assert "card-fraud" not in text and "demo-ml-prod-" in text
    assert all(r.urn.startswith("urn:pulumi:prod::demo-ml::") for r in plan.resources)
    result = check_plan(plan)
    assert not result.failed, result.summary()


def test_the_cli_scaffolds_and_refuses_a_non_empty_directory(cli, tmp_path: Path) -> None:
    code, out, err = cli("init", "fraud", "--name", "fraud-ml", "--defaults", "--region", "us-west-2", cwd=tmp_path)
    assert code == 0, err
    assert "created fraud: project fraud-ml, 15 files" in out
    assert "aws:region: us-west-2" in (tmp_path / "fraud" / "stacks" / "Pulumi.prod.yaml").read_text()
    before = _files(tmp_path / "fraud")
    code, _, err = cli("init", "fraud", "--name", "other-ml", "--defaults", cwd=tmp_path)
    assert code == 2
    assert "Invalid value for DIR: fraud is not empty (.copier-answers.yml, .github, .gitignore," in err
    assert "or pass --force" in err
    assert _files(tmp_path / "fraud") == before and "fraud-ml" in (tmp_path / "fraud" / "Pulumi.yaml").read_text()
    code, _, err = cli("init", "fraud", "--name", "other-ml", "--defaults", "--force", cwd=tmp_path)
    assert code == 0, err
    assert "name: other-ml" in (tmp_path / "fraud" / "Pulumi.yaml").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--name", "Fraud_ML"), "Invalid value for --name: Validation error for question 'project_name'"),
        (("--name", "k8s-ml", "--serving", "kubernetes"), "Invalid value for --serving-image: Question "),
        (("--name", "x-ml", "--account", "dev=1"), "Invalid value for --account: no account id for staging, prod"),
        (
            ("--name", "x-ml", "--account", "dev=123456789012", "--account", "staging=2", "--account", "prod=3"),
            "account_id",
        ),
        (("--name", "x-ml", "--data", "hdfs://x"), "Invalid value for --data: an s3:// prefix, or 'feature-group'"),
    ],
)
def test_bad_answers_exit_2_and_leave_nothing(cli, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    code, out, err = cli("init", "new", "--defaults", *args, cwd=tmp_path)
    assert code == 2, out
    assert message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # no project, no staging directory


def test_without_a_terminal_init_asks_for_defaults(cli, tmp_path: Path) -> None:
    code, _, err = cli("init", "new", "--name", "x-ml", cwd=tmp_path)
    assert code == 2
    assert "standard input is not a terminal, so nothing can be asked: pass --defaults" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "answers",
    [
        {"data_source": "feature_group", "problem_type": "Regression"},
        {
            "serving_target": "kubernetes",
            "serving_image": "ghcr.io/acme/server:1.0",
            "problem_type": "MulticlassClassification",
        },
        {
            "serving_target": "none",
            "environments": ["dev", "qa"],
            "accounts": {"dev": "123456789012", "qa": "210987654321"},
        },
    ],
)
def test_every_choice_gives_a_project_that_validates(tmp_path: Path, answers: dict[str, object]) -> None:
    from mlstack.scaffold import scaffold

    target = scaffold(tmp_path / "p", {"project_name": "var-ml", **answers}, ask=False)
    environments = load_all(target / "mlstack.yaml")
    assert set(environments) == set(answers.get("environments", ["dev", "staging", "prod"]))  # type: ignore[arg-type]
    if answers.get("data_source") == "feature_group":
        lock = json.loads((target / "mlstack.lock.json").read_text())
        assert "var-ml-model-features" in json.dumps(lock)
    if "qa" in environments:
        assert environments["qa"].tier == "staging"


@pytest.mark.parametrize(
    ("version", "expected"),
    [("0.1.0", "mlstack>=0.1.0,<0.2"), ("1.4.2", "mlstack>=1.4.2,<2"), ("0+unknown", "mlstack")],
)
def test_the_dependency_is_a_range_around_the_running_version(version: str, expected: str) -> None:
    assert requirement(version) == expected


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def test_copier_update_brings_a_later_template_fix_from_the_repository(cli, tmp_path: Path) -> None:
    """The repository's copier.yml serves the packaged template: what `copier update` needs."""
    from copier import run_update

    repository = tmp_path / "mlstack-repo"
    shutil.copytree(TEMPLATE, repository / "mlstack" / "templates" / "project")
    shutil.copy(ROOT / "copier.yml", repository / "copier.yml")
    _git(repository, "init", "-q")
    _git(repository, "add", "-A")
    _git(repository, "commit", "-qm", "template v0.1.0")
    _git(repository, "tag", "v0.1.0")
    code, _, err = cli(
        "init", "proj", "--name", "upd-ml", "--defaults", "--template-source", str(repository), cwd=tmp_path
    )
    assert code == 0, err
    project = tmp_path / "proj"
    assert "_commit: v0.1.0\n" in (project / ".copier-answers.yml").read_text()
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "new project")
    fixed = repository / "mlstack" / "templates" / "project" / "template" / ".gitignore"
    fixed.write_text(fixed.read_text() + ".mypy_cache/\n")
    _git(repository, "commit", "-qam", "template fix")
    _git(repository, "tag", "v0.1.1")
    run_update(str(project), defaults=True, overwrite=True, quiet=True, vcs_ref="v0.1.1", unsafe=False)
    assert (project / ".gitignore").read_text().endswith(".mypy_cache/\n")
    answers = (project / ".copier-answers.yml").read_text()
    assert f"_commit: v0.1.1\n_src_path: {repository}\n" in answers


def test_bytecode_in_the_installed_template_is_not_copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pip compiles every .py of an installed wheel, the template's too."""
    import py_compile

    import mlstack.scaffold as scaffolding

    template = tmp_path / "template"
    shutil.copytree(TEMPLATE, template)
    for source in (template / "template").rglob("*.py"):
        py_compile.compile(str(source), doraise=True)  # as pip does: __pycache__/*.pyc beside each
    assert list((template / "template").rglob("*.pyc"))
    monkeypatch.setattr(scaffolding, "TEMPLATE", template)
    made = scaffolding.scaffold(tmp_path / "demo", {"project_name": "demo-ml"}, ask=False)
    assert _files(made) == GENERATED
