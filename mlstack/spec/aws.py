"""AWS value constraints taken from botocore's own API models.

botocore ships the service models AWS publishes (enums, name patterns, lengths,
ranges). Reading them here means the spec rejects exactly what the SageMaker API
would reject, and follows AWS as boto3 is upgraded, instead of hand-copied lists.

Loading the SageMaker model parses a multi-megabyte JSON file (~0.7 s), so the
few shapes we need are cached on disk, keyed by the botocore version.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import botocore
from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

# (service, shape) pairs the spec uses. Adding one here is all it takes.
SHAPES: tuple[tuple[str, str], ...] = (
    ("sagemaker", "ProductionVariantInstanceType"),
    ("sagemaker", "TrainingInstanceType"),
    ("sagemaker", "ProcessingInstanceType"),
    ("sagemaker", "FeatureName"),
    ("sagemaker", "FeatureType"),
    ("sagemaker", "TableFormat"),
    ("sagemaker", "ThroughputMode"),
    ("sagemaker", "TtlDurationUnit"),
    ("sagemaker", "SamplingPercentage"),
    ("sagemaker", "WaitIntervalInSeconds"),
    ("sagemaker", "TerminationWaitInSeconds"),
    ("sagemaker", "MaximumExecutionTimeoutInSeconds"),
    ("sagemaker", "TrafficRoutingConfigType"),
    ("sagemaker", "ServerlessMemorySizeInMB"),
    ("sagemaker", "ServerlessMaxConcurrency"),
    ("sagemaker", "ProblemType"),
    ("sagemaker", "TrackingServerSize"),
    ("sagemaker", "MlflowVersion"),
    ("sagemaker", "AccountId"),
    ("sagemaker", "SubnetId"),
    ("sagemaker", "SecurityGroupId"),
    ("sagemaker", "HyperParameterKey"),
    ("sagemaker", "TransformInstanceType"),
    ("sagemaker", "TransformInstanceCount"),
    ("sagemaker", "BatchStrategy"),
    ("sagemaker", "SplitType"),
    ("sagemaker", "MaxPayloadInMB"),
    ("sagemaker", "MaxConcurrentTransforms"),
)


def cache_dir() -> Path:
    """Where mlstack keeps derived data (AWS shapes, pipeline definitions); MLSTACK_CACHE_DIR moves it."""
    root = os.environ.get("MLSTACK_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    return Path(root) / "mlstack" if root else Path.home() / ".cache" / "mlstack"


def _read_from_botocore() -> dict[str, dict[str, Any]]:
    import botocore.session

    session = botocore.session.get_session()
    models: dict[str, Any] = {}
    shapes: dict[str, dict[str, Any]] = {}
    for service, shape_name in SHAPES:
        if service not in models:
            models[service] = session.get_service_model(service)
        shape = models[service].shape_for(shape_name)
        entry: dict[str, Any] = {"type": shape.type_name}
        if getattr(shape, "enum", None):
            entry["enum"] = list(shape.enum)
        for key in ("min", "max", "pattern"):
            if key in shape.metadata:
                entry[key] = shape.metadata[key]
        shapes[f"{service}.{shape_name}"] = entry
    return shapes


@cache
def shapes() -> dict[str, dict[str, Any]]:
    """All constraints of SHAPES, from the disk cache or botocore."""
    signature = f"{botocore.__version__}:{','.join(f'{s}.{n}' for s, n in SHAPES)}"
    path = cache_dir() / f"aws-shapes-{botocore.__version__}.json"
    try:
        cached = json.loads(path.read_text())
        if cached.get("signature") == signature:
            return cached["shapes"]
    except (OSError, ValueError, KeyError):
        pass
    result = _read_from_botocore()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"signature": signature, "shapes": result}))
        tmp.replace(path)
    except OSError:
        pass  # a read-only home is fine: we just pay the parse next time too
    return result


def shape(name: str, service: str = "sagemaker") -> dict[str, Any]:
    return shapes()[f"{service}.{name}"]


def enum_values(name: str, service: str = "sagemaker") -> tuple[str, ...]:
    return tuple(shape(name, service)["enum"])


def _enum_check(label: str, values: tuple[str, ...]):
    allowed = frozenset(values)

    def check(value: str) -> str:
        if value in allowed:
            return value
        lowered = {v.lower(): v for v in values}
        found = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=0.75)
        close = [lowered[found[0]]] if found else []
        if len(values) <= 8:
            hint = "allowed: " + ", ".join(values)
        else:
            hint = f"not one of the {len(values)} values AWS accepts"
        if close:
            hint += f"; did you mean '{close[0]}'?"
        raise PydanticCustomError(
            "aws_enum",
            "'{value}' is not a valid {label} ({hint})",
            {"value": value, "label": label, "hint": hint},
        )

    return check


def AwsEnum(name: str, label: str, service: str = "sagemaker") -> Any:
    """A string restricted to the values of a botocore enum shape."""
    values = enum_values(name, service)
    return Annotated[
        str,
        AfterValidator(_enum_check(label, values)),
        WithJsonSchema({"type": "string", "enum": list(values), "description": f"AWS {name}"}),
    ]


def _name_check(label: str, pattern: str, min_len: int, max_len: int):
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not min_len <= len(value) <= max_len:
            raise PydanticCustomError(
                "aws_length",
                "{label} must be {min}-{max} characters, got {n}",
                {"label": label, "min": min_len, "max": max_len, "n": len(value)},
            )
        if not compiled.fullmatch(value):
            raise PydanticCustomError(
                "aws_pattern",
                "'{value}' is not a valid {label} (must match {pattern})",
                {"value": value, "label": label, "pattern": pattern},
            )
        return value

    return check


def AwsString(
    name: str,
    label: str,
    service: str = "sagemaker",
    *,
    prefix: str = "",
    max_len: int | None = None,
) -> Any:
    """A string within a botocore shape's length and pattern.

    `prefix` narrows the pattern (e.g. 'subnet-'); `max_len` narrows the length
    where a physical name is later built from the value.
    """
    meta = shape(name, service)
    pattern = re.escape(prefix) + meta.get("pattern", ".*") if prefix else meta.get("pattern", ".*")
    low = max(int(meta.get("min", 0)), 1)
    high = min(int(meta.get("max", 10**6)), max_len or 10**6)
    return Annotated[
        str,
        AfterValidator(_name_check(label, pattern, low, high)),
        WithJsonSchema({"type": "string", "pattern": f"^{pattern}$", "minLength": low, "maxLength": high}),
    ]


def int_range(name: str, service: str = "sagemaker") -> tuple[int | None, int | None]:
    """(min, max) of a botocore integer shape; None where AWS sets no bound."""
    meta = shape(name, service)
    low, high = meta.get("min"), meta.get("max")
    return (int(low) if low is not None else None, int(high) if high is not None else None)
