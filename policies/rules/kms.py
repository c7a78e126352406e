"""KMS: customer managed keys that rotate, are not public and cannot vanish overnight; SNS uses them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from ._base import Meta, for_types, number, policy_document, resource_rule, truthy
from .iam import allows, conditioned_on, label, shown, statements, strings

KEY = "aws:kms/key:Key"
TOPIC = "aws:sns/topic:Topic"
AWS_RANGE = (7, 30)
DEFAULT_MINIMUM_DAYS = 30
# Condition keys that tie a caller to an account or organization.
ACCOUNT_KEYS = {
    "kms:calleraccount",
    "aws:principalaccount",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:sourceaccount",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
}


@for_types(KEY)
def _rotation(args: ResourceValidationArgs, report: ReportViolation) -> None:
    # AWS rotates only symmetric keys outside custom key stores; the others cannot comply.
    spec = args.props.get("customerMasterKeySpec")
    if (spec and spec != "SYMMETRIC_DEFAULT") or args.props.get("customKeyStoreId"):
        return
    value = args.props.get("enableKeyRotation")
    if not truthy(value):
        report(f"enableKeyRotation is {shown(value)}, must be true")


def _is_public(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and "*" in strings(principal.get("AWS"))


@for_types(KEY)
def _no_wildcard_principal(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for index, statement in enumerate(statements(policy_document(args.props.get("policy"), "policy", report))):
        if allows(statement) and _is_public(statement.get("Principal")) and not conditioned_on(statement, ACCOUNT_KEYS):
            report(
                f"statement {label(statement, index)} allows any principal ('*') "
                "without a condition on the caller's account or organization"
            )


@for_types(KEY)
def _deletion_window(args: ResourceValidationArgs, report: ReportViolation) -> None:
    minimum = number(args.get_config().get("minimumDays", DEFAULT_MINIMUM_DAYS)) or DEFAULT_MINIMUM_DAYS
    value = args.props.get("deletionWindowInDays")
    days = number(value) if value is not None else 30.0  # the provider's default is 30
    if days is None:
        report(f"deletionWindowInDays is {shown(value)}, not a number of days")
    elif not AWS_RANGE[0] <= days <= AWS_RANGE[1]:
        report(f"deletionWindowInDays is {days:g}, outside the {AWS_RANGE[0]}-{AWS_RANGE[1]} days AWS accepts")
    elif days < minimum:
        report(f"deletionWindowInDays is {days:g}, below the minimum of {minimum:g}")


def _aws_managed_sns_key(key: str) -> bool:
    return key == "alias/aws/sns" or key.endswith(":alias/aws/sns")


@for_types(TOPIC)
def _topic_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    key = args.props.get("kmsMasterKeyId")
    if not isinstance(key, str) or not key.strip():
        report("kmsMasterKeyId is unset: messages are not encrypted with a KMS key")
    elif _aws_managed_sns_key(key) and args.get_config().get("allowAwsManaged", False) is not True:
        report(f"kmsMasterKeyId is the AWS managed key {key}, not a customer managed key")


POLICIES = [
    resource_rule(
        "kms-key-rotation",
        Meta(
            description=(
                "Customer managed keys rotate their key material yearly (enableKeyRotation). Asymmetric, "
                "HMAC and custom-key-store keys are skipped: AWS cannot rotate them."
            ),
            severity=Severity.MEDIUM,
            controls=("CKV_AWS_7", "KMS.4"),
            fix="Set enable_key_rotation=True (mlstack's EncryptionKey does).",
        ),
        _rotation,
    ),
    resource_rule(
        "kms-no-wildcard-principal",
        Meta(
            description=(
                'No Allow statement of a key policy names principal \'*\' or {"AWS": "*"} unless a String/Arn '
                "condition pins the caller's account or organization (kms:CallerAccount, aws:PrincipalAccount, "
                "aws:PrincipalOrgID, aws:SourceAccount ...). Negated and IfExists conditions don't count."
            ),
            severity=Severity.CRITICAL,
            controls=("CKV_AWS_33", "KMS.5"),
            fix='Name the account root or roles as principals, or add {"StringEquals": {"kms:CallerAccount": "<id>"}}.',
        ),
        _no_wildcard_principal,
    ),
    resource_rule(
        "kms-deletion-window",
        Meta(
            description=(
                "A deleted key stays recoverable for at least minimumDays: everything it encrypted is lost "
                "with it. Unset means the AWS default of 30 days."
            ),
            severity=Severity.MEDIUM,
            controls=(),
            fix="Set deletion_window_in_days=30 (or at least the configured minimum; AWS accepts 7-30).",
            config={
                "minimumDays": {
                    "type": "integer",
                    "minimum": AWS_RANGE[0],
                    "maximum": AWS_RANGE[1],
                    "default": DEFAULT_MINIMUM_DAYS,
                    "description": "Shortest deletion window allowed, in days.",
                }
            },
        ),
        _deletion_window,
    ),
    resource_rule(
        "sns-topic-encrypted",
        Meta(
            description=(
                "SNS topics encrypt messages at rest with a customer managed KMS key, not the AWS managed "
                "alias/aws/sns, whose key policy cannot be scoped (and which EventBridge cannot use)."
            ),
            severity=Severity.MEDIUM,
            controls=("CKV_AWS_26", "SNS.1"),
            fix="Set kms_master_key_id to the project key's ARN (mlstack's NotificationTopic does).",
            config={
                "allowAwsManaged": {
                    "type": "boolean",
                    "default": False,
                    "description": "Accept the AWS managed key alias/aws/sns.",
                }
            },
        ),
        _topic_encrypted,
    ),
]
