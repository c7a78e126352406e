"""A model's timeline: registered, approved/rejected (who, why), promoted, deployed.

The registry component sends every state change of the model's versions, and of its
endpoint, to a KMS-encrypted log group (components/model_registry.py): the history
survives later changes to the packages themselves. Read back here; where that log group
does not exist yet (a stack deployed before it), the timeline is rebuilt from what the
packages record, and says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import audit
from .lifecycle import Version, is_not_found


@dataclass(frozen=True, order=True)
class Event:
    at: str
    """ISO 8601, UTC."""
    what: str
    version: int | None
    detail: str


def _iso(milliseconds: int) -> str:
    moment = datetime.fromtimestamp(milliseconds / 1000, UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def from_log_group(logs: Any, log_group: str) -> list[Event] | None:
    """Every archived event, oldest first; None when the log group does not exist."""
    try:
        pages = logs.get_paginator("filter_log_events").paginate(logGroupName=log_group)
        raw = [event for page in pages for event in page.get("events", [])]
    except Exception as error:
        if is_not_found(error):
            return None
        raise
    events = [parsed for event in raw if (parsed := _event(event)) is not None]
    return sorted(events)


def _event(record: dict[str, Any]) -> Event | None:
    try:
        body = json.loads(record["message"])
    except (KeyError, ValueError):
        return None
    detail = body.get("detail") or {}
    at = body.get("time") or _iso(int(record.get("timestamp", 0)))
    kind = body.get("detail-type", "")
    if kind == "SageMaker Endpoint State Change":
        config = detail.get("EndpointConfigName")
        text = f"endpoint {detail.get('EndpointName')} {str(detail.get('EndpointStatus', '')).lower()}"
        return Event(at, "deployment", None, f"{text} (configuration {config})" if config else text)
    if kind != "SageMaker Model Package State Change":
        return None
    version = detail.get("ModelPackageVersion")
    metadata = detail.get("CustomerMetadataProperties") or {}
    status = detail.get("ModelApprovalStatus", "")
    if metadata.get(audit.PROMOTED_FROM) and status == "PendingManualApproval" and not metadata.get(audit.DECISION):
        what, text = "promoted", f"from {metadata[audit.PROMOTED_FROM]} by {metadata.get(audit.PROMOTED_BY, '?')}"
    elif status in ("Approved", "Rejected") and metadata.get(audit.DECISION) == status:
        what = status.lower()
        text = f"by {metadata.get(audit.DECIDED_BY, '?')}: {detail.get('ApprovalDescription', '')}"
    else:
        what, text = "status", status
    return Event(at, what, int(version) if version is not None else None, text)


def from_packages(versions: list[Version]) -> list[Event]:
    """What the packages themselves record: creation, the last decision, a promotion."""
    events = []
    for version in versions:
        metadata = version.metadata
        if version.created:
            events.append(Event(_utc(version.created), "registered", version.version, f"now {version.status}"))
        if metadata.get(audit.PROMOTED_AT):
            text = f"from {metadata.get(audit.PROMOTED_FROM)} by {metadata.get(audit.PROMOTED_BY, '?')}"
            events.append(Event(metadata[audit.PROMOTED_AT], "promoted", version.version, text))
        if metadata.get(audit.DECIDED_AT):
            what = str(metadata.get(audit.DECISION, version.status)).lower()
            text = f"by {metadata.get(audit.DECIDED_BY, '?')}: {version.description}"
            events.append(Event(metadata[audit.DECIDED_AT], what, version.version, text))
    order = {"registered": 0, "promoted": 1}  # within one second: creation, promotion, then the decision
    return sorted(events, key=lambda event: (event.at, order.get(event.what, 2), event.version or 0))


def _utc(moment: str) -> str:
    try:
        parsed = datetime.fromisoformat(moment)
    except ValueError:
        return moment
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
