"""Read mlstack.yaml, merge an environment overlay, validate, and report with positions."""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from .errors import Problem, SpecError, display_path, format_path
from .limits import MAX_BYTES, LimitedParser, LimitExceeded, non_finite
from .locate import locate, to_problems
from .overlay import merge, named_items, position_of, to_plain
from .project_spec import TIERS, ProjectSpec, SpecFile, Tier
from .repair import validate_all

_ENV_NAME = re.compile(r"[a-z][a-z0-9]{1,9}")
_ENV_NAME_HELP = "environment names are 2-10 lowercase letters or digits, starting with a letter"


@dataclass(frozen=True)
class SpecDocument:
    """The parsed file: the base tree and one overlay tree per environment."""

    path: Path
    display: str
    base: CommentedMap
    overlays: dict[str, CommentedMap]
    root: CommentedMap
    resolved: dict[str, EnvironmentSpec] = field(default_factory=dict, compare=False, repr=False)
    """Environments already validated: a plan reads the spec twice (synthesis, then the program)."""

    @property
    def environments(self) -> list[str]:
        return list(self.overlays)


@dataclass(frozen=True)
class EnvironmentSpec:
    """The spec as one environment deploys it, with its settings resolved."""

    name: str
    tier: Tier
    account_id: str
    protect_stateful: bool
    allow_auto_approval: bool
    spec: ProjectSpec
    source: Path
    display: str = field(default="", compare=False)
    tree: Any = field(default=None, compare=False, repr=False)
    """The merged YAML tree, to point later checks at the line a value came from."""

    def problem(self, parts: tuple[str | int, ...], message: str, *, key: bool = True) -> Problem:
        """A problem located at `parts` of this environment's merged spec."""
        (line, column), _ = locate(self.tree, parts, key=key) if self.tree is not None else ((0, 0), ())
        return Problem(self.display or str(self.source), line + 1, column + 1, format_path(parts), message)


# Parsed documents by content: parsing and validating are the costly part of reading a spec,
# and one plan reads it twice (a watch re-reads it on every change of any watched file).
_DOCUMENTS: OrderedDict[tuple[bytes, str, str], SpecDocument] = OrderedDict()
_KEPT = 8


def read_document(path: Path) -> SpecDocument:
    """Parse the YAML (keeping positions) and split base from overlays."""
    display = display_path(path)
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)  # never more than the limit, whatever the file's size
    except FileNotFoundError:
        raise SpecError.single(display, 1, 1, "", "spec file not found") from None
    except OSError as exc:
        raise SpecError.single(display, 1, 1, "", f"cannot read the spec: {exc}") from None
    key = (hashlib.sha256(data).digest(), display, str(path))
    if key in _DOCUMENTS:
        _DOCUMENTS.move_to_end(key)
        return _DOCUMENTS[key]
    document = _parse_document(path, display, data)
    _DOCUMENTS[key] = document
    if len(_DOCUMENTS) > _KEPT:
        _DOCUMENTS.popitem(last=False)
    return document


def _parse_document(path: Path, display: str, data: bytes) -> SpecDocument:
    if len(data) > MAX_BYTES:
        raise SpecError.single(
            display, 1, 1, "", f"the spec is larger than {MAX_BYTES // 1024 // 1024} MiB; refusing to read it"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError.single(display, 1, 1, "", f"cannot read the spec: {exc}") from None
    yaml = YAML(typ="rt", pure=True)
    yaml.Parser = LimitedParser
    try:
        root = yaml.load(text)
    except LimitExceeded as exc:
        raise SpecError.single(display, exc.line + 1, exc.column + 1, "", exc.message) from None
    except ReaderError as exc:
        # a character YAML does not allow: ruamel gives its offset in the text, not a line
        offset = exc.position if isinstance(exc.position, int) else 0
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        what = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise SpecError.single(
            display, line, column, "", f"YAML syntax error: unacceptable character {what}: {exc.reason}"
        ) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        raise SpecError.single(display, line, column, "", f"YAML syntax error: {what}{context}") from None
    except YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpecError.single(display, 1, 1, "", f"YAML error: {first}") from None
    if not isinstance(root, CommentedMap):
        raise SpecError.single(display, 1, 1, "", "the spec must be a YAML mapping (key: value) at the top level")

    problems: list[Problem] = [
        Problem(display, line + 1, column + 1, format_path(parts), f"input should be a finite number (got {value})")
        for line, column, parts, value in non_finite(root)
    ]
    base = CommentedMap()
    base.lc.line, base.lc.col = root.lc.line, root.lc.col
    for key, value in root.items():
        if key != "environments":
            base[key] = value
            base.lc.add_kv_line_col(key, position_of(root, key))
    overlays: dict[str, CommentedMap] = {}
    environments = root.get("environments")
    if environments is None:
        problems.append(
            Problem(
                display,
                1,
                1,
                "environments",
                "missing required key 'environments' (e.g. dev, prod)",
            )
        )
    elif not isinstance(environments, CommentedMap) or not environments:
        (line, col), _ = locate(root, ("environments",))
        problems.append(Problem(display, line + 1, col + 1, "environments", "must map environment names to overlays"))
    else:
        for name, written in environments.items():
            (line, col), _ = locate(root, ("environments", name), key=True)
            where = f"environments.{name}"
            if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
                problems.append(Problem(display, line + 1, col + 1, where, _ENV_NAME_HELP))
                continue
            overlay = written
            if overlay is None:  # `prod:` with nothing under it
                overlay = CommentedMap()
                overlay.lc.line, overlay.lc.col = line, col
            if not isinstance(overlay, CommentedMap):
                problems.append(Problem(display, line + 1, col + 1, where, "an overlay must be a mapping"))
                continue
            if "environments" in overlay:
                (l2, c2), _ = locate(root, ("environments", name, "environments"), key=True)
                problems.append(Problem(display, l2 + 1, c2 + 1, f"{where}.environments", "overlays cannot nest"))
                continue
            overlays[name] = overlay
    if problems:
        raise SpecError(problems)
    return SpecDocument(path=path, display=display, base=base, overlays=overlays, root=root)


def resolve(document: SpecDocument, environment: str) -> EnvironmentSpec:
    """Merge the environment's overlay into the base and validate the result."""
    if environment not in document.overlays:
        known = ", ".join(document.environments)
        (line, col), _ = locate(document.root, ("environments",), key=True)
        raise SpecError.single(
            document.display,
            line + 1,
            col + 1,
            "environments",
            f"no environment '{environment}' (defined: {known})",
        )
    if environment in document.resolved:
        return document.resolved[environment]
    merged = merge(document.base, document.overlays[environment])
    context = {"environment": environment, "tree": merged}
    validated, errors = validate_all(ProjectSpec, to_plain(merged), context)
    if validated is None:
        errors, unknown = _unknown_in_base(document, environment, errors)
        raise SpecError([*to_problems(errors, merged, document.display, ProjectSpec), *unknown])
    assert isinstance(validated, ProjectSpec)
    spec = validated
    settings = spec.settings
    tier: Tier = settings.tier or environment  # type: ignore[assignment]  # checked by the validator
    assert tier in TIERS and settings.account_id is not None  # guaranteed by _environment_rules
    env = EnvironmentSpec(
        name=environment,
        tier=tier,
        account_id=settings.account_id,
        protect_stateful=settings.protect_stateful if settings.protect_stateful is not None else tier == "prod",
        allow_auto_approval=(
            settings.allow_auto_approval if settings.allow_auto_approval is not None else tier == "dev"
        ),
        spec=spec,
        source=document.path,
        display=document.display,
        tree=merged,
    )
    document.resolved[environment] = env
    return env


_NAMED_SECTIONS = (("models", "model"), ("feature_groups", "feature group"))


def _unknown_in_base(document: SpecDocument, environment: str, errors: list[Any]) -> tuple[list[Any], list[Problem]]:
    """An overlay item whose name is not in the base, and that is incomplete on its own, is most
    likely a misspelt name: say that once instead of listing the keys it lacks."""
    overlay = document.overlays[environment]
    problems: list[Problem] = []
    for section, kind in _NAMED_SECTIONS:
        items = overlay.get(section)
        base_items = document.base.get(section)
        if base_items is None:
            base_items = []
        if not named_items(items) or not named_items(base_items):
            continue
        base_names = [item["name"] for item in base_items]
        merged_index = len(base_items)
        for position, item in enumerate(items):
            if item["name"] in base_names:
                continue
            index, merged_index = merged_index, merged_index + 1
            below = [e for e in errors if tuple(e["loc"])[:2] == (section, index)]
            if not any(e["type"] == "missing" and len(e["loc"]) == 3 for e in below):
                continue  # a complete new item: its own problems say more
            errors = [e for e in errors if e not in below]
            parts = ("environments", environment, section, position)
            (line, column), _ = locate(document.root, parts)
            known = ", ".join(base_names) or "none"
            problems.append(
                Problem(
                    document.display,
                    line + 1,
                    column + 1,
                    format_path(parts),
                    f"no {kind} '{item['name']}' in the base spec ({section.replace('_', ' ')}: {known})",
                )
            )
    return errors, problems


def load_environment(path: Path, environment: str) -> EnvironmentSpec:
    """Read, merge and validate one environment of a spec file. Raises SpecError."""
    return resolve(read_document(path), environment)


def load_all(path: Path) -> dict[str, EnvironmentSpec]:
    """Validate every environment; problems of all environments are reported together.

    A problem found only in some environments says which.
    """
    document = read_document(path)
    found: dict[str, list[Problem]] = {}
    resolved: dict[str, EnvironmentSpec] = {}
    for name in document.environments:
        try:
            resolved[name] = resolve(document, name)
        except SpecError as exc:
            found[name] = exc.problems
    if found:
        raise SpecError(per_environment(found, document.environments))
    return resolved


def per_environment(found: Mapping[str, Sequence[Problem]], environments: Sequence[str]) -> list[Problem]:
    """Each environment's problems merged: one found in only some environments says which ("(in prod)")."""
    seen: dict[Problem, list[str]] = {}
    for name in environments:
        for problem in found.get(name, ()):
            seen.setdefault(problem, []).append(name)
    return [
        p
        if len(envs) == len(environments) or p.path.startswith("environments.")  # the path names its environment
        else Problem(p.file, p.line, p.column, p.path, f"{p.message} (in {', '.join(envs)})")
        for p, envs in seen.items()
    ]


__all__ = [
    "EnvironmentSpec",
    "SpecDocument",
    "SpecFile",
    "load_all",
    "load_environment",
    "per_environment",
    "read_document",
    "resolve",
]
