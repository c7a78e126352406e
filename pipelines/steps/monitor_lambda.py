"""AWS Lambda handlers around the drift monitor's processing job (python3.12; stdlib + boto3 only).

Their MLflow client is mlflow_rest.py, packaged beside this file (shared with tracking_lambda.py).

prepare_window(event, context)
    Lists the endpoint data capture files of one window by their hour folders and writes
    a SageMaker ManifestFile naming them, the monitor job's capture input. Event:
    {"CaptureS3Uri": "s3://bucket/data-capture/<model>/<endpoint>/", "WindowHours": 1|6|12|24,
     "ScheduledTime": "2026-12-01T06:00:00Z" or "", "ManifestS3Uri": "s3://bucket/.../capture.manifest"}
    The window is [end - WindowHours, end), end = ScheduledTime rounded down to the hour; an
    empty or missing ScheduledTime (the schedule passes none, nor does a manual start) means
    now: the window ends at the start of the current hour. Data capture writes
    <capture prefix><variant>/yyyy/mm/dd/hh/<file>.jsonl (hours in UTC); each hour folder of
    each variant is listed. An empty window lists an empty placeholder
    <manifest dir>/empty.jsonl instead, so the job still has an input (the monitor then
    reports 0 records). Returns
    {"records_files": n, "window_start": ..., "window_end": ..., "manifest": ManifestS3Uri}.

publish_metrics(event, context)
    Publishes the monitor's metrics.json to CloudWatch and, when a tracking server is
    given, to SageMaker's managed MLflow. Event:
    {"MetricsS3Uri": "s3://.../metrics.json", "Namespace": "mlstack/<project>",
     "TrackingServerArn": "" or an ARN, "Experiment": "<project>-<model>-monitoring",
     "RunName": "<execution id>"}
    Returns {"published": n}, plus "mlflow": "ok" and "mlflow_run_id" or "mlflow": "error: ..."
    when a tracking server is set: an MLflow failure is logged and returned, never raised.

Objects are written without SSE arguments: the bucket's default encryption (KMS) applies.
"""

from __future__ import annotations

import json
import logging
import math
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

try:  # imported as part of the pipelines package (tests, tooling)
    from . import mlflow_rest
except ImportError:  # in the Lambda archive, beside this file
    import mlflow_rest  # type: ignore[no-redef]

log = logging.getLogger("mlstack.monitor")
log.setLevel(logging.INFO)

EMPTY_PLACEHOLDER = "empty.jsonl"
CAPTURE_SUFFIX = ".jsonl"
MAX_WINDOW_HOURS = 24 * 7
LIST_PAGE_SIZE = 1000  # ListObjectsV2's maximum
# PutMetricData: at most 1000 datums and 1 MB of request per call; stay well under the size.
MAX_DATUMS_PER_CALL = 1000
MAX_REQUEST_BYTES = 800_000
UNITS = ("None", "Count", "Percent", "Seconds", "Milliseconds", "Bytes", "Count/Second")


class EventError(ValueError):
    """The event lacks a field or has an unusable value."""


def _field(event: dict[str, Any], name: str) -> Any:
    if not isinstance(event, dict) or name not in event:
        raise EventError(f"event lacks {name}")
    return event[name]


def parse_s3_uri(uri: str, what: str) -> tuple[str, str]:
    """s3://bucket/key -> (bucket, key)."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise EventError(f"{what} must be an s3:// URI, got {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise EventError(f"{what} has no bucket: {uri!r}")
    return bucket, key


def parse_time(value: Any) -> datetime:
    """ISO 8601 (Z or an offset; none = UTC) -> aware UTC datetime; empty or None -> now."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return datetime.now(UTC)
    if not isinstance(value, str):
        raise EventError(f"ScheduledTime must be an ISO 8601 string, got {value!r}")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise EventError(f"ScheduledTime is not ISO 8601: {value!r}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def window(scheduled: datetime, hours: int) -> tuple[datetime, datetime]:
    """[start, end): end is the scheduled time rounded down to the hour (the current hour is not complete)."""
    end = scheduled.replace(minute=0, second=0, microsecond=0)
    return end - timedelta(hours=hours), end


def _window_hours(value: Any) -> int:
    whole = isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer()
    digits = isinstance(value, str) and value.strip().isdigit()
    hours = int(value) if whole or digits else 0
    if not 0 < hours <= MAX_WINDOW_HOURS:
        raise EventError(f"WindowHours must be a whole number of hours from 1 to {MAX_WINDOW_HOURS}, got {value!r}")
    return hours


def _variant_prefixes(s3: Any, bucket: str, prefix: str) -> list[str]:
    prefixes = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/", PaginationConfig={"PageSize": LIST_PAGE_SIZE}
    ):
        prefixes += [entry["Prefix"] for entry in page.get("CommonPrefixes", [])]
    return sorted(prefixes)


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": LIST_PAGE_SIZE}
    ):
        keys += [entry["Key"] for entry in page.get("Contents", []) if entry["Key"].endswith(CAPTURE_SUFFIX)]
    return keys


def prepare_window(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    capture_uri = str(_field(event, "CaptureS3Uri"))
    capture_bucket, capture_prefix = parse_s3_uri(capture_uri, "CaptureS3Uri")
    if capture_prefix and not capture_prefix.endswith("/"):
        capture_prefix += "/"
    hours = _window_hours(_field(event, "WindowHours"))
    start, end = window(parse_time(event.get("ScheduledTime")), hours)
    manifest_uri = str(_field(event, "ManifestS3Uri"))
    manifest_bucket, manifest_key = parse_s3_uri(manifest_uri, "ManifestS3Uri")
    if not manifest_key or manifest_key.endswith("/"):
        raise EventError(f"ManifestS3Uri must name an object, got {manifest_uri!r}")

    s3 = boto3.client("s3")
    files: list[str] = []
    variants = _variant_prefixes(s3, capture_bucket, capture_prefix)
    for variant in variants:
        for offset in range(hours):
            hour = start + timedelta(hours=offset)
            files += _keys(s3, capture_bucket, f"{variant}{hour:%Y/%m/%d/%H}/")
    relative = sorted(key[len(capture_prefix) :] for key in set(files))
    if relative:
        manifest: list[Any] = [{"prefix": f"s3://{capture_bucket}/{capture_prefix}"}, *relative]
    else:  # the job needs an input: an empty file of its own, beside the manifest
        directory = manifest_key.rpartition("/")[0]
        directory = f"{directory}/" if directory else ""
        s3.put_object(Bucket=manifest_bucket, Key=f"{directory}{EMPTY_PLACEHOLDER}", Body=b"")
        manifest = [{"prefix": f"s3://{manifest_bucket}/{directory}"}, EMPTY_PLACEHOLDER]
    body = json.dumps(manifest, indent=1).encode()
    s3.put_object(Bucket=manifest_bucket, Key=manifest_key, Body=body, ContentType="application/json")
    log.info(
        "window %s to %s: %d capture file(s) under %d variant(s) of %s -> %s",
        _iso(start),
        _iso(end),
        len(relative),
        len(variants),
        capture_uri,
        manifest_uri,
    )
    return {
        "records_files": len(relative),
        "window_start": _iso(start),
        "window_end": _iso(end),
        "manifest": manifest_uri,
    }


# --- CloudWatch ---------------------------------------------------------------------------
def _datum(entry: Any, position: int) -> dict[str, Any]:
    """A metrics.json entry as a PutMetricData datum; ValueError when it is not one."""
    if not isinstance(entry, dict) or not isinstance(entry.get("MetricName"), str) or not entry["MetricName"]:
        raise ValueError(f"metrics.json entry {position} has no MetricName")
    value = entry.get("Value")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"metrics.json entry {position} ({entry['MetricName']}) has no finite Value")
    dimensions = entry.get("Dimensions", [])
    if not isinstance(dimensions, list) or not all(
        isinstance(item, dict) and isinstance(item.get("Name"), str) and isinstance(item.get("Value"), str)
        for item in dimensions
    ):
        raise ValueError(f"metrics.json entry {position} ({entry['MetricName']}) has malformed Dimensions")
    unit = entry.get("Unit", "None")
    if unit not in UNITS:
        raise ValueError(f"metrics.json entry {position} ({entry['MetricName']}) has unit {unit!r}")
    return {
        "MetricName": entry["MetricName"],
        "Dimensions": [{"Name": item["Name"], "Value": item["Value"]} for item in dimensions],
        "Value": float(value),
        "Unit": unit,
    }


def _encoded_size(datum: dict[str, Any]) -> int:
    """Bytes of one datum in PutMetricData's query encoding (the most verbose of its protocols)."""
    fields = {"MetricData.member.1000.MetricName": datum["MetricName"], "MetricData.member.1000.Unit": datum["Unit"]}
    fields["MetricData.member.1000.Value"] = repr(datum["Value"])
    for number, item in enumerate(datum["Dimensions"], start=1):
        fields[f"MetricData.member.1000.Dimensions.member.{number}.Name"] = item["Name"]
        fields[f"MetricData.member.1000.Dimensions.member.{number}.Value"] = item["Value"]
    return len(urllib.parse.urlencode(fields)) + 1


def batches(datums: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """PutMetricData calls: at most MAX_DATUMS_PER_CALL datums and MAX_REQUEST_BYTES each."""
    result: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for datum in datums:
        grows = _encoded_size(datum)
        if current and (len(current) >= MAX_DATUMS_PER_CALL or size + grows > MAX_REQUEST_BYTES):
            result.append(current)
            current, size = [], 0
        current.append(datum)
        size += grows
    if current:
        result.append(current)
    return result


def read_metrics(s3: Any, uri: str) -> list[dict[str, Any]]:
    bucket, key = parse_s3_uri(uri, "MetricsS3Uri")
    document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    if not isinstance(document, list):
        raise ValueError(f"{uri} is not a JSON list of metric datums")
    return [_datum(entry, position) for position, entry in enumerate(document, start=1)]


# --- MLflow (mlflow_rest.py: SageMaker managed tracking server, REST API signed with SigV4) ---
def mlflow_metrics(datums: list[dict[str, Any]], timestamp: int) -> list[dict[str, Any]]:
    """CloudWatch datums as MLflow metrics: key = MetricName, then the dimension values but the model's
    (FeatureDriftPSI.amount, ModelQuality.auc, MaxFeatureDriftPSI)."""
    metrics = []
    for datum in datums:
        parts = [datum["MetricName"]] + [item["Value"] for item in datum["Dimensions"] if item["Name"] != "Model"]
        key = mlflow_rest.key(".".join(parts))
        metrics.append({"key": key, "value": datum["Value"], "timestamp": timestamp, "step": 0})
    return metrics


def publish_metrics(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    namespace = str(_field(event, "Namespace"))
    if not namespace or namespace.startswith("AWS/"):
        raise EventError(f"Namespace must be a custom namespace, got {namespace!r}")
    datums = read_metrics(boto3.client("s3"), str(_field(event, "MetricsS3Uri")))
    cloudwatch = boto3.client("cloudwatch")
    for batch in batches(datums):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=batch)
    log.info("published %d datum(s) to CloudWatch namespace %s", len(datums), namespace)
    result: dict[str, Any] = {"published": len(datums)}
    arn = str(event.get("TrackingServerArn") or "").strip()
    if arn:
        try:
            client = mlflow_rest.connect(arn)
            metrics = mlflow_metrics(datums, mlflow_rest.now_ms())
            run_id = client.log(
                str(_field(event, "Experiment")),
                str(_field(event, "RunName")),
                metrics=metrics,
                tags={"mlstack.source": "monitor"},
            )
        except Exception as error:  # MLflow is a convenience: CloudWatch has the numbers already
            log.exception("MLflow logging failed")
            result["mlflow"] = f"error: {error}"
        else:
            log.info("logged %d metric(s) to MLflow run %s", len(datums), run_id)
            result.update(mlflow="ok", mlflow_run_id=run_id)
    return result
