"""The wheel carries everything a user project needs, and works outside this repository.

Builds the wheel, installs it into a new virtualenv in a temporary directory, and, from
there, does what a new user does: `mlstack init`, then validate, plan every stack, check
prod and the project's own pytest. Offline: the build backend (hatchling) is a dev dependency,
and the virtualenv sees this environment's installed dependencies (not its editable
mlstack), so nothing is downloaded and only the wheel provides mlstack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.packaging
UV = Path(sys.executable).parent / "uv"


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=300
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built by the project's own build backend (PEP 517) in a separate process."""
    out = tmp_path_factory.mktemp("dist")
    build = f"import hatchling.build as b; print(b.build_wheel({str(out)!r}))"
    built = _run(sys.executable, "-c", build, cwd=ROOT)
    assert built.returncode == 0, built.stderr
    return out / built.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A fresh virtualenv with the wheel; dependencies visible from this environment's site-packages."""
    root = tmp_path_factory.mktemp("venv") / "venv"
    created = _run(UV, "venv", "--offline", "--quiet", "--python", sys.executable, root, cwd=root.parent)
    assert created.returncode == 0, created.stderr
    installed = _run(
        UV,
        "pip",
        "install",
        "--offline",
        "--no-deps",
        "--quiet",
        "--python",
        root / "bin" / "python",
        wheel,
        cwd=root.parent,
    )
    assert installed.returncode == 0, installed.stderr
    (site,) = (root / "lib").glob("python3.*/site-packages")
    # A path line, not a site directory: this environment's .pth files (the editable
    # install of the checkout among them) are not processed.
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return root


def test_the_wheel_installs_one_package_with_everything_it_needs(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"mlstack", wheel.name.split("-py3")[0] + ".dist-info"}
    for required in (
        "mlstack/components/endpoint.py",
        "mlstack/pipelines/builder.py",
        "mlstack/pipelines/steps/train.py",
        "mlstack/pipelines/steps/inference.py",
        "mlstack/policies/PulumiPolicy.yaml",
        "mlstack/policies/__main__.py",
        "mlstack/policies/requirements.txt",
        "mlstack/policies/rules/__init__.py",
        "mlstack/policies/config/prod.json",
        "mlstack/schema/mlstack.schema.json",
        "mlstack/templates/project/copier.yml",
        "mlstack/templates/project/template/mlstack.yaml.jinja",
    ):
        assert required in names, required
    assert not [n for n in names if "__pycache__" in n or "/venv/" in n or n.startswith("mlstack/tests")]


def test_a_new_project_from_the_installed_wheel(venv: Path, tmp_path: Path) -> None:
    bin_dir = venv / "bin"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "200"}
    env.pop("VIRTUAL_ENV", None)
    where = _run(
        bin_dir / "python",
        "-c",
        "import mlstack, mlstack.components; print(mlstack.components.__file__)",
        cwd=tmp_path,
        env=env,
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout

    empty = _run(bin_dir / "mlstack", "plan", "dev", cwd=tmp_path, env=env)
    assert empty.returncode == 2 and "no mlstack project here" in empty.stderr, empty.stderr

    init = _run(bin_dir / "mlstack", "init", "demo", "--name", "demo-ml", "--defaults", cwd=tmp_path, env=env)
    assert init.returncode == 0, init.stderr
    demo = tmp_path / "demo"
    # The user's own packages named like mlstack's: they must not get in the way.
    (demo / "pipelines").mkdir()
    (demo / "pipelines" / "__init__.py").write_text("raise ImportError('the user project pipelines package')\n")

    # The project's own tests first: one process builds every stack's pipeline definitions
    # (one SageMaker SDK import), which the commands below then read from the cache.
    tests = _run(bin_dir / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=demo, env=env)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "6 passed" in tests.stdout

    # The independent commands at once (2 cores): validate, a plan of every stack, check prod.
    commands = {
        "validate": ["validate"],
        **{stack: ["plan", stack, "--json"] for stack in ("dev", "staging", "prod")},
        "check": ["check", "prod"],
    }
    running = {
        key: subprocess.Popen(
            [str(bin_dir / "mlstack"), *args],
            cwd=demo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for key, args in commands.items()
    }
    results = {key: (process.communicate(timeout=300), process.returncode) for key, process in running.items()}
    for key, ((stdout, stderr), code) in results.items():
        assert code == 0, f"{key}: {stdout}{stderr}"
    for stack in ("dev", "staging", "prod"):
        text = results[stack][0][0]
        assert json.loads(text)["project"] == "demo-ml" and "card-fraud" not in text, stack
        assert '"fileAsset": "mlstack/pipelines/steps/train.py"' in text
    assert "PASSED prod" in results["check"][0][0]
    pack = _run(bin_dir / "mlstack", "policy-pack", "path", cwd=demo, env=env)
    pack_dir = Path(pack.stdout.strip())
    assert pack_dir.is_relative_to(venv) and (pack_dir / "PulumiPolicy.yaml").is_file()
    # As the engine runs the pack: its own directory on sys.path, mlstack not needed.
    rules = _run(
        sys.executable,
        "-I",
        "-B",
        "-c",
        f"import sys; sys.modules['mlstack'] = None; sys.path.insert(0, {str(pack_dir)!r}); "
        "import rules; print(len(rules.ALL_POLICIES))",
        cwd=tmp_path,
    )
    assert rules.returncode == 0 and int(rules.stdout) > 30, rules.stderr
