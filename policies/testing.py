"""Run CrossGuard rules in-process: the test harness the policy SDK lacks.

`pulumi preview --policy-pack` runs the pack as a gRPC analyzer. For unit tests, for
`mlstack check`, and for platform teams writing their own rules, this module runs the
same `ResourceValidationPolicy` / `StackValidationPolicy` objects directly:

    from mlstack.policies.testing import Resource, run_pack
    report = run_pack(ALL_POLICIES, [Resource("aws:kms/key:Key", {"enableKeyRotation": False})])
    report.violations[0].message

Props are wrapped like the engine wraps them: reading a value that is unknown during
preview (the engine's unknown sentinel) raises UnknownValueError, which is reported as
"not evaluated", never as a crash. Config follows the policy-pack config file format
(`{"all": "advisory", "<rule>": "mandatory" | {"enforcementLevel": ..., <param>: ...}}`),
with parameter defaults taken from each rule's config schema, as the engine does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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


def run_resource_policy(
    policy: ResourceValidationPolicy, resources: Iterable[Resource], config: Mapping[str, Any] | None = None
) -> Report:
    report = Report()
    level, params = resolve_config(policy, config)
    if level == "disabled":
        return report
    for resource in resources:
        args = ResourceValidationArgs(
            resource.type,
            unknown_checking_proxy(dict(resource.props)),
            resource.urn,
            resource.name,
            resource.options(),
            None,
            params,
        )
        report.evaluated += 1
        try:
            policy.validate(args, _reporter(policy, level, resource.urn, report))
        except UnknownValueError as unknown:
            report.not_evaluated.append((policy.name, resource.urn, unknown.message))
    return report


def policy_resources(resources: Sequence[Resource]) -> list[PolicyResource]:
    """Stack-policy views of the resources, with parents and dependencies linked."""
    by_urn: dict[str, PolicyResource] = {}
    for resource in resources:
        by_urn[resource.urn] = PolicyResource(
            resource.type,
            unknown_checking_proxy(dict(resource.props)),
            resource.urn,
            resource.name,
            resource.options(),
            None,
            None,
            [],
            {},
        )
    for resource in resources:
        view = by_urn[resource.urn]
        view.parent = by_urn.get(resource.parent)
        view.dependencies = [by_urn[d] for d in resource.dependencies if d in by_urn]
    return list(by_urn.values())


def run_stack_policy(
    policy: StackValidationPolicy, resources: Sequence[Resource], config: Mapping[str, Any] | None = None
) -> Report:
    report = Report()
    level, params = resolve_config(policy, config)
    if level == "disabled":
        return report
    report.evaluated += 1
    try:
        policy.validate(StackValidationArgs(policy_resources(resources), params), _reporter(policy, level, "", report))
    except UnknownValueError as unknown:
        report.not_evaluated.append((policy.name, "", unknown.message))
    return report


def run_pack(
    policies: Iterable[Policy], resources: Sequence[Resource], config: Mapping[str, Any] | None = None
) -> Report:
    """Every rule over every resource (resource rules) and over the stack (stack rules)."""
    report = Report()
    for policy in policies:
        if isinstance(policy, StackValidationPolicy):
            report.extend(run_stack_policy(policy, resources, config))
        elif isinstance(policy, ResourceValidationPolicy):
            report.extend(run_resource_policy(policy, resources, config))
    return report
