"""Run CrossGuard rules in-process: the test harness the policy SDK lacks.

`pulumi preview --policy-pack` runs the pack as a gRPC analyzer. For unit tests, for
`mlstack check`, and for platform teams writing their own rules, this module runs the
same `ResourceValidationPolicy` / `StackValidationPolicy` objects directly:

    from mlstack.policies.testing import Resource, run_pack
    report = run_pack(ALL_POLICIES, [Resource("aws:kms/key:Key", {"enableKeyRotation": False})])
    report.violations[0].message

Validation functions may be async: an awaitable they return is awaited, as the engine
does (on a fresh event loop), so an async rule's violations and unknowns count.

Props are wrapped like the engine wraps them: reading a value that is unknown during
preview (the engine's unknown sentinel) raises UnknownValueError, which is reported as
"not evaluated", never as a crash. Config follows the policy-pack config file format
(`{"all": "advisory", "<rule>": "mandatory" | {"enforcementLevel": ..., <param>: ...}}`),
with parameter defaults taken from each rule's config schema, as the engine does.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""The engine's marker for a value not known until the update runs (use it in fixtures)."""

DELETE = object()
"""With `mutate`: remove the key instead of setting it."""


def mutate(props: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of a fixture with `a.b.0.c` set to `value` (or removed with DELETE):
    one mutation per requirement, as compliance tests want."""
    out = copy.deepcopy(dict(props))
    *parents, last = [int(k) if k.isdigit() else k for k in path.split(".")]
    node: Any = out
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return out


@dataclass(frozen=True)
class Resource:
    """A resource as a policy sees it. Build one by hand or from an mlstack plan entry."""

    type: str
    props: Mapping[str, Any]
    urn: str = ""
    name: str = ""
    protect: bool = False
    ignore_changes: Sequence[str] = ()
    parent: str = ""
    dependencies: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.type.rsplit(":", 1)[-1].lower())
        if not self.urn:
            object.__setattr__(self, "urn", f"urn:pulumi:test::project::{self.type}::{self.name}")

    @classmethod
    def from_plan(cls, entry: Mapping[str, Any]) -> Resource:
        """From one element of `mlstack plan --json`'s "resources"."""
        options = entry.get("options") or {}
        return cls(
            type=entry["type"],
            props=entry.get("inputs") or {},
            urn=entry["urn"],
            name=entry["name"],
            protect=bool(options.get("protect")),
            ignore_changes=tuple(options.get("ignore_changes") or ()),
            parent=entry.get("parent") or "",
            dependencies=tuple(entry.get("dependencies") or ()),
        )

    def options(self) -> PolicyResourceOptions:
        return PolicyResourceOptions(
            protect=self.protect,
            ignore_changes=list(self.ignore_changes),
            delete_before_replace=None,
            aliases=[],
            custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
            additional_secret_outputs=[],
            parent=self.parent or None,
        )


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str
    """advisory or mandatory."""
    severity: str
    message: str
    urn: str
    fix: str = ""


@dataclass
class Report:
    violations: list[Violation] = field(default_factory=list)
    not_evaluated: list[tuple[str, str, str]] = field(default_factory=list)
    """(policy, urn, reason): rules that met a value unknown until deploy time."""
    evaluated: int = 0
    """How many (rule, resource) or (rule, stack) checks ran."""

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "mandatory"]

    def messages(self, policy: str | None = None) -> list[str]:
        return [v.message for v in self.violations if policy is None or v.policy == policy]

    def policies(self) -> set[str]:
        return {v.policy for v in self.violations}

    def extend(self, other: Report) -> None:
        self.violations += other.violations
        self.not_evaluated += other.not_evaluated
        self.evaluated += other.evaluated


def _schema_defaults(policy: Policy) -> dict[str, Any]:
    schema = policy.config_schema
    if schema is None:
        return {}
    return {key: spec["default"] for key, spec in schema.properties.items() if "default" in spec}


def resolve_config(policy: Policy, config: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """(enforcement level, parameters) of one rule under a policy-pack config document."""
    level = (policy.enforcement_level or EnforcementLevel.ADVISORY).value
    params = _schema_defaults(policy)
    for key in ("all", policy.name):
        entry = (config or {}).get(key)
        if isinstance(entry, str):
            level = entry
        elif isinstance(entry, Mapping):
            level = str(entry.get("enforcementLevel", level))
            if key == policy.name:
                params.update({k: v for k, v in entry.items() if k != "enforcementLevel"})
    if level not in {e.value for e in EnforcementLevel}:
        raise ValueError(f"policy {policy.name}: unknown enforcement level {level!r}")
    return level, params


def _reporter(policy: Policy, level: str, default_urn: str, report: Report):  # type: ignore[no-untyped-def]
    def report_violation(message: str, urn: str | None = None) -> None:
        report.violations.append(
            Violation(
                policy=policy.name,
                level="mandatory" if level == "remediate" else level,
                severity=policy.severity.value if policy.severity else "",
                message=message,
                urn=urn or default_urn,
                fix=policy.remediation_steps or "",
            )
        )

    return report_violation


def _run(validate: Any, args: Any, report_violation: Any) -> None:
    """One validation, awaiting what it returns if that is awaitable (the engine does the same)."""
    result = validate(args, report_violation)
    if result is not None and isawaitable(result):
        _await(result)


def _await(awaitable: Awaitable[Any]) -> None:
    async def wait() -> None:
        await awaitable

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(wait())
    finally:
        loop.close()


@dataclass(frozen=True)
class _Prepared:
    """What the engine builds per resource (wrapped props, options), built once per run_pack."""

    resources: list[Resource]
    props: list[Any]
    options: list[PolicyResourceOptions]

    @classmethod
    def of(cls, resources: Iterable[Resource]) -> _Prepared:
        resources = list(resources)
        return cls(
            resources,
            [unknown_checking_proxy(dict(resource.props)) for resource in resources],
            [resource.options() for resource in resources],
        )


def run_resource_policy(
    policy: ResourceValidationPolicy, resources: Iterable[Resource], config: Mapping[str, Any] | None = None
) -> Report:
    return _run_resource_policy(policy, _Prepared.of(resources), config)


def _run_resource_policy(
    policy: ResourceValidationPolicy, prepared: _Prepared, config: Mapping[str, Any] | None
) -> Report:
    report = Report()
    level, params = resolve_config(policy, config)
    if level == "disabled":
        return report
    for resource, props, options in zip(prepared.resources, prepared.props, prepared.options, strict=True):
        args = ResourceValidationArgs(resource.type, props, resource.urn, resource.name, options, None, params)
        report.evaluated += 1
        try:
            _run(policy.validate, args, _reporter(policy, level, resource.urn, report))
        except UnknownValueError as unknown:
            report.not_evaluated.append((policy.name, resource.urn, unknown.message))
    return report


def policy_resources(resources: Sequence[Resource]) -> list[PolicyResource]:
    """Stack-policy views of the resources, with parents and dependencies linked."""
    return _policy_resources(_Prepared.of(resources))


def _policy_resources(prepared: _Prepared) -> list[PolicyResource]:
    by_urn: dict[str, PolicyResource] = {}
    for resource, props, options in zip(prepared.resources, prepared.props, prepared.options, strict=True):
        by_urn[resource.urn] = PolicyResource(
            resource.type, props, resource.urn, resource.name, options, None, None, [], {}
        )
    for resource in prepared.resources:
        view = by_urn[resource.urn]
        view.parent = by_urn.get(resource.parent)
        view.dependencies = [by_urn[d] for d in resource.dependencies if d in by_urn]
    return list(by_urn.values())


def run_stack_policy(
    policy: StackValidationPolicy, resources: Sequence[Resource], config: Mapping[str, Any] | None = None
) -> Report:
    return _run_stack_policy(policy, policy_resources(resources), config)


def _run_stack_policy(
    policy: StackValidationPolicy, view: list[PolicyResource], config: Mapping[str, Any] | None
) -> Report:
    report = Report()
    level, params = resolve_config(policy, config)
    if level == "disabled":
        return report
    report.evaluated += 1
    try:
        _run(policy.validate, StackValidationArgs(view, params), _reporter(policy, level, "", report))
    except UnknownValueError as unknown:
        report.not_evaluated.append((policy.name, "", unknown.message))
    return report


def run_pack(
    policies: Iterable[Policy], resources: Sequence[Resource], config: Mapping[str, Any] | None = None
) -> Report:
    """Every rule over every resource (resource rules) and over the stack (stack rules).

    The wrapped props, the options and the stack view are built once per run and shared
    by every rule (the engine rebuilds them per rule; rules only read them, so the result
    is the same, in time linear in the stack's size).
    """
    report = Report()
    prepared = _Prepared.of(resources)
    view: list[PolicyResource] | None = None
    for policy in policies:
        if isinstance(policy, StackValidationPolicy):
            view = _policy_resources(prepared) if view is None else view
            report.extend(_run_stack_policy(policy, view, config))
        elif isinstance(policy, ResourceValidationPolicy):
            report.extend(_run_resource_policy(policy, prepared, config))
    return report
