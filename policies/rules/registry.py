"""Model registry: who can read or change model packages, and how new versions arrive."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from ._base import Meta, as_list, for_types, get, policy_document, resource_rule, statements
from .sagemaker_jobs import PIPELINE, checked_steps, present, step_label

GROUP_POLICY = "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy"
MODEL_CARD = "aws:sagemaker/modelCard:ModelCard"
DEFAULT_APPROVAL_STATUSES = ["PendingManualApproval"]

# Sharing a registry means letting other accounts find and deploy versions, never change them.
_READ_VERBS = ("describe", "list", "get", "batchdescribe", "search")
_ACCOUNT = re.compile(r"\d{12}")


def _is_read(action: Any) -> bool:
    service, _, verb = str(action).lower().partition(":")
    return service == "sagemaker" and verb.startswith(_READ_VERBS)


def _account(arn_or_id: str) -> str | None:
    if _ACCOUNT.fullmatch(arn_or_id):
        return arn_or_id
    parts = arn_or_id.split(":")
    return parts[4] if arn_or_id.startswith("arn:") and len(parts) > 4 and _ACCOUNT.fullmatch(parts[4]) else None


def _aws_principals(principal: Any) -> list[str]:
    if isinstance(principal, str):
        return [principal]  # only "*" is valid here
    return [str(p) for p in as_list(get(principal, "AWS"))] if isinstance(principal, Mapping) else []


@for_types(GROUP_POLICY)
def _group_policy_scoped(args: ResourceValidationArgs, report: ReportViolation) -> None:
    document = policy_document(get(args.props, "resourcePolicy"), "resourcePolicy", report)
    if document is None:
        return  # unset, or reported as unreadable
    for index, statement in enumerate(statements(document), start=1):
        if statement.get("Effect") != "Allow":
            continue
        label = f"statement {statement.get('Sid') or f'#{index}'}"
        principals = _aws_principals(statement.get("Principal"))
        if "*" in principals:
            report(f"{label} allows any principal ('*')")
        # The owner is the account in the resource ARNs; unknown, every principal counts as external.
        owners = {_account(str(r)) for r in as_list(statement.get("Resource"))} - {None}
        external = [p for p in principals if _account(p) is None or _account(p) not in owners]
        if not external:
            continue
        writes = [str(a) for a in as_list(statement.get("Action")) if not _is_read(a)]
        if statement.get("NotAction") is not None:
            writes.append("NotAction")  # allows everything but a list: writes included
        if writes:
            report(f"{label} lets other accounts change model packages ({', '.join(writes)}); share read-only")


@for_types(MODEL_CARD)
def _model_card_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not present(get(args.props, "securityConfig", "kmsKeyId")):
        report("the model card is not encrypted with our KMS key (securityConfig.kmsKeyId)")


@for_types(PIPELINE)
def _registers_for_approval(args: ResourceValidationArgs, report: ReportViolation) -> None:
    allowed = [str(s) for s in as_list(args.get_config().get("allowedStatuses", DEFAULT_APPROVAL_STATUSES))]
    wanted = " or ".join(allowed)
    for step in checked_steps(args.props, report):
        if step.get("Type") != "RegisterModel":
            continue
        status = get(step, "Arguments", "ModelApprovalStatus")
        if status is None:
            report(f"{step_label(step)} does not set ModelApprovalStatus; set it to {wanted}")
        elif not isinstance(status, str):
            # A pipeline parameter: whoever starts an execution could register versions as Approved.
            report(f"{step_label(step)} takes ModelApprovalStatus from an expression; set it to {wanted}")
        elif status not in allowed:
            report(f"{step_label(step)} registers versions as {status}; set ModelApprovalStatus to {wanted}")


POLICIES = [
    resource_rule(
        "model-package-group-policy-scoped",
        Meta(
            description="A model package group's resource policy shares versions read-only: it allows no "
            "principal '*' and grants other accounts only Describe/List/Get actions. All tiers.",
            severity=Severity.HIGH,
            fix="List the deploying accounts in registry.share_with_accounts; mlstack grants them "
            "DescribeModelPackage, DescribeModelPackageGroup and ListModelPackages only. Approvals and new "
            "versions stay in the owning account.",
        ),
        _group_policy_scoped,
    ),
    resource_rule(
        "model-card-encrypted",
        Meta(
            description="Model cards (which can hold evaluation results and intended uses) are encrypted with a "
            "customer managed KMS key. All tiers.",
            severity=Severity.MEDIUM,
            fix="Set securityConfig.kmsKeyId on the ModelCard to the environment's KMS key (mlstack's "
            "ModelRegistry component does).",
        ),
        _model_card_encrypted,
    ),
    resource_rule(
        "pipeline-registers-for-approval",
        Meta(
            description="Pipelines register new model versions for human approval: every RegisterModel step "
            "(in Condition branches too) sets a literal, allowed ModelApprovalStatus. Meant for staging and "
            "prod (dev may auto-approve).",
            severity=Severity.HIGH,
            fix="Set registry.approval: manual for the model in mlstack.yaml (RegisterModel then uses "
            "PendingManualApproval); do not make the status a pipeline parameter.",
            config={
                "allowedStatuses": {
                    "type": "array",
                    "items": {"type": "string", "enum": ["PendingManualApproval", "Approved", "Rejected"]},
                    "default": DEFAULT_APPROVAL_STATUSES,
                    "description": "ModelApprovalStatus values a RegisterModel step may use.",
                }
            },
        ),
        _registers_for_approval,
    ),
]
