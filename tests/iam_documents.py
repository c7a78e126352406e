"""The IAM policy documents of an offline plan, and a small evaluator for what they allow.

`documents(plan)` finds every policy document the plan defines (role inline policies and
RolePolicy resources, trust policies, bucket, key, topic and model-package-group policies),
each with a label for messages and, where the document's resources are implicit (a trust
policy's role, a key policy's `*`), the ARN pattern they stand for.

`allowed(statements, action, resource, context)` evaluates identity-style statements the
way IAM does for one request: an explicit Deny wins, otherwise some Allow must match the
action, the resource and every condition. It knows the condition operators mlstack uses
and raises on any other, so a test can never pass because a condition was skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

UNKNOWN_MARKERS = ("[unknown]", "[secret]")

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
KEY = "aws:kms/key:Key"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
PACKAGE_GROUP_POLICY = "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy"
LOG_RESOURCE_POLICY = "aws:cloudwatch/logResourcePolicy:LogResourcePolicy"

# Resource type -> input holding a policy document (besides a Role's inline policies).
DOCUMENT_INPUTS = {
    ROLE: "assumeRolePolicy",
    ROLE_POLICY: "policy",
    "aws:iam/policy:Policy": "policy",
    BUCKET_POLICY: "policy",
    KEY: "policy",
    TOPIC_POLICY: "policy",
    PACKAGE_GROUP_POLICY: "resourcePolicy",
    LOG_RESOURCE_POLICY: "policyDocument",
}


@dataclass(frozen=True)
class Document:
    """One policy document of the plan."""

    label: str
    """Where it sits, for messages: "role card-fraud-dev-mlflow (policy mlflow-policy)"."""
    resource_type: str
    resource_name: str
    document: dict[str, Any] | None
    """The parsed document; None when it is unknown (or secret) at plan time."""
    raw: Any
    implied_resource: str | None = None
    """ARN pattern a statement without Resource (trust policy) or with `*` (key policy) stands for."""
    identity: bool = False
    """An identity-based policy (a role's permissions), as opposed to a resource-based one."""
    role: str | None = None
    """The role the document belongs to (its permissions or its trust policy)."""

    def statements(self) -> list[dict[str, Any]]:
        if self.document is None:
            return []
        return [s for s in listed(self.document.get("Statement")) if isinstance(s, dict)]


def _parse(raw: Any) -> dict[str, Any] | None:
    if isinstance(raw, Mapping):
        return dict(raw)
    if not isinstance(raw, str) or any(raw == marker for marker in UNKNOWN_MARKERS):
        return None
    return json.loads(raw)


def documents(plan: Any) -> list[Document]:
    """Every policy document in the plan, in plan order."""
    found: list[Document] = []
    for resource in plan.resources:
        inputs = resource.inputs
        key = DOCUMENT_INPUTS.get(resource.type)
        if key is None or key not in inputs:
            continue
        raw = inputs[key]
        if resource.type == ROLE:
            name = inputs.get("name", resource.name)
            found.append(
                Document(
                    f"role {name} (trust policy)",
                    resource.type,
                    resource.name,
                    _parse(raw),
                    raw,
                    implied_resource=f"arn:aws:iam::*:role/{name}",
                    role=name,
                )
            )
            for index, inline in enumerate(inputs.get("inlinePolicies") or []):
                inline_raw = inline.get("policy") if isinstance(inline, Mapping) else None
                found.append(
                    Document(
                        f"role {name} (inline policy {inline.get('name') or index})",
                        resource.type,
                        resource.name,
                        _parse(inline_raw),
                        inline_raw,
                        identity=True,
                        role=name,
                    )
                )
            continue
        if resource.type == ROLE_POLICY:
            label = f"role {inputs.get('role')} (policy {resource.name})"
        elif resource.type == BUCKET_POLICY:
            label = f"bucket {inputs.get('bucket')} (bucket policy)"
        elif resource.type == KEY:
            label = f"key {resource.name} (key policy)"
        elif resource.type == TOPIC_POLICY:
            label = f"topic {str(inputs.get('arn')).rsplit(':', 1)[-1]} (topic policy)"
        elif resource.type == PACKAGE_GROUP_POLICY:
            label = f"model package group {inputs.get('modelPackageGroupName')} (resource policy)"
        else:
            label = f"{resource.type.rsplit(':', 1)[-1]} {resource.name}"
        found.append(
            Document(
                label,
                resource.type,
                resource.name,
                _parse(raw),
                raw,
                # In a key policy, Resource "*" means "this key".
                implied_resource="arn:aws:kms:*:*:key/*" if resource.type == KEY else None,
                identity=resource.type in (ROLE_POLICY, "aws:iam/policy:Policy"),
                role=inputs.get("role") if resource.type == ROLE_POLICY else None,
            )
        )
    return found


def role_statements(plan: Any, role_name: str) -> list[dict[str, Any]]:
    """Every permissions statement of the role: its inline policies and RolePolicy resources."""
    return [s for doc in documents(plan) if doc.identity and doc.role == role_name for s in doc.statements()]


def role_name_of(arn: str) -> str:
    """The role name in arn:aws:iam::<account>:role/<path/>name."""
    return arn.rsplit("/", 1)[-1]


# --- matching ---------------------------------------------------------------------------------
def listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


@cache
def _glob(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    """IAM's globbing: `*` any run of characters (across `:` and `/`), `?` any one character."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", 0 if case_sensitive else re.IGNORECASE)


def glob_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    return bool(_glob(pattern, case_sensitive).match(value))


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(glob_match(p, action, case_sensitive=False) for p in listed(statement["NotAction"]))
    return any(glob_match(p, action, case_sensitive=False) for p in listed(statement.get("Action")))


def _resource_matches(statement: Mapping[str, Any], resource: str) -> bool:
    if "NotResource" in statement:
        return not any(glob_match(p, resource) for p in listed(statement["NotResource"]))
    return any(glob_match(p, resource) for p in listed(statement.get("Resource")))


def _context_values(context: Mapping[str, Any], key: str) -> list[str] | None:
    for name, value in context.items():
        if name.lower() == key.lower():
            return [str(v) for v in listed(value)]
    return None


def _operator_holds(operator: str, key: str, expected: Sequence[str], context: Mapping[str, Any]) -> bool:
    values = _context_values(context, key)
    if operator == "Null":
        return (values is None) == (str(expected[0]).lower() == "true")
    qualifier, _, bare = operator.rpartition(":")
    if_exists = bare.endswith("IfExists")
    bare = bare.removesuffix("IfExists")
    if values is None:
        # Absent keys: positive operators fail, negated ones (and ...IfExists) pass.
        return if_exists or "Not" in bare
    compare = {
        "StringEquals": lambda v, e: v == e,
        "StringNotEquals": lambda v, e: v != e,
        "StringEqualsIgnoreCase": lambda v, e: v.lower() == e.lower(),
        "StringLike": lambda v, e: glob_match(e, v),
        "StringNotLike": lambda v, e: not glob_match(e, v),
        "ArnEquals": lambda v, e: v == e,
        "ArnLike": lambda v, e: glob_match(e, v),
        "ArnNotEquals": lambda v, e: v != e,
        "ArnNotLike": lambda v, e: not glob_match(e, v),
        "Bool": lambda v, e: v.lower() == e.lower(),
    }.get(bare)
    if compare is None:
        raise NotImplementedError(f"condition operator {operator} is not evaluated by tests/iam_documents.py")
    negated = "Not" in bare

    def one(value: str) -> bool:
        results = [compare(value, str(e)) for e in expected]
        return all(results) if negated else any(results)

    if qualifier == "ForAllValues":
        return all(one(v) for v in values)
    return any(one(v) for v in values)


def _conditions_hold(statement: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    for operator, clauses in (statement.get("Condition") or {}).items():
        for key, expected in clauses.items():
            if not _operator_holds(operator, key, [str(e) for e in listed(expected)], context):
                return False
    return True


def allowed(
    statements: Iterable[Mapping[str, Any]], action: str, resource: str, context: Mapping[str, Any] | None = None
) -> bool:
    """Whether the statements allow `action` on `resource` for a request carrying `context` keys."""
    context = context or {}
    allow = False
    for statement in statements:
        if not (_action_matches(statement, action) and _resource_matches(statement, resource)):
            continue
        if not _conditions_hold(statement, context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allow = allow or statement.get("Effect") == "Allow"
    return allow


@dataclass(frozen=True)
class Grant:
    """One (action pattern, resource pattern) pair an Allow statement names, with its conditions."""

    action: str
    resource: str
    condition: Mapping[str, Any] = field(default_factory=dict)


def grants_on(statements: Iterable[Mapping[str, Any]], needle: str) -> list[Grant]:
    """Every Allow (action, resource) pair whose resource mentions `needle` (e.g. a bucket name)."""
    out = []
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        for resource in listed(statement.get("Resource")):
            if needle in str(resource):
                out += [Grant(a, str(resource), statement.get("Condition") or {}) for a in listed(statement["Action"])]
    return out
