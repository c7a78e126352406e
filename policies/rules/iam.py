"""IAM: least privilege in permissions, no blanket managed policies, scoped PassRole and trust.

Permissions documents are read from aws:iam/role:Role `inlinePolicies` and from the
`policy` of RolePolicy, Policy, UserPolicy and GroupPolicy, as JSON strings or mappings.
The statement helpers here are shared with the key and bucket policy rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from ._base import Meta, as_list, for_types, get, policy_document, resource_rule, shown

ROLE = "aws:iam/role:Role"
POLICY_TYPES = (
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/policy:Policy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
ATTACHMENT_TYPES = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
)
DEFAULT_FORBIDDEN_POLICY_ARNS = [
    "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess",
    "arn:aws:iam::aws:policy/AdministratorAccess",
]
# AWS's cross-service confused-deputy keys.
SOURCE_KEYS = {"aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths"}


# --- statement helpers (also used by kms.py and storage.py) --------------------------------
def label(statement: Mapping[str, Any], index: int) -> str:
    """'ReadAll' by Sid, or #2 by position when the statement has none."""
    sid = statement.get("Sid")
    return f"'{sid}'" if isinstance(sid, str) and sid else f"#{index}"


def listed(value: Any) -> list[Any]:
    """as_list that also takes the scalars a malformed document may hold (False, 3)."""
    return as_list(value) if isinstance(value, Iterable) or value is None else [value]


def strings(value: Any) -> list[str]:
    return [v for v in listed(value) if isinstance(v, str)]


def statements(document: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The document's statements, tolerating a scalar Statement (which _base.statements does not)."""
    return [s for s in listed(get(document, "Statement")) if isinstance(s, Mapping)]


def allows(statement: Mapping[str, Any]) -> bool:
    return statement.get("Effect") == "Allow"


def grants(statement: Mapping[str, Any], action: str) -> bool:
    """Whether the statement's Action (or the complement of its NotAction) covers `action`."""
    if "NotAction" in statement:
        return not any(fnmatchcase(action.lower(), p.lower()) for p in strings(statement.get("NotAction")))
    return any(fnmatchcase(action.lower(), p.lower()) for p in strings(statement.get("Action")))


def conditioned_on(statement: Mapping[str, Any], keys: set[str]) -> bool:
    """Whether a String*/Arn* condition pins one of `keys` (lower case) to values other than '*'.

    Negated and ...IfExists operators, Null and ForAllValues don't count: they all pass
    when the key is absent from the request, which is exactly the case to exclude.
    """
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return False
    for operator, clauses in condition.items():
        bare = str(operator).removeprefix("ForAnyValue:")
        if not bare.startswith(("String", "Arn")) or "Not" in bare or bare.endswith("IfExists"):
            continue
        if not isinstance(clauses, Mapping):
            continue
        for key, values in clauses.items():
            pinned = strings(values)
            if str(key).lower() in keys and pinned and "*" not in pinned:
                return True
    return False


def _documents(args: ResourceValidationArgs, report: ReportViolation) -> list[tuple[str, dict[str, Any] | None]]:
    """(prefix naming where it sits, document) of every permissions policy the resource defines.

    A document that can't be read is reported (fail closed), as is an inlinePolicies entry
    that is not a {name, policy} object."""
    if args.resource_type in POLICY_TYPES:
        return [("", policy_document(args.props.get("policy"), "policy", report))]
    documents = []
    for index, inline in enumerate(listed(args.props.get("inlinePolicies"))):
        if not isinstance(inline, Mapping):
            report(f"inline policy #{index} is {shown(inline)}, not an object with a name and a policy")
            continue
        name = inline.get("name")
        where = f"inline policy '{name}'" if isinstance(name, str) and name else f"inline policy #{index}"
        documents.append((f"{where}: ", policy_document(inline.get("policy"), f"{where}: policy", report)))
    return documents


def _allow_statements(args: ResourceValidationArgs, report: ReportViolation) -> list[tuple[str, Mapping[str, Any]]]:
    """(message prefix naming document and statement, statement) of every Allow statement."""
    return [
        (f"{where}statement {label(statement, index)}", statement)
        for where, document in _documents(args, report)
        for index, statement in enumerate(statements(document))
        if allows(statement)
    ]


# --- rules ----------------------------------------------------------------------------------
def _is_service_wildcard(action: str) -> bool:
    """'*', '*:*' or '<service>:*'; wildcards inside a name ('kms:GenerateDataKey*') are fine."""
    return action.strip() == "*" or bool(re.fullmatch(r"\s*[A-Za-z0-9*-]+:\*\s*", action))


@for_types(ROLE, *POLICY_TYPES)
def _no_wildcard_actions(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for where, statement in _allow_statements(args, report):
        if "NotAction" in statement:
            report(f"{where} allows every action but its NotAction list")
            continue
        wildcards = [a for a in strings(statement.get("Action")) if _is_service_wildcard(a)]
        if wildcards:
            report(f"{where} allows {', '.join(repr(a) for a in wildcards)} actions")


def _partitionless(arn: str) -> str:
    return re.sub(r"^arn:[^:]*:", "arn:aws:", arn.strip())


@for_types(ROLE, *ATTACHMENT_TYPES)
def _no_forbidden_managed_policies(args: ResourceValidationArgs, report: ReportViolation) -> None:
    configured = args.get_config().get("forbiddenPolicyArns", DEFAULT_FORBIDDEN_POLICY_ARNS)
    forbidden = {_partitionless(arn) for arn in strings(configured)}
    key = "managedPolicyArns" if args.resource_type == ROLE else "policyArn"
    for arn in strings(args.props.get(key)):
        if _partitionless(arn) in forbidden:
            report(f"attaches the forbidden managed policy {arn}")


@for_types(ROLE, *POLICY_TYPES)
def _passrole_scoped(args: ResourceValidationArgs, report: ReportViolation) -> None:
    require_service = args.get_config().get("requirePassedToService", True) is not False
    for where, statement in _allow_statements(args, report):
        if not grants(statement, "iam:PassRole"):
            continue
        if "*" in strings(statement.get("Resource")):
            report(f"{where} allows iam:PassRole on every role (Resource '*')")
        if require_service and not conditioned_on(statement, {"iam:passedtoservice"}):
            report(f"{where} allows iam:PassRole without an iam:PassedToService condition")


@for_types(ROLE)
def _trust_scoped(args: ResourceValidationArgs, report: ReportViolation) -> None:
    exempt = {s.lower() for s in strings(args.get_config().get("exemptServices", []))}
    document = policy_document(args.props.get("assumeRolePolicy"), "assumeRolePolicy", report)
    for index, statement in enumerate(statements(document)):
        principal = statement.get("Principal")
        named = strings(principal.get("Service")) if isinstance(principal, Mapping) else []
        services = [service for service in named if service.lower() not in exempt]
        if allows(statement) and services and not conditioned_on(statement, SOURCE_KEYS):
            report(
                f"statement {label(statement, index)} lets {', '.join(services)} assume the role "
                "without an aws:SourceAccount or aws:SourceArn condition"
            )


POLICIES = [
    resource_rule(
        "iam-no-wildcard-actions",
        Meta(
            description=(
                "No Allow statement grants every action ('*') or every action of a service ('s3:*'), "
                "nor uses NotAction. Wildcards inside an action name ('kms:GenerateDataKey*', "
                "'ec2:Describe*') are allowed: they stay within a named family of actions."
            ),
            severity=Severity.HIGH,
            controls=("CKV_AWS_63", "CKV_AWS_62", "IAM.1", "IAM.21"),
            fix="List the exact actions the workload calls, as mlstack's components do (components/_policy.py).",
        ),
        _no_wildcard_actions,
    ),
    resource_rule(
        "iam-no-sagemaker-full-access",
        Meta(
            description=(
                "No role or attachment uses a blanket AWS managed policy (by default AmazonSageMakerFullAccess "
                "and AdministratorAccess): they grant far more than any ML job needs."
            ),
            severity=Severity.HIGH,
            controls=("CKV_AWS_274",),
            fix="Attach a scoped inline policy instead; mlstack's SageMakerExecutionRole grants only what jobs use.",
            config={
                "forbiddenPolicyArns": {
                    "type": "array",
                    "items": {"type": "string"},
                    "default": DEFAULT_FORBIDDEN_POLICY_ARNS,
                    "description": "Managed policy ARNs no role, user or group may attach (any partition matches).",
                }
            },
        ),
        _no_forbidden_managed_policies,
    ),
    resource_rule(
        "iam-passrole-scoped",
        Meta(
            description=(
                "An Allow granting iam:PassRole (directly, via iam:* / '*', or via NotAction) names the roles "
                "it may pass (no Resource '*') and pins iam:PassedToService. Both are violations by default: "
                "without the condition a principal can hand even a named role to any service (Lambda, EC2, "
                "Glue) and run code with it, which is the privilege escalation PassRole scoping exists to stop."
            ),
            severity=Severity.HIGH,
            controls=(),
            fix=(
                "Set Resource to the role ARNs being passed and add "
                'Condition {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}.'
            ),
            config={
                "requirePassedToService": {
                    "type": "boolean",
                    "default": True,
                    "description": "Also require an iam:PassedToService condition (not only a scoped Resource).",
                }
            },
        ),
        _passrole_scoped,
    ),
    resource_rule(
        "iam-trust-scoped",
        Meta(
            description=(
                "A role's trust policy lets an AWS service assume it only on behalf of this account: every "
                "Allow with a Service principal carries aws:SourceAccount, aws:SourceArn, aws:SourceOrgID or "
                "aws:SourceOrgPaths (confused-deputy protection)."
            ),
            severity=Severity.MEDIUM,
            controls=(),
            fix='Add Condition {"StringEquals": {"aws:SourceAccount": "<account id>"}} to the trust statement.',
            config={
                "exemptServices": {
                    "type": "array",
                    "items": {"type": "string"},
                    "default": [],
                    "description": "Service principals that send no source keys when assuming a role.",
                }
            },
        ),
        _trust_scoped,
    ),
]
