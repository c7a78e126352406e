"""`mlstack init`: a new ML project from the copier template, checked before it is written.

The template (`mlstack/templates/project`, package data) is rendered with copier into a
staging directory beside the target. The result must pass the same checks `mlstack
validate` runs, in every environment; only then is it moved into place, so a failure
leaves nothing half-written. copier records its answers in `.copier-answers.yml`, which
`copier update` reads to bring later template fixes into the project.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlstack import __version__
from mlstack.project import display, find_project
from mlstack.spec import Problem, SpecError

TEMPLATE = Path(__file__).resolve().parent / "templates" / "project"
# A git repository (URL or path) that holds this template at tags v<version>: what
# `copier update` fetches later versions from. Default: the installed template.
TEMPLATE_SOURCE_ENV = "MLSTACK_TEMPLATE_SOURCE"


class ScaffoldError(Exception):
    """The project cannot be created; nothing was written. `question`: the template question at fault."""

    def __init__(self, message: str, question: str | None = None) -> None:
        super().__init__(message)
        self.question = question


# copier's messages name the question: "Validation error for question 'x': ..." / 'Question "x" is required'.
_QUESTION = re.compile(r"""[Qq]uestion ['"](?P<name>\w+)['"]""")


def requirement(version: str = __version__) -> str:
    """The dependency on mlstack a new project gets: compatible releases of the running version."""
    parts = version.split(".")
    if not (len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit()):
        return "mlstack"  # a checkout that was never installed has no version to pin to
    major, minor = int(parts[0]), int(parts[1])
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f"mlstack>={version},<{upper}"


def _check_target(target: Path, force: bool) -> None:
    if target.exists() and not target.is_dir():
        raise ScaffoldError(f"{display(target)} exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not force:
        entries = sorted(p.name for p in target.iterdir())
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise ScaffoldError(
            f"{display(target)} is not empty ({shown}): choose a new or empty directory, "
            "or pass --force to write the project's files into it (files of the same name are replaced)"
        )


def _relabel(problems: list[Problem], staging: Path, target: Path) -> list[Problem]:
    """Problems found in the staging copy, named by the paths the user will have."""
    shown_staging, shown_target = display(staging), display(target)
    return [
        Problem(p.file.replace(shown_staging, shown_target, 1), p.line, p.column, p.path, p.message) for p in problems
    ]


def _validate(staging: Path) -> None:
    """Every stack's environment loads and is compatible with the (new) lock; a SpecError otherwise."""
    from mlstack.program import load_checked
    from mlstack.spec import load_all

    project = find_project(explicit=staging)
    problems: list[Problem] = []
    for spec in project.specs():
        try:
            load_all(spec)
        except SpecError as exc:
            problems.extend(exc.problems)
    for stack in project.stacks():
        try:
            load_checked(stack.spec_path, stack.environment)
        except SpecError as exc:
            problems.extend(exc.problems)
    if problems:
        raise SpecError(problems)


def _write_companions(staging: Path) -> None:
    """What the template cannot know: the JSON Schema of this mlstack, and the initial feature lock."""
    from mlstack.spec import load_all
    from mlstack.spec.feature_lock import read_lock, updated_lock
    from mlstack.spec.schema import render_schema

    schema = staging / "schema" / "mlstack.schema.json"
    schema.parent.mkdir(parents=True, exist_ok=True)
    schema.write_text(render_schema())
    for spec in find_project(explicit=staging).specs():
        environments = load_all(spec)
        if any(env.spec.feature_groups for env in environments.values()):
            lock = updated_lock(environments, read_lock(spec), ())
            lock.path.write_text(lock.render())


def _move_into(staging: Path, target: Path) -> None:
    if not target.exists():
        staging.rename(target)
        return
    for entry in sorted(staging.iterdir()):
        destination = target / entry.name
        if destination.is_dir() and not destination.is_symlink():
            shutil.rmtree(destination)
        elif destination.exists() or destination.is_symlink():
            destination.unlink()
        entry.rename(destination)
    staging.rmdir()


def scaffold(
    target: Path,
    answers: Mapping[str, Any],
    *,
    ask: bool,
    force: bool = False,
    template_source: str | None = None,
) -> Path:
    """Create the project in `target` from `answers`; ask copier's questions for the rest when `ask`.

    Raises ScaffoldError (unusable target or answers) or SpecError (the generated spec
    would not validate); in both cases nothing is written.
    """
    import copier
    from copier.errors import CopierError

    target = target.resolve()
    _check_target(target, force)
    source = template_source or os.environ.get(TEMPLATE_SOURCE_ENV) or ""
    data = {
        **{k: v for k, v in answers.items() if v is not None},
        "mlstack_requirement": requirement(),
        "template_source": source,
        "template_version": f"v{__version__}" if source else "",
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.mlstack-init-", dir=target.parent))
    try:
        try:
            copier.run_copy(
                str(TEMPLATE), staging, data=data, defaults=not ask, quiet=True, unsafe=False, overwrite=True
            )
        except (ValueError, CopierError) as exc:
            found = _QUESTION.search(str(exc))
            raise ScaffoldError(str(exc), found["name"] if found else None) from None
        try:
            _write_companions(staging)
            _validate(staging)
        except SpecError as exc:
            raise SpecError(_relabel(exc.problems, staging, target)) from None
        _move_into(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target
