"""The two sides of `mlstack diff`: the base (a git ref or a saved plan) and the head (the working tree).

Both are planned offline by the installed mlstack, each in its own process and at the
same time. The base is a detached `git worktree` of the ref (by default the merge base
with the default branch, else HEAD), so the working tree is never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlstack.plan.diff import EMPTY_PLAN
from mlstack.project import PROJECT_FILE, Project, display

# Shared by the two planning processes of one diff: secrets become comparable digests
# ("[secret:…]") that mean nothing once the diff is done (the key is never written).
SECRET_DIGEST_KEY = "MLSTACK_SECRET_DIGEST_KEY"


class DiffInputError(Exception):
    """A ref, file or side that cannot be planned (exit 2)."""


@dataclass(frozen=True)
class Side:
    plan: dict[str, Any]
    source: str
    """Where this side came from, for the report: a commit, a file, the working tree."""
    sha: str | None = None


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise DiffInputError(done.stderr.strip() or f"git {' '.join(args)} failed")
    return done.stdout.strip()


def repository_of(project: Project) -> Path | None:
    try:
        return Path(_git(project.root, "rev-parse", "--show-toplevel"))
    except (DiffInputError, FileNotFoundError):
        return None


def default_base(repo: Path) -> tuple[str, str]:
    """(sha, description): the merge base of HEAD with the default branch, else HEAD."""
    candidates = []
    with contextlib.suppress(DiffInputError):
        candidates.append(_git(repo, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD"))
    candidates += ["origin/main", "origin/master", "main", "master"]
    head = _git(repo, "rev-parse", "HEAD")
    for branch in candidates:
        try:
            _git(repo, "rev-parse", "--verify", "--quiet", f"{branch}^{{commit}}")
            base = _git(repo, "merge-base", "HEAD", branch)
        except DiffInputError:
            continue
        if base != head:
            return base, f"merge base of HEAD and {branch}"
        return base, f"HEAD (on {branch})"
    return head, "HEAD"


def resolve_ref(repo: Path, ref: str) -> str:
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except DiffInputError:
        raise DiffInputError(f"--base {ref!r} is not a commit of {display(repo)}") from None


@contextlib.contextmanager
def worktree(repo: Path, sha: str) -> Iterator[Path]:
    """A detached checkout of `sha`, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="mlstack-diff-base-") as parent:
        path = Path(parent) / "base"
        _git(repo, "worktree", "add", "--detach", "--quiet", str(path), sha)
        try:
            yield path
        finally:
            with contextlib.suppress(DiffInputError):
                _git(repo, "worktree", "remove", "--force", str(path))


def read_plan_file(path: Path) -> dict[str, Any]:
    try:
        body = json.loads(path.read_text())
    except FileNotFoundError:
        raise DiffInputError(f"--base-plan {display(path)}: no such file") from None
    except (OSError, ValueError) as exc:
        raise DiffInputError(f"--base-plan {display(path)}: not a plan (`mlstack plan --json`): {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("resources"), list):
        raise DiffInputError(f"--base-plan {display(path)}: not a plan (`mlstack plan --json`): no resources list")
    return body


class _Planning:
    """`mlstack plan STACK --json --check` of one project directory, in its own process."""

    def __init__(self, project_dir: Path, stack: str, out: Path, env: dict[str, str], spec: Path | None) -> None:
        command = [sys.executable, "-m", "mlstack", "plan", stack, "--json", "--check"]
        command += ["--project", str(project_dir), "-o", str(out)]
        if spec is not None:
            command += ["--spec", str(spec.resolve())]
        self.out = out
        # From a neutral directory: `python -m` puts the working directory first on sys.path,
        # and a checkout of mlstack itself must not replace the installed one.
        self.process = subprocess.Popen(
            command, cwd=out.parent, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )

    def result(self, what: str) -> dict[str, Any]:
        _, stderr = self.process.communicate()
        if self.process.returncode != 0:
            raise DiffInputError(f"{what} does not plan:\n{stderr.strip()}")
        return json.loads(self.out.read_text())


def plan_sides(
    project: Project,
    stack: str,
    *,
    base_ref: str | None = None,
    base_plan: Path | None = None,
    spec: Path | None = None,
) -> tuple[Side, Side]:
    """Plan base and head at the same time; raise DiffInputError for anything that cannot be planned."""
    repo = repository_of(project)
    # Bad input (a file, a ref) fails before anything is planned.
    saved = Side(read_plan_file(base_plan), f"saved plan {display(base_plan)}") if base_plan is not None else None
    commit: tuple[Path, str, str] | None = None
    if saved is None:
        if repo is None:
            raise DiffInputError(
                f"{display(project.root)} is not in a git repository: give the base as --base-plan FILE "
                "(e.g. the `mlstack plan --json` of the last deploy)"
            )
        sha, described = (resolve_ref(repo, base_ref), f"--base {base_ref}") if base_ref else default_base(repo)
        commit = (repo, sha, f"{described} ({sha[:12]})")
    head_source, head_sha = _head_source(project, repo)
    env = {**os.environ, SECRET_DIGEST_KEY: secrets.token_hex(16)}
    with tempfile.TemporaryDirectory(prefix="mlstack-diff-") as scratch:
        head = _Planning(project.root, stack, Path(scratch) / "head.json", env, spec)
        try:
            if saved is not None:
                base = saved
            else:
                assert commit is not None  # no saved plan: a commit was resolved above
                base = _git_side(project, stack, *commit, Path(scratch), env)
        finally:
            head_plan = head.result(f"the head ({head_source})")
    return base, Side(head_plan, head_source, head_sha)


def _head_source(project: Project, repo: Path | None) -> tuple[str, str | None]:
    if repo is None:
        return "working tree", None
    try:
        sha = _git(repo, "rev-parse", "HEAD")
        dirty = _git(repo, "status", "--porcelain", "--", str(project.root))
    except DiffInputError:
        return "working tree (no commit yet)", None
    return f"working tree at {sha[:12]}{' with uncommitted changes' if dirty else ''}", sha


def _git_side(
    project: Project, stack: str, repo: Path, sha: str, source: str, scratch: Path, env: dict[str, str]
) -> Side:
    relative = project.root.resolve().relative_to(repo.resolve())
    with worktree(repo, sha) as checkout:
        base_project = checkout / relative
        if not (base_project / PROJECT_FILE).is_file():
            return Side(dict(EMPTY_PLAN), f"{source}: the project did not exist", sha)
        config_dir = base_project / project.config_dir.relative_to(project.root)
        if not (config_dir / f"Pulumi.{stack}.yaml").is_file():
            return Side(dict(EMPTY_PLAN), f"{source}: stack {stack} did not exist", sha)
        planned = _Planning(base_project, stack, scratch / "base.json", env, None)
        return Side(planned.result(f"the base ({source})"), source, sha)
