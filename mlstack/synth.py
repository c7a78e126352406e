"""Offline synthesis: run the real Pulumi program under the SDK's mocks and record it.

No Pulumi CLI, no provider plugin, no AWS credentials: the program in
`__main__.py` runs exactly as `pulumi preview` would run it, against a mock
monitor that records every registered resource (type, name, parent, inputs and
the options governance and diffs care about). Computed outputs (ids, ARNs) are
derived from names and inputs only, so the same spec always gives the same plan.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import re
import runpy
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks
from ruamel.yaml import YAML

from mlstack.feature_lock import additions, new_groups, read_lock
from mlstack.naming import Names
from mlstack.program import PROJECT_DIR, load_checked, spec_path
from mlstack.serving import STAND_IN, resolve_serving
from mlstack.spec import EnvironmentSpec, SpecError

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

    def as_dict(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "custom": self.custom,
            "provider": self.provider,
            "dependencies": list(self.dependencies),
            "inputs": _normalise(self.inputs),
            "options": _normalise(self.options),
        }


@dataclass(frozen=True)
class Plan:
    project: str
    stack: str
    environment: EnvironmentSpec
    resources: tuple[RecordedResource, ...]
    outputs: dict[str, Any]
    seconds: float = field(compare=False)
    schema_changes: dict[str, Any] = field(default_factory=dict)
    """Feature-group schema vs the lock: {"added": {group: [[name, type]]}, "new_groups": [...]}."""

    def of_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]

    def get(self, urn_suffix: str) -> RecordedResource:
        matches = [r for r in self.resources if r.urn.endswith(urn_suffix)]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources end with {urn_suffix!r}")
        return matches[0]

    def to_json(self) -> str:
        """Sorted, byte-identical for the same program, spec and config."""
        body = {
            "project": self.project,
            "stack": self.stack,
            "resources": [r.as_dict() for r in self.resources],
            "outputs": _normalise(self.outputs),
            "feature_schema_changes": _normalise(self.schema_changes),
        }
        return json.dumps(body, indent=2, sort_keys=True) + "\n"


def _normalise(value: Any) -> Any:
    """Plain JSON values: secrets and unknowns marked, integral floats as ints."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return SECRET
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if isinstance(value, pulumi.asset.FileAsset):
        # relative to the project, so plans are the same in every clone
        path = Path(str(value.path))
        return {"fileAsset": str(path.relative_to(PROJECT_DIR)) if path.is_relative_to(PROJECT_DIR) else path.name}
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == _UNKNOWN_VALUE:
        return UNKNOWN
    return value


# Inputs that carry a resource's own physical name, by preference.
PHYSICAL_NAME_KEYS = (
    "name",
    "bucket",
    "featureGroupName",
    "modelPackageGroupName",
    "modelCardName",
    "trackingServerName",
    "endpointName",
    "pipelineName",
    "monitoringScheduleName",
    "alarmName",
    "dashboardName",
)

# ARN formats where AWS does not follow `arn:aws:<service>:<region>:<account>:<kind>/<name>`.
_ARN_FORMATS = {
    "aws:s3/bucket:Bucket": "arn:aws:s3:::{name}",
    "aws:sns/topic:Topic": "arn:aws:sns:{region}:{account}:{name}",
    "aws:cloudwatch/eventRule:EventRule": "arn:aws:events:{region}:{account}:rule/{name}",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
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

        def make_urn(self, parent: str, type_: str, name: str) -> str:
            # As the engine builds URNs: the parent's full qualified type, and no
            # root-stack prefix (the SDK's mock keeps only the parent's last type).
            if parent:
                qualified = parent.split("::")[2]
                if qualified != "pulumi:pulumi:Stack":
                    type_ = f"{qualified}${type_}"
            return f"urn:pulumi:{stack_name()}::{project_name()}::{type_}::{name}"

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
                "aliases": sorted(a.urn or a.spec.name for a in request.aliases if a.urn or a.spec.name),
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


def read_stack_config(environment: str, project_dir: Path = PROJECT_DIR) -> tuple[str, dict[str, str]]:
    """(project name, flat config) for a stack, as `pulumi` would hand them to the program."""
    yaml = YAML(typ="safe", pure=True)
    project_file = yaml.load((project_dir / "Pulumi.yaml").read_text())
    project = str(project_file["name"])
    config_dir = project_dir / str(project_file.get("stackConfigDir", "."))
    stack_file = config_dir / f"Pulumi.{environment}.yaml"
    if not stack_file.exists():
        known = sorted(p.name.split(".")[1] for p in config_dir.glob("Pulumi.*.yaml"))
        raise SpecError.single(
            stack_file.relative_to(project_dir),
            1,
            1,
            "",
            f"no stack '{environment}' (stacks: {', '.join(known)})",
        )
    config: dict[str, str] = {}
    for key, value in ((yaml.load(stack_file.read_text()) or {}).get("config") or {}).items():
        full_key = key if ":" in key else f"{project}:{key}"
        config[full_key] = value if isinstance(value, str) else json.dumps(value)
    # Defaults declared in Pulumi.yaml apply when the stack does not set them.
    for key, declared in (project_file.get("config") or {}).items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(declared, dict) and "default" in declared:
            config.setdefault(full_key, str(declared["default"]))
    return project, config


def synthesize(
    environment: str, spec: Path | None = None, project_dir: Path = PROJECT_DIR, registry_snapshot: Path | None = None
) -> Plan:
    """Run the program for one stack offline. Raises SpecError for a bad spec or stack.

    Model versions come from `registry_snapshot` (see `mlstack models snapshot`) or,
    without one, from the explicit offline stand-in: offline never calls AWS.
    """
    started = time.perf_counter()
    project, config = read_stack_config(environment, project_dir)
    if spec is not None:
        config[f"{project}:spec"] = str(spec.resolve())
    config[f"{project}:registry"] = str(registry_snapshot.resolve()) if registry_snapshot else STAND_IN
    region = config.get("aws:region")
    if not region:
        raise SpecError.single(f"stacks/Pulumi.{environment}.yaml", 1, 1, "config", "aws:region is not set")
    stack_env = config.get(f"{project}:environment", environment)
    env = load_checked(spec_path(config.get(f"{project}:spec"), project_dir), stack_env)
    # Resolve model versions first, so a problem is a located spec error, not a program failure.
    resolve_serving(env, Names.for_environment(env, region), config[f"{project}:registry"])
    main = project_dir / "__main__.py"
    recorded, outputs = record(
        lambda: runpy.run_path(str(main), run_name="__main__"),
        project=project,
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
        project=project,
        stack=environment,
        environment=env,
        resources=tuple(recorded),
        outputs=outputs,
        seconds=time.perf_counter() - started,
    )


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

        _sync_await(run_pulumi_func(body))
        return sorted(monitor.recorded, key=lambda r: r.urn), outputs

    # A fresh context: the SDK keeps its settings and root resource in contextvars.
    return contextvars.Context().run(run)
