"""Which registered model version an endpoint deploys.

There is no Pulumi resource for a model package version (the training pipeline registers
them), so the version is resolved when the program runs: against the live registry with
boto3 under `pulumi up`, and offline (`mlstack plan`) from a registry snapshot file or an
explicit stand-in. The offline paths never create a boto3 client: a plan must not need AWS.

Rules (`resolve`): a pinned version must exist, must not be Rejected, and must be Approved
where approval is required; otherwise the newest Approved version; with none Approved,
`when_unapproved` decides (fail | latest: the newest version not Rejected | skip).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from mlstack.pipelines import layout

APPROVED, PENDING, REJECTED = "Approved", "PendingManualApproval", "Rejected"
STATUSES = (APPROVED, PENDING, REJECTED)
STAND_IN_RUN = "stand-in"  # the execution/job id the stand-in's S3 URIs pretend to come from

Source = Literal["registry", "snapshot", "stand-in"]


class VersionResolutionError(Exception):
    """No version can be deployed; the message says what to do about it."""


class SnapshotError(VersionResolutionError):
    """A registry snapshot file that cannot be used."""


@dataclass(frozen=True)
class ResolvedVersion:
    group: str
    version: int
    arn: str
    approval_status: str
    source: Source
    model_data_url: str | None = None
    image: str | None = None
    baseline_constraints_uri: str | None = None
    """DriftCheckBaselines.ModelDataQuality of this version: what Model Monitor must use."""
    baseline_statistics_uri: str | None = None
    warning: str | None = None


@dataclass(frozen=True)
class Entry:
    """One version as listed (no details yet)."""

    version: int
    arn: str
    status: str
    created: str | None = None


@dataclass(frozen=True)
class Details:
    model_data_url: str | None
    image: str | None
    baseline_constraints_uri: str | None
    baseline_statistics_uri: str | None


class Registry(Protocol):
    source: Source

    def versions(self, group: str, status: str | None = None) -> list[Entry]: ...
    def exists(self, group: str) -> bool: ...
    def details(self, entry: Entry) -> Details: ...
    def where(self) -> str: ...


# --- the live registry (boto3) ---------------------------------------------------------
class LiveRegistry:
    source: Source = "registry"

    def __init__(self, client: Any, *, account_id: str | None = None, page_size: int | None = None) -> None:
        self.client, self.account_id, self.page_size = client, account_id, page_size

    def versions(self, group: str, status: str | None = None) -> list[Entry]:
        args: dict[str, Any] = {"ModelPackageGroupName": group, "SortBy": "CreationTime", "SortOrder": "Descending"}
        if status:
            args["ModelApprovalStatus"] = status  # the common case (latest Approved) reads only those
        if self.page_size:
            args["PaginationConfig"] = {"PageSize": self.page_size}
        found = []
        for page in self.client.get_paginator("list_model_packages").paginate(**args):
            for s in page.get("ModelPackageSummaryList", []):
                created = s.get("CreationTime")
                when = created.isoformat() if created else None
                found.append(Entry(s["ModelPackageVersion"], s["ModelPackageArn"], s["ModelApprovalStatus"], when))
        return found

    def exists(self, group: str) -> bool:
        # ListModelPackages of an unknown group is just empty: only DescribeModelPackageGroup tells.
        from botocore.exceptions import ClientError

        try:
            self.client.describe_model_package_group(ModelPackageGroupName=group)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            message = str(error.get("Message", ""))
            if error.get("Code") not in ("ValidationException", "ResourceNotFound") or "exist" not in message:
                raise
            found = re.search(r"arn:[\w-]+:sagemaker:[\w-]+:(\d{12}):", message)  # the error names the account
            self.account_id = self.account_id or (found.group(1) if found else None)
            return False
        return True

    def details(self, entry: Entry) -> Details:
        return details_of(self.client.describe_model_package(ModelPackageName=entry.arn))

    def where(self) -> str:
        region = self.client.meta.region_name
        return f"account {self.account_id}, region {region}" if self.account_id else f"region {region}"


def details_of(package: dict[str, Any]) -> Details:
    """The deploy-relevant parts of a DescribeModelPackage response."""
    containers = package.get("InferenceSpecification", {}).get("Containers") or [{}]
    # DriftCheckBaselines is what the pipeline records for monitors; ModelMetrics holds the same URIs.
    drift = package.get("DriftCheckBaselines", {}).get("ModelDataQuality")
    quality = drift or package.get("ModelMetrics", {}).get("ModelDataQuality", {})
    return Details(
        containers[0].get("ModelDataUrl"),
        containers[0].get("Image"),
        quality.get("Constraints", {}).get("S3Uri"),
        quality.get("Statistics", {}).get("S3Uri"),
    )


# --- the snapshot (offline) ------------------------------------------------------------
_ENTRY_KEYS = {"version", "arn", "status", "created"} | {field.name for field in dataclasses.fields(Details)}


class SnapshotRegistry:
    """{"groups": {"<group>": [{"version": 3, "arn": ..., "status": "Approved", ...}]}}; no AWS."""

    source: Source = "snapshot"

    def __init__(self, data: object, origin: str = "registry snapshot") -> None:
        self.origin = origin
        self.groups: dict[str, list[tuple[Entry, Details]]] = {
            group: [_entry(origin, group, index, raw) for index, raw in enumerate(items)]
            for group, items in _groups(origin, data).items()
        }

    @classmethod
    def load(cls, path: Path | str) -> SnapshotRegistry:
        origin = f"registry snapshot '{path}'"
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SnapshotError(f"{origin} not found; write one with `mlstack models snapshot`") from None
        except json.JSONDecodeError as exc:
            raise SnapshotError(
                f"{origin} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SnapshotError(f"cannot read {origin}: {exc}") from None
        return cls(data, origin)

    def versions(self, group: str, status: str | None = None) -> list[Entry]:
        return [e for e, _ in self.groups.get(group, []) if status is None or e.status == status]

    def exists(self, group: str) -> bool:
        return group in self.groups

    def details(self, entry: Entry) -> Details:
        return next(d for group in self.groups.values() for e, d in group if e == entry)

    def where(self) -> str:
        return self.origin


def _groups(origin: str, data: object) -> dict[str, list[Any]]:
    groups = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(groups, dict) or not all(isinstance(v, list) for v in groups.values()):
        raise SnapshotError(f'{origin} must be {{"groups": {{"<model package group>": [<version>, ...]}}}}')
    return groups


def _entry(origin: str, group: str, index: int, raw: object) -> tuple[Entry, Details]:
    at = f"{origin}: groups['{group}'][{index}]"
    if not isinstance(raw, dict):
        raise SnapshotError(f"{at} must be an object with version, arn and status")
    if unknown := sorted(set(raw) - _ENTRY_KEYS):
        raise SnapshotError(f"{at} has unknown keys {', '.join(unknown)} (known: {', '.join(sorted(_ENTRY_KEYS))})")
    version, arn, status = raw.get("version"), raw.get("arn"), raw.get("status")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SnapshotError(f"{at}.version must be an integer >= 1 (got {version!r})")
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        raise SnapshotError(f"{at}.arn must be a model package ARN (got {arn!r})")
    if status not in STATUSES:
        raise SnapshotError(f"{at}.status must be one of {', '.join(STATUSES)} (got {status!r})")
    for key in _ENTRY_KEYS - {"version", "arn", "status"}:
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise SnapshotError(f"{at}.{key} must be a string or null (got {raw[key]!r})")
    details = Details(*(raw.get(field.name) for field in dataclasses.fields(Details)))
    return Entry(version, arn, status, raw.get("created")), details


def snapshot_from_live(client: Any, groups: Iterable[str]) -> dict[str, Any]:
    """The snapshot of `groups` as the live registry holds them; unknown groups are left out."""
    live = LiveRegistry(client)
    out: dict[str, list[dict[str, Any]]] = {}
    for group in groups:
        entries = sorted(live.versions(group), key=lambda e: e.version)
        if not entries and not live.exists(group):
            continue
        out[group] = [{**dataclasses.asdict(e), **dataclasses.asdict(live.details(e))} for e in entries]
    return {"region": client.meta.region_name, "groups": out}


# --- the rules -------------------------------------------------------------------------
def resolve(
    source: Registry,
    group: str,
    *,
    pinned: int | None,
    require_approved: bool,
    when_unapproved: str,
    model: str | None = None,
    environment: str | None = None,
    on_skip: Callable[[str], None] | None = None,
) -> ResolvedVersion | None:
    """The version to deploy, or None to skip the endpoint (`on_skip` is given the reason).

    `model` and `environment` turn the approval hint into an `mlstack models approve` command.
    Where approval is required, `when_unapproved` counts as fail whatever it says.
    """
    policy = "fail" if require_approved else when_unapproved
    if pinned is not None:
        return _pinned(source, group, pinned, require_approved, (model, environment))
    approved = source.versions(group, APPROVED)
    if approved:
        return _build(source, group, max(approved, key=lambda e: e.version))
    entries = source.versions(group)
    if not entries and not source.exists(group):
        problem = _unknown_group(source, group)
    else:
        problem = _no_approved(group, entries, (model, environment))
    if policy == "skip":
        if on_skip:
            on_skip(f"{problem}; the endpoint is skipped (when_unapproved: skip)")
        return None
    candidates = [e for e in entries if e.status != REJECTED]
    if policy != "latest" or not candidates:
        raise VersionResolutionError(problem)
    newest = max(candidates, key=lambda e: e.version)
    warning = (
        f"no Approved version in model package group '{group}': deploying the newest, version {newest.version} "
        f"({newest.status}), because when_unapproved is latest"
    )
    return _build(source, group, newest, warning)


def _pinned(
    source: Registry, group: str, pinned: int, require_approved: bool, who: tuple[str | None, str | None]
) -> ResolvedVersion:
    entries = source.versions(group)
    if not entries and not source.exists(group):
        raise VersionResolutionError(_unknown_group(source, group))
    entry = next((e for e in entries if e.version == pinned), None)
    if entry is None:
        known = ", ".join(str(v) for v in sorted(e.version for e in entries)) or "none"
        raise VersionResolutionError(f"model package group '{group}' has no version {pinned} (versions: {known})")
    if entry.status == REJECTED:
        raise VersionResolutionError(f"version {pinned} of model package group '{group}' is Rejected: pin another")
    if entry.status == APPROVED:
        return _build(source, group, entry)
    if require_approved:
        raise VersionResolutionError(
            f"version {pinned} of model package group '{group}' is {entry.status} and only Approved versions "
            f"may be deployed here; approve it with {_approve(entry, who)}"
        )
    return _build(source, group, entry, f"deploying version {pinned} of '{group}', which is {entry.status} (pinned)")


def _build(source: Registry, group: str, entry: Entry, warning: str | None = None) -> ResolvedVersion:
    details = dataclasses.asdict(source.details(entry))
    return ResolvedVersion(group, entry.version, entry.arn, entry.status, source.source, **details, warning=warning)


def _approve(entry: Entry, who: tuple[str | None, str | None]) -> str:
    model, environment = who
    if model and environment:
        return f"`mlstack models approve {model} --env {environment} --version {entry.version}`"
    return f"`aws sagemaker update-model-package --model-package-arn {entry.arn} --model-approval-status Approved`"


def _unknown_group(source: Registry, group: str) -> str:
    problem = f"model package group '{group}' does not exist in {source.where()}: has its training pipeline run yet?"
    if source.source == "snapshot":  # the snapshot may just be older than the group
        problem += " (if it has, take a new snapshot with `mlstack models snapshot`)"
    return problem


def _no_approved(group: str, entries: list[Entry], who: tuple[str | None, str | None]) -> str:
    if not entries:
        return f"model package group '{group}' has no versions yet: has its training pipeline registered one?"
    pending = sorted((e for e in entries if e.status == PENDING), key=lambda e: e.version)
    rejected = sorted(e.version for e in entries if e.status == REJECTED)
    counts = [f"pending: {', '.join(str(e.version) for e in pending)}"] if pending else []
    counts += [f"rejected: {', '.join(map(str, rejected))}"] if rejected else []
    if not pending:
        return f"no Approved version in model package group '{group}' ({'; '.join(counts)}): retrain for a new one"
    command = _approve(pending[-1], who)
    return f"no Approved version in model package group '{group}'; approve one with {command} ({'; '.join(counts)})"


# --- the explicit offline stand-in -----------------------------------------------------
def stand_in(group: str, region: str, account_id: str, *, bucket: str, model: str, version: int = 1) -> ResolvedVersion:
    """A made-up Approved version for offline plans without a snapshot, marked source='stand-in'.

    Its S3 URIs follow pipelines.layout (a training job and pipeline execution called 'stand-in').
    """
    baseline = f"{layout.data_quality_baseline_prefix(bucket, model)}/{STAND_IN_RUN}"
    return ResolvedVersion(
        group=group,
        version=version,
        arn=f"arn:aws:sagemaker:{region}:{account_id}:model-package/{group}/{version}",
        approval_status=APPROVED,
        source="stand-in",
        model_data_url=f"{layout.artifacts_prefix(bucket, model)}/{STAND_IN_RUN}/output/model.tar.gz",
        baseline_constraints_uri=f"{baseline}/{layout.DATA_QUALITY_CONSTRAINTS_FILE}",
        baseline_statistics_uri=f"{baseline}/{layout.DATA_QUALITY_STATISTICS_FILE}",
    )
