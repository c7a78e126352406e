"""What every rule module shares: metadata, the rule constructors, and prop helpers.

Rules see resources as the engine sends them: camelCase input names, numbers that may
be floats, and, during `pulumi preview`, values that may still be unknown. Under the
real engine an unknown value raises UnknownValueError when read (the policy SDK turns
that into "can't run during preview"); the in-process harness does the same. So rules
read props freely and never guess at unknowns.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

ResourceCheck = Callable[[ResourceValidationArgs, ReportViolation], Awaitable[None] | None]
StackCheck = Callable[[StackValidationArgs, ReportViolation], Awaitable[None] | None]


@dataclass(frozen=True)
class Meta:
    """What a reviewer needs to know about a rule besides its code."""

    description: str
    severity: Severity
    controls: Sequence[str] = ()
    """External controls it covers: checkov CKV_AWS_*, Security Hub SageMaker.* ..."""
    fix: str = ""
    """How to comply, shown with every violation."""
    config: Mapping[str, Mapping[str, Any]] | None = None
    """JSON-schema properties of the rule's parameters (enforcementLevel is implicit)."""


def _framework(controls: Sequence[str]) -> PolicyComplianceFramework | None:
    if not controls:
        return None
    return PolicyComplianceFramework(name="mlstack", version="1", reference=", ".join(controls))


def _common(name: str, meta: Meta) -> dict[str, Any]:
    return {
        "name": name,
        "description": meta.description,
        "enforcement_level": EnforcementLevel.MANDATORY,
        "severity": meta.severity,
        "framework": _framework(meta.controls),
        "tags": ["mlstack", *meta.controls],
        "remediation_steps": meta.fix or None,
        "config_schema": PolicyConfigSchema(properties=dict(meta.config)) if meta.config else None,
    }


def resource_rule(name: str, meta: Meta, check: ResourceCheck) -> ResourceValidationPolicy:
    return ResourceValidationPolicy(validate=check, **_common(name, meta))


def stack_rule(name: str, meta: Meta, check: StackCheck) -> StackValidationPolicy:
    return StackValidationPolicy(validate=check, **_common(name, meta))


def for_types(*types: str) -> Callable[[ResourceCheck], ResourceCheck]:
    """Run a resource check only on these resource types."""

    def wrap(check: ResourceCheck) -> ResourceCheck:
        def run(args: ResourceValidationArgs, report: ReportViolation) -> Any:
            # Returned, not dropped: an async check's awaitable must reach whoever runs the rule.
            return check(args, report) if args.resource_type in types else None

        run.__doc__ = check.__doc__
        return run

    return wrap


# --- prop helpers ------------------------------------------------------------------------
def get(props: Any, *path: str | int) -> Any:
    """props[a][b]... or None where any step is missing (lists and dicts alike)."""
    node = props
    for key in path:
        if node is None:
            return None
        if isinstance(key, int):
            node = node[key] if isinstance(node, Sequence) and not isinstance(node, str) and key < len(node) else None
        else:
            node = node.get(key) if isinstance(node, Mapping) else None
    return node


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, Mapping)) or not isinstance(value, Iterable):
        return [value]
    return list(value)


def shown(value: Any) -> str:
    """How a value appears in a message: true / false / unset / 'text' / 3 / a list / an object."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return repr(value)
    return "an object" if isinstance(value, Mapping) else "a list"


def policy_document(value: Any, what: str, report: ReportViolation) -> dict[str, Any] | None:
    """A policy document from a JSON string or an already-parsed mapping, or None when unset.

    Fails closed: a document that cannot be read (not valid JSON, JSON that is not an
    object, a number or a list where a document belongs) is reported under `what` (the
    prop's name) and returned as None, so no rule passes a policy it could not read.
    """
    if value is None:
        return None
    if isinstance(value, Mapping):
        return dict(value)
    if not isinstance(value, str):
        report(f"{what} is {shown(value)}, not a policy document (a JSON string or an object)")
        return None
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError) as error:
        report(f"{what} is not valid JSON: {error}")
        return None
    if not isinstance(parsed, dict):
        report(f"{what} is not a JSON object: it holds {shown(parsed)}")
        return None
    return parsed


def statements(document: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    return [s for s in as_list(get(document, "Statement")) if isinstance(s, Mapping)]


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
