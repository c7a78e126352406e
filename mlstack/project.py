"""Which ML project a command works on: the one place that decides.

A project is a directory with a `Pulumi.yaml` (as for `pulumi` itself): `--project
DIR`, else the nearest `Pulumi.yaml` from the current directory upward, as git and
pulumi search. From it come the stack config directory (`stackConfigDir`), the stacks
(`Pulumi.<stack>.yaml`), the spec each stack names (`mlstack:spec`, relative to the
project) and the feature lock beside that spec. There is no fallback: without a
project, commands stop and say how to start one. mlstack never reads a project from
where it is installed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from mlstack.spec import SpecError
from mlstack.spec.errors import display_path as display

PROJECT_FILE = "Pulumi.yaml"
DEFAULT_SPEC = "mlstack.yaml"
CONFIG_NAMESPACE = "mlstack"


class ProjectNotFound(Exception):
    """No Pulumi project where one was looked for."""


def _load_yaml(path: Path) -> tuple[CommentedMap, str]:
    """A YAML mapping with positions, or a located SpecError."""
    shown = display(path)
    try:
        root = YAML(typ="rt", pure=True).load(path.read_text(encoding="utf-8"))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise SpecError.single(shown, line, column, "", f"invalid YAML: {exc.problem or exc}") from None
    except (YAMLError, OSError, UnicodeDecodeError) as exc:
        raise SpecError.single(shown, 1, 1, "", f"cannot read {path.name}: {exc}") from None
    if root is None:
        root = CommentedMap()
    if not isinstance(root, CommentedMap):
        raise SpecError.single(shown, 1, 1, "", f"{path.name} must be a mapping")
    return root, shown


def _position(node: CommentedMap, key: str) -> tuple[int, int]:
    try:
        line, column = node.lc.key(key)
        return line + 1, column + 1
    except (KeyError, AttributeError, TypeError):
        return 1, 1


def _config_text(value: Any) -> str:
    """A config value as the engine hands it to the program: strings as-is, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


@dataclass(frozen=True)
class Stack:
    """One stack of a project: its config file and the flat config the program gets."""

    project: Project
    name: str
    file: Path
    config: dict[str, str]
    positions: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False, compare=False)
    """1-based (line, column) of each config key written in the stack file."""

    def position(self, key: str) -> tuple[int, int]:
        return self.positions.get(key, (1, 1))

    def get(self, key: str) -> str | None:
        """An `mlstack:` config value (e.g. "environment", "spec"): the namespace the program reads."""
        return self.config.get(f"{CONFIG_NAMESPACE}:{key}")

    @property
    def environment(self) -> str:
        """The spec environment this stack deploys (`mlstack:environment`, default: the stack name)."""
        return self.get("environment") or self.name

    @property
    def spec_path(self) -> Path:
        return self.project.resolve(self.get("spec") or self.project.default_spec)

    @property
    def region(self) -> str | None:
        return self.config.get("aws:region")

    @property
    def display(self) -> str:
        return display(self.file)


@dataclass(frozen=True)
class Project:
    """A Pulumi project directory that uses mlstack."""

    root: Path
    name: str
    config_dir: Path
    program: Path
    """What Pulumi runs: the `main` of Pulumi.yaml (a directory or a file), default the project directory."""
    declared: dict[str, Any] = field(default_factory=dict, repr=False)
    """Project-level config of Pulumi.yaml: full key -> value or declared default."""

    @property
    def file(self) -> Path:
        return self.root / PROJECT_FILE

    @property
    def default_spec(self) -> str:
        return str(self.declared.get(f"{CONFIG_NAMESPACE}:spec") or DEFAULT_SPEC)

    def resolve(self, path: str | Path) -> Path:
        """A path from the project's config, relative to the project directory."""
        candidate = Path(path)
        return candidate if candidate.is_absolute() else self.root / candidate

    @property
    def program_dir(self) -> Path:
        return self.program if self.program.is_dir() else self.program.parent

    def stack_names(self) -> list[str]:
        if not self.config_dir.is_dir():
            return []
        return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in self.config_dir.glob("Pulumi.*.yaml"))

    def stack(self, name: str) -> Stack:
        """A stack by name, with the config Pulumi would give its program; a located error when missing."""
        file = self.config_dir / f"Pulumi.{name}.yaml"
        if not file.is_file():
            known = ", ".join(self.stack_names()) or "none yet"
            raise SpecError.single(
                display(file),
                1,
                1,
                "",
                f"project '{self.name}' ({display(self.root) or '.'}) has no stack '{name}' (stacks: {known}); "
                f"add {display(file)} with at least `config: {{aws:region: ...}}`",
            )
        root, shown = _load_yaml(file)
        raw = root.get("config") or {}
        if not isinstance(raw, dict):
            line, column = _position(root, "config")
            raise SpecError.single(shown, line, column, "config", "must be a mapping of config keys to values")
        config = {k: _config_text(v) for k, v in self.declared.items()}
        positions: dict[str, tuple[int, int]] = {}
        for key, value in raw.items():
            config[self._qualified(str(key))] = _config_text(value)
            positions[self._qualified(str(key))] = _position(raw, key)
        return Stack(project=self, name=name, file=file, config=config, positions=positions)

    def stacks(self) -> list[Stack]:
        return [self.stack(name) for name in self.stack_names()]

    def specs(self) -> list[Path]:
        """Every spec a stack of this project names (the declared default when there are no stacks)."""
        paths = {stack.spec_path.resolve(): None for stack in self.stacks()}
        return list(paths) or [self.resolve(self.default_spec)]

    def _qualified(self, key: str) -> str:
        return key if ":" in key else f"{self.name}:{key}"


def _read_project(root: Path) -> Project:
    tree, shown = _load_yaml(root / PROJECT_FILE)
    name = tree.get("name")
    if not isinstance(name, str) or not name.strip():
        line, column = _position(tree, "name") if "name" in tree else (1, 1)
        raise SpecError.single(shown, line, column, "name", "a Pulumi project needs a name (e.g. `name: fraud-ml`)")
    config_dir = tree.get("stackConfigDir", ".")
    main = tree.get("main", ".")
    for key, value in (("stackConfigDir", config_dir), ("main", main)):
        if not isinstance(value, str):
            line, column = _position(tree, key)
            raise SpecError.single(shown, line, column, key, "must be a path relative to Pulumi.yaml")
    declared: dict[str, Any] = {}
    raw = tree.get("config") or {}
    if not isinstance(raw, dict):
        line, column = _position(tree, "config")
        raise SpecError.single(shown, line, column, "config", "must be a mapping of config keys")
    for key, entry in raw.items():
        full = str(key) if ":" in str(key) else f"{name}:{key}"
        if isinstance(entry, dict):
            if "value" in entry:
                declared[full] = entry["value"]
            elif "default" in entry:
                declared[full] = entry["default"]
        else:
            declared[full] = entry
    return Project(
        root=root, name=name, config_dir=root / config_dir, program=(root / main).resolve(), declared=declared
    )


def find_project(explicit: Path | None = None, start: Path | None = None) -> Project:
    """The project for a command: `explicit` (--project), else the nearest Pulumi.yaml upward from `start`."""
    if explicit is not None:
        root = explicit.resolve()
        if not (root / PROJECT_FILE).is_file():
            raise ProjectNotFound(
                f"no {PROJECT_FILE} in {display(root)} (given with --project).\n"
                f"Start a project there with: mlstack init {display(root)} --name NAME"
            )
        return _read_project(root)
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / PROJECT_FILE).is_file():
            return _read_project(directory)
    raise ProjectNotFound(
        f"no mlstack project here: looked for {PROJECT_FILE} in {here} and every directory above it.\n"
        "Run the command inside a project, point at one with --project DIR, "
        "or start one with: mlstack init DIR --name NAME"
    )


def project_of_program(program_file: str | Path) -> Project:
    """The project a Pulumi program file belongs to (Pulumi runs it from its own directory)."""
    return find_project(start=Path(program_file).resolve().parent)
