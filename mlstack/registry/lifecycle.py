"""A model's registered versions, and the decisions on them: list, approve/reject, promote.

Plain boto3 on clients the caller makes (so tests point them at moto's server). Every
expected failure is a LifecycleError with a message the user can act on; the CLI prints
it and exits 2. Writes are single calls made only after every check has passed, so a
refused command leaves nothing half-written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from . import audit
from .versions import APPROVED, PENDING, REJECTED, LiveRegistry


class LifecycleError(Exception):
    """The command cannot do what was asked; the message says why and what to do."""


@dataclass(frozen=True)
class Gate:
    """The spec's quality gate, to judge a version's evaluation metrics."""

    metric: str
    comparison: str
    threshold: float

    def verdict(self, metrics: dict[str, float]) -> bool | None:
        """True/False when the metric is known, None when the version has no such metric."""
        value = metrics.get(self.metric)
        if value is None:
            return None
        return {
            "GreaterThanOrEqualTo": value >= self.threshold,
            "GreaterThan": value > self.threshold,
            "LessThanOrEqualTo": value <= self.threshold,
            "LessThan": value < self.threshold,
        }[self.comparison]

    def describe(self) -> str:
        return f"{self.metric} {self.comparison} {self.threshold:g}"


@dataclass
class Version:
    version: int
    arn: str
    status: str
    created: str | None
    description: str = ""
    """ApprovalDescription: the reason of the last decision."""
    metadata: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    evaluation_uri: str | None = None
    package: dict[str, Any] = field(default_factory=dict, repr=False)
    serving: list[str] = field(default_factory=list)
    """Endpoints whose live configuration serves this version."""

    @property
    def decided_by(self) -> str | None:
        return self.metadata.get(audit.DECIDED_BY)

    @property
    def decided_at(self) -> str | None:
        return self.metadata.get(audit.DECIDED_AT)


def aws_message(error: Exception) -> str:
    """A botocore error as one line: the code and AWS's own message."""
    response = getattr(error, "response", None) or {}
    detail = response.get("Error", {})
    if detail:
        return f"{detail.get('Code', 'Error')}: {detail.get('Message', '')}".strip()
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def is_not_found(error: Exception) -> bool:
    detail = (getattr(error, "response", None) or {}).get("Error", {})
    text = f"{detail.get('Code', '')} {detail.get('Message', '')}".lower()
    return "notfound" in text.replace(" ", "") or "does not exist" in text or "could not find" in text


# --- reading ----------------------------------------------------------------------------------
def summaries(sagemaker: Any, group: str) -> list[dict[str, Any]]:
    """Every version summary of `group`, oldest first (paginated: groups hold hundreds)."""
    if not LiveRegistry(sagemaker).exists(group):  # ListModelPackages of an unknown group is just empty
        raise LifecycleError(f"no model package group {group} (has the stack been deployed?)")
    pages = sagemaker.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Ascending"
    )
    found = [summary for page in pages for summary in page.get("ModelPackageSummaryList", [])]
    return sorted(found, key=lambda summary: summary["ModelPackageVersion"])


def read_version(sagemaker: Any, s3: Any | None, summary: dict[str, Any]) -> Version:
    package = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
    created = package.get("CreationTime")
    version = Version(
        version=int(package.get("ModelPackageVersion", summary["ModelPackageVersion"])),
        arn=package["ModelPackageArn"],
        status=package.get("ModelApprovalStatus", summary.get("ModelApprovalStatus", "")),
        created=created.isoformat() if hasattr(created, "isoformat") else created,
        description=package.get("ApprovalDescription", "") or "",
        metadata=dict(package.get("CustomerMetadataProperties") or {}),
        package=package,
    )
    statistics = package.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {})
    version.evaluation_uri = statistics.get("S3Uri")
    if s3 is not None and version.evaluation_uri:
        version.metrics = read_metrics(s3, version.evaluation_uri)
    return version


def read_json(s3: Any, uri: str) -> Any:
    """The JSON document at an s3:// URI; None when it cannot be read (shown as missing, not a failure)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except Exception:
        return None


def read_metrics(s3: Any, uri: str) -> dict[str, float]:
    """evaluation.json's metrics ({"metrics": {name: {"value": v}}}); empty when unreadable."""
    body = read_json(s3, uri)
    try:
        return {name: float(entry["value"]) for name, entry in body["metrics"].items()}
    except (TypeError, KeyError, ValueError, AttributeError):
        return {}


def find(versions: list[dict[str, Any]], number: int, group: str) -> dict[str, Any]:
    for summary in versions:
        if summary["ModelPackageVersion"] == number:
            return summary
    known = ", ".join(str(s["ModelPackageVersion"]) for s in versions) or "none"
    if len(versions) > 20:
        known = f"1-{versions[-1]['ModelPackageVersion']}, {len(versions)} in all"
    raise LifecycleError(f"{group} has no version {number} (versions: {known})")


def served_packages(sagemaker: Any, endpoint: str) -> list[str]:
    """The model package ARNs the endpoint's live configuration serves; [] when there is no endpoint."""
    try:
        config_name = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    except Exception as error:
        if is_not_found(error):
            return []
        raise
    config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    arns = []
    for variant in config.get("ProductionVariants", []):
        model = sagemaker.describe_model(ModelName=variant["ModelName"])
        containers = [model.get("PrimaryContainer") or {}, *model.get("Containers", [])]
        arns += [c["ModelPackageName"] for c in containers if c.get("ModelPackageName")]
    return arns


# --- deciding ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    changed: bool
    message: str


def decide(
    sagemaker: Any,
    version: Version,
    status: str,
    reason: str,
    who: audit.Caller,
    *,
    gate: Gate | None,
    force: bool,
) -> Outcome:
    """Approve or reject `version` with a reason, recording who and when on the package."""
    assert status in (APPROVED, REJECTED)
    reason = reason.strip()
    if not reason:
        raise LifecycleError("give a --reason: it is the audit trail of the decision")
    if len(reason) > 1024:
        raise LifecycleError(f"--reason is {len(reason)} characters; AWS keeps at most 1024")
    verb = "approved" if status == APPROVED else "rejected"
    if version.status == status:
        return Outcome(False, f"version {version.version} is already {verb}; nothing changed")
    needs_force: list[str] = []
    if status == APPROVED and version.status == REJECTED:
        needs_force.append(f"version {version.version} was rejected ({version.description or 'no reason given'})")
    if status == APPROVED and gate is not None and gate.verdict(version.metrics) is False:
        value = version.metrics[gate.metric]
        needs_force.append(f"it failed the quality gate ({gate.metric} = {value:g}; the gate is {gate.describe()})")
    if needs_force and not force:
        raise LifecycleError(
            f"not approving: {'; and '.join(needs_force)}. If it must serve anyway, add --force and say why in --reason"
        )
    properties = audit.merged(version.metadata, audit.decision(status, who, forced=bool(needs_force)))
    sagemaker.update_model_package(
        ModelPackageArn=version.arn,
        ModelApprovalStatus=status,
        ApprovalDescription=reason,
        CustomerMetadataProperties=properties,
    )
    return Outcome(True, f"{verb} version {version.version} as {who.arn}: {reason}")


# --- promoting --------------------------------------------------------------------------------
# What a promoted version carries over from its source, as CreateModelPackage takes it.
_CARRIED = ("InferenceSpecification", "ModelMetrics", "DriftCheckBaselines", "Domain", "Task", "SamplePayloadUrl")


def already_promoted(sagemaker: Any, target_group: str, source_arn: str) -> Version | None:
    """The target version promoted from `source_arn`, if there is one (newest first)."""
    for summary in reversed(summaries(sagemaker, target_group)):
        package = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        if (package.get("CustomerMetadataProperties") or {}).get(audit.PROMOTED_FROM) == source_arn:
            return read_version(sagemaker, None, summary)
    return None


def promote(
    sagemaker: Any,
    source: Version,
    source_account: str,
    target_group: str,
    reason: str,
    who: audit.Caller,
) -> Outcome:
    """Register the source version's artifact in `target_group` as PendingManualApproval."""
    reason = reason.strip()
    if not reason:
        raise LifecycleError("give a --reason: it is the audit trail of the promotion")
    if source.status != APPROVED:
        raise LifecycleError(
            f"version {source.version} is {source.status}, not Approved: approve it where it was trained first"
        )
    existing = already_promoted(sagemaker, target_group, source.arn)
    if existing is not None:
        return Outcome(
            False, f"version {source.version} is already promoted: it is {target_group} version {existing.version}"
        )
    carried = {key: source.package[key] for key in _CARRIED if source.package.get(key)}
    properties = audit.merged(
        {k: v for k, v in source.metadata.items() if not k.startswith(("mlstack:decid", "mlstack:decision"))},
        {
            audit.PROMOTED_FROM: source.arn,
            audit.PROMOTED_FROM_ACCOUNT: source_account,
            audit.PROMOTED_BY: who.arn,
            audit.PROMOTED_AT: audit.now_iso(),
        },
    )
    created = sagemaker.create_model_package(
        ModelPackageGroupName=target_group,
        ModelPackageDescription=reason[:1024],
        ModelApprovalStatus=PENDING,
        CustomerMetadataProperties=properties,
        **carried,
    )
    number = sagemaker.describe_model_package(ModelPackageName=created["ModelPackageArn"]).get("ModelPackageVersion")
    return Outcome(
        True, f"promoted version {source.version} to {target_group} version {number} (PendingManualApproval): {reason}"
    )
