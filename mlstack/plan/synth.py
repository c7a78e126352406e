"""Offline synthesis: run the real Pulumi program under the SDK's mocks and record it.

No Pulumi CLI, no provider plugin, no AWS credentials: the program in
program (Pulumi.yaml's `main`, by default the project's `__main__.py`) runs exactly as
`pulumi preview` would run it — from its own directory, that directory first on
`sys.path`, the stack's config set — against a mock
monitor that records every registered resource (type, name, parent, inputs and
the options governance and diffs care about). Computed outputs (ids, ARNs) are
derived from names and inputs only, so the same spec always gives the same plan.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import hmac
import json
import os
import re
import runpy
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks

from mlstack import __version__, shared_package_dir
from mlstack.collection import collection_paused
from mlstack.plan.physical_names import PHYSICAL_NAME_KEYS
from mlstack.program import load_checked
from mlstack.project import Project, display, find_project
from mlstack.spec import EnvironmentSpec, SpecError
from mlstack.spec.feature_lock import additions, new_groups, read_lock
from mlstack.spec.naming import Names
from mlstack.wiring.batch import resolve_versions
from mlstack.wiring.serving import STAND_IN

SECRET = "[secret]"
UNKNOWN = "[unknown]"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SIG_KEY = "4dabf18193072939515e22adb298388d"
_UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@dataclass(frozen=True)
class RecordedResource:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    provider: str
    dependencies: tuple[str, ...]
    inputs: dict[str, Any]
    options: dict[str, Any]

    def as_dict(self, root: Path | None = None) -> dict[str, Any]:
        """Plain JSON; file assets are shown relative to `root` (the project) or to mlstack."""
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "custom": self.custom,
            "provider": self.provider,
            "dependencies": list(self.dependencies),
            "inputs": _normalise(self.inputs, root),
            "options": _normalise(self.options, root),
        }


@dataclass(frozen=True)
class Plan:
    project: str
    stack: str
    environment: EnvironmentSpec
    resources: tuple[RecordedResource, ...]
    outputs: dict[str, Any]
    seconds: float = field(compare=False)
    root: Path | None = field(default=None, compare=False)
    """The project directory the plan was made from."""
    stack_file: Path | None = field(default=None, compare=False)
    schema_changes: dict[str, Any] = field(default_factory=dict)
    """Feature-group schema vs the lock: {"added": {group: [[name, type]]}, "new_groups": [...]}."""

    def of_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]

    def get(self, urn_suffix: str) -> RecordedResource:
        matches = [r for r in self.resources if r.urn.endswith(urn_suffix)]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources end with {urn_suffix!r}")
        return matches[0]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON: what `mlstack plan --json` writes and `mlstack diff` compares."""
        env = self.environment
        spec = Path(env.source).resolve()
        return {
            "project": self.project,
            "stack": self.stack,
            "environment": {
                "name": env.name,
                "tier": env.tier,
                "account_id": env.account_id,
                "protect_stateful": env.protect_stateful,
                "spec": _asset_path(spec, self.root),
                "spec_sha256": hashlib.sha256(spec.read_bytes()).hexdigest() if spec.is_file() else None,
                "stack_file": _asset_path(self.stack_file.resolve(), self.root) if self.stack_file else None,
            },
            "mlstack": __version__,
            "resources": [r.as_dict(self.root) for r in self.resources],
            "outputs": _normalise(self.outputs, self.root),
            "feature_schema_changes": _normalise(self.schema_changes, self.root),
        }

    def to_json(self, extra: dict[str, Any] | None = None) -> str:
        """Sorted, byte-identical for the same program, spec and config."""
        return json.dumps({**self.as_dict(), **(extra or {})}, indent=2, sort_keys=True) + "\n"


def _asset_path(path: Path, root: Path | None) -> str:
    """A file asset's path that is the same in every clone and every install."""
    if root is not None and path.is_relative_to(root):
        return path.relative_to(root).as_posix()
    shared = shared_package_dir("pipelines")
    if path.is_relative_to(shared):
        return f"mlstack/pipelines/{path.relative_to(shared).as_posix()}"
    return path.name


def _secret(value: Any) -> str:
    """`[secret]`; within one `mlstack diff` (its key in the environment) a digest both sides can compare."""
    key = os.environ.get("MLSTACK_SECRET_DIGEST_KEY")
    if not key:
        return SECRET
    digest = hmac.new(key.encode(), json.dumps(value, sort_keys=True, default=str).encode(), hashlib.sha256)
    return f"[secret:{digest.hexdigest()[:16]}]"


def _normalise(value: Any, root: Path | None = None) -> Any:
    """Plain JSON values: secrets and unknowns marked, integral floats as ints."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return _secret(value.get("value"))
        return {str(k): _normalise(v, root) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v, root) for v in value]
    if isinstance(value, pulumi.asset.FileAsset):
        return {"fileAsset": _asset_path(Path(str(value.path)).resolve(), root)}
    if isinstance(value, pulumi.asset.AssetArchive):
        return {"archive": {name: _normalise(asset, root) for name, asset in sorted(value.assets.items())}}
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == _UNKNOWN_VALUE:
        return UNKNOWN
    return value


# ARN formats where AWS does not follow `arn:aws:<service>:<region>:<account>:<kind>/<name>`.
_ARN_FORMATS = {
    "aws:s3/bucket:Bucket": "arn:aws:s3:::{name}",
    "aws:sns/topic:Topic": "arn:aws:sns:{region}:{account}:{name}",
    "aws:cloudwatch/eventRule:EventRule": "arn:aws:events:{region}:{account}:rule/{name}",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
    # Composite alarms share the metric alarms' format (there is no composite-alarm resource type).
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": "arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
    "aws:cloudwatch/dashboard:Dashboard": "arn:aws:cloudwatch::{account}:dashboard/{name}",
    # The provider strips the ":*" the API appends to a log group's ARN.
    "aws:cloudwatch/logGroup:LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}",
    "aws:lambda/function:Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    # An alias's name already starts with "alias/".
    "aws:kms/alias:Alias": "arn:aws:kms:{region}:{account}:{name}",
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": (
        "arn:aws:sagemaker:{region}:{account}:endpoint-config/{name}"
    ),
    "aws:scheduler/schedule:Schedule": "arn:aws:scheduler:{region}:{account}:schedule/default/{name}",
}


def _kebab(kind: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", kind).lower()


class DeterministicMocks(Mocks):
    """Answers the program's registrations with outputs derived from inputs and names."""

    def __init__(self, region: str, account_id: str) -> None:
        self.region = region
        self.account_id = account_id

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        physical = next((str(inputs[k]) for k in PHYSICAL_NAME_KEYS if isinstance(inputs.get(k), str)), args.name)
        fields = {"region": self.region, "account": self.account_id, "name": physical}
        outputs: dict[str, Any] = {}
        if args.typ == "aws:kms/key:Key":
            key_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.account_id}/{args.name}"))
            return key_id, {
                "keyId": key_id,
                "arn": f"arn:aws:kms:{self.region}:{self.account_id}:key/{key_id}",
                **inputs,
            }
        if args.typ in _ARN_FORMATS:
            outputs["arn"] = _ARN_FORMATS[args.typ].format(**fields)
        elif args.typ.startswith("aws:iam/"):
            kind = args.typ.rsplit(":", 1)[-1]
            outputs["arn"] = f"arn:aws:iam::{self.account_id}:{_kebab(kind)}/{physical}"
        elif args.typ.startswith("aws:"):
            service = args.typ.split(":")[1].split("/")[0]
            kind = _kebab(args.typ.rsplit(":", 1)[-1])
            outputs["arn"] = f"arn:aws:{service}:{self.region}:{self.account_id}:{kind}/{physical}"
        else:
            digest = hashlib.sha256(f"{args.typ}/{args.name}".encode()).hexdigest()[:12]
            physical = f"{args.name}-{digest}"
        if args.typ == "aws:s3/bucket:Bucket":
            outputs["bucket"] = physical
        state = {**outputs, **inputs}
        if args.typ == "aws:sagemaker/featureGroup:FeatureGroup":
            self._resolve_offline_store(state, physical)
        return physical, state

    def _resolve_offline_store(self, state: dict[str, Any], group: str) -> None:
        """SageMaker's offline-store path embeds the creation time; offline it is a fixed stand-in."""
        storage = (state.get("offlineStoreConfig") or {}).get("s3StorageConfig")
        if isinstance(storage, dict) and isinstance(storage.get("s3Uri"), str):
            storage["resolvedOutputS3Uri"] = (
                f"{storage['s3Uri'].rstrip('/')}/{self.account_id}/sagemaker/{self.region}"
                f"/offline-store/{group}-0000000000/data"
            )

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": self.account_id,
                "arn": f"arn:aws:iam::{self.account_id}:root",
                "id": self.account_id,
            }, None
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}, None
        return {}, None


def _recording_monitor_class() -> type:
    from pulumi.runtime import rpc
    from pulumi.runtime.mocks import MockMonitor
    from pulumi.runtime.settings import get_project as project_name
    from pulumi.runtime.settings import get_stack as stack_name

    class RecordingMonitor(MockMonitor):  # type: ignore[misc]
        """The SDK's mock monitor, also keeping what a plan and the policies need."""

        def __init__(self, mocks: Any) -> None:
            super().__init__(mocks)
            self.recorded: list[RecordedResource] = []

        def make_urn(self, parent: str, type_: str, name: str, stack: str = "", project: str = "") -> str:
            # As the engine builds URNs: the parent's full qualified type, and no
            # root-stack prefix (the SDK's mock keeps only the parent's last type).
            if parent:
                qualified = parent.split("::")[2]
                if qualified != "pulumi:pulumi:Stack":
                    type_ = f"{qualified}${type_}"
            return f"urn:pulumi:{stack or stack_name()}::{project or project_name()}::{type_}::{name}"

        def alias_urn(self, request: Any, alias: Any) -> str:
            """An alias as the URN the engine matches old state by (spec aliases default to this resource's parts)."""
            if alias.urn:
                return str(alias.urn)
            spec = alias.spec
            parent = "" if spec.noParent else (spec.parentUrn or request.parent)
            return self.make_urn(
                parent, spec.type or request.type, spec.name or request.name, stack=spec.stack, project=spec.project
            )

        def RegisterResource(self, request: Any) -> Any:
            response = super().RegisterResource(request)
            if request.type == "pulumi:pulumi:Stack":
                return response
            inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
            inputs.pop("__provider", None)  # dynamic providers carry a pickled provider
            timeouts = request.customTimeouts
            options = {
                "protect": bool(request.protect),
                "retain_on_delete": bool(request.retainOnDelete),
                "delete_before_replace": bool(request.deleteBeforeReplace),
                "ignore_changes": sorted(request.ignoreChanges),
                "replace_on_changes": sorted(request.replaceOnChanges),
                "custom_timeouts": {
                    k: getattr(timeouts, k) for k in ("create", "update", "delete") if getattr(timeouts, k)
                },
                "aliases": sorted(self.alias_urn(request, alias) for alias in request.aliases),
            }
            self.recorded.append(
                RecordedResource(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent,
                    custom=bool(request.custom),
                    provider=request.provider,
                    dependencies=tuple(sorted(set(request.dependencies))),
                    inputs=dict(inputs),
                    options=options,
                )
            )
            return response

    return RecordingMonitor


def synthesize(
    environment: str,
    spec: Path | None = None,
    project: Project | None = None,
    registry_snapshot: Path | None = None,
) -> Plan:
    """Run the program of one stack offline. Raises SpecError for a bad spec or stack.

    `project` defaults to the one found from the current directory (as every command
    does). Model versions come from `registry_snapshot` (see `mlstack models snapshot`)
    or, without one, from the explicit offline stand-in: offline never calls AWS.
    """
    started = time.perf_counter()
    project = project or find_project()
    stack = project.stack(environment)
    config = dict(stack.config)
    if spec is not None:
        config["mlstack:spec"] = str(spec.resolve())
    config["mlstack:registry"] = str(registry_snapshot.resolve()) if registry_snapshot else STAND_IN
    region = stack.region
    if not region:
        raise SpecError.single(stack.display, 1, 1, "config", "aws:region is not set (e.g. `aws:region: eu-west-1`)")
    env = load_checked(project.resolve(config.get("mlstack:spec") or project.default_spec), stack.environment)
    # Resolve model versions first, so a problem is a located spec error, not a program failure.
    resolve_versions(env, Names.for_environment(env, region), config["mlstack:registry"])
    recorded, outputs = record(
        lambda: run_program(project),
        project=project.name,
        stack=environment,
        region=region,
        account_id=env.account_id,
        config=config,
    )
    lock = read_lock(env.source)
    changes = {
        "lock_file": lock.path.name if lock.exists else None,
        "added": additions(env, lock),
        "new_groups": new_groups(env, lock),
    }
    return Plan(
        schema_changes=changes,
        project=project.name,
        stack=environment,
        environment=env,
        resources=tuple(recorded),
        outputs=outputs,
        seconds=time.perf_counter() - started,
        root=project.root,
        stack_file=stack.file,
    )


def run_program(project: Project) -> None:
    """Run the project's program as Pulumi's Python host does: from its directory, which
    `runpy` puts first on `sys.path`, as `__main__`. Modules the program imported from the
    project are forgotten afterwards, so one process can plan several projects."""
    program = project.program
    if not program.exists():
        raise SpecError.single(display(project.file), 1, 1, "main", f"the program {display(program)} does not exist")
    if program.is_dir() and not (program / "__main__.py").is_file():
        raise SpecError.single(
            display(project.file),
            1,
            1,
            "main",
            f"no __main__.py in {display(program)}: a project's program is "
            "`from mlstack.program import run` and `run()` (see `mlstack init`)",
        )
    before = set(sys.modules)
    try:
        with contextlib.chdir(project.program_dir):
            runpy.run_path(str(program), run_name="__main__")
    finally:
        installed = Path(sys.prefix).resolve()  # a project's .venv may sit inside the project
        for name in set(sys.modules) - before:
            origin = getattr(sys.modules[name], "__file__", None)
            if not origin or name.partition(".")[0] == "mlstack":
                continue
            path = Path(origin).resolve()
            if path.is_relative_to(project.root) and not path.is_relative_to(installed):
                del sys.modules[name]


def record(
    program: Callable[[], object],
    *,
    project: str = "project",
    stack: str = "test",
    region: str = "eu-west-1",
    account_id: str = "123456789012",
    config: dict[str, str] | None = None,
) -> tuple[list[RecordedResource], dict[str, Any]]:
    """Run any Pulumi program function under the recording mocks, in a fresh SDK context.

    Returns the recorded resources (sorted by URN) and the stack outputs. Used for the
    stack synthesis and by component tests: `record(lambda: Endpoint("x", args))`.
    """
    from pulumi.runtime import set_all_config, set_mocks, settings
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    def run() -> tuple[list[RecordedResource], dict[str, Any]]:
        monitor = _recording_monitor_class()(DeterministicMocks(region, account_id))
        set_all_config(config or {"aws:region": region})
        set_mocks(monitor.mocks, project=project, stack=stack, preview=True, monitor=monitor)
        outputs: dict[str, Any] = {}

        def body() -> None:
            program()
            exported = getattr(settings.get_root_resource(), "outputs", {})
            outputs.update(_sync_await(pulumi.Output.from_input(exported).future()) or {})

        with _no_source_positions():
            _sync_await(run_pulumi_func(body))
        return sorted(monitor.recorded, key=lambda r: r.urn), outputs

    # A fresh context: the SDK keeps its settings and root resource in contextvars.
    # Collection resumes afterwards, so a long-lived process (`plan --watch`, the tests) frees
    # what a plan left.
    with collection_paused():
        return contextvars.Context().run(run)


@contextlib.contextmanager
def _no_source_positions() -> Iterator[None]:
    """Skip the SDK's per-resource stack capture while recording offline.

    Every resource registration walks the whole Python stack and turns each frame's file into
    a URI, for the engine's source positions; the mocks drop them. Only the offline recording
    skips it (`pulumi up` is untouched), and where a later SDK renames the hook, nothing is
    skipped: the plan is the same, just slower (tests/test_plan_foundation.py checks the hook).
    """
    from pulumi.runtime import resource as sdk_resource

    original = getattr(sdk_resource, "_get_stack_trace", None)
    if original is None:
        yield
        return
    from pulumi.runtime.proto import source_pb2

    sdk_resource._get_stack_trace = source_pb2.StackTrace  # an empty trace: no position
    try:
        yield
    finally:
        sdk_resource._get_stack_trace = original
