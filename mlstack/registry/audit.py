"""Who changed a model version, when and why: what mlstack records on the package.

The reason goes into ApprovalDescription (up to 1024 characters of any text); who and when
go into the package's CustomerMetadataProperties, whose values AWS limits to 256 characters
of letters, digits, spaces and `_.:/=+-@` (botocore's CustomerMetadataValue). A caller ARN
fits, except for the commas a role session name may hold: those become `_`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Metadata keys (the "mlstack:" prefix keeps them apart from the user's own).
DECIDED_BY = "mlstack:decided-by"
DECIDED_AT = "mlstack:decided-at"
DECISION = "mlstack:decision"
FORCED = "mlstack:decision-forced"
PROMOTED_FROM = "mlstack:promoted-from"
PROMOTED_FROM_ACCOUNT = "mlstack:promoted-from-account"
PROMOTED_BY = "mlstack:promoted-by"
PROMOTED_AT = "mlstack:promoted-at"
LINEAGE = "mlstack:lineage"  # S3 URI of the version's lineage.json (written by the training pipeline)

MAX_PROPERTIES = 50
_VALUE_MAX = 256
_NOT_ALLOWED = re.compile(r"[^\w\s.:/=+\-@]", re.UNICODE)


@dataclass(frozen=True)
class Caller:
    """The identity an AWS call runs as (STS GetCallerIdentity)."""

    arn: str
    account: str
    user_id: str


def caller_of(sts: Any) -> Caller:
    identity = sts.get_caller_identity()
    return Caller(identity["Arn"], identity["Account"], identity.get("UserId", ""))


def metadata_value(text: str) -> str:
    """`text` as AWS accepts a metadata value: allowed characters only, at most 256 of them."""
    cleaned = _NOT_ALLOWED.sub("_", text).strip() or "-"
    return cleaned[:_VALUE_MAX]


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def merged(existing: Mapping[str, str] | None, added: Mapping[str, str]) -> dict[str, str]:
    """The package's properties with `added` set: UpdateModelPackage is sent the whole map, so
    nothing already there is lost whatever the service (or a test double) does with a partial one."""
    result = {**(existing or {}), **{key: metadata_value(value) for key, value in added.items()}}
    if len(result) > MAX_PROPERTIES:
        raise ValueError(f"the package would have {len(result)} metadata properties; AWS allows {MAX_PROPERTIES}")
    return result


def decision(status: str, who: Caller, *, forced: bool) -> dict[str, str]:
    found = {DECISION: status, DECIDED_BY: who.arn, DECIDED_AT: now_iso()}
    if forced:
        found[FORCED] = "true"
    return found
