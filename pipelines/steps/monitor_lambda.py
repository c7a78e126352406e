"""AWS Lambda handlers around the drift monitor's processing job (python3.12; stdlib + boto3 only).

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

import hashlib
import json
import logging
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

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
MLFLOW_SERVICE = "sagemaker-mlflow"  # the SigV4 signing name of SageMaker's managed MLflow
MLFLOW_TIMEOUT = 15
MLFLOW_BATCH = 1000  # runs/log-batch takes at most 1000 metrics
_MLFLOW_KEY = re.compile(r"[^A-Za-z0-9_\-. /]")


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


# --- MLflow (SageMaker managed tracking server, REST API signed with SigV4) ---------------
class MlflowError(Exception):
    """A tracking server request failed."""


def tracking_server_region(arn: str) -> str:
    parts = arn.split(":")
    if len(parts) < 6 or parts[2] != "sagemaker" or not parts[5].startswith("mlflow-tracking-server/"):
        raise MlflowError(f"not a SageMaker MLflow tracking server ARN: {arn!r}")
    return parts[3]


def tracking_server_url(arn: str) -> str:
    """DescribeMlflowTrackingServer -> TrackingServerUrl."""
    name = arn.split(":", 5)[5].split("/", 1)[1]
    client = boto3.client("sagemaker", region_name=tracking_server_region(arn))
    url = client.describe_mlflow_tracking_server(TrackingServerName=name).get("TrackingServerUrl")
    if not url:
        raise MlflowError(f"tracking server {name} has no TrackingServerUrl (is it running?)")
    return url.rstrip("/")


class Mlflow:
    """MLflow's REST API on the tracking server, every request signed with SigV4 for sagemaker-mlflow."""

    def __init__(self, url: str, arn: str, credentials: Any, region: str) -> None:
        self.url = url.rstrip("/")
        self.arn = arn
        self.signer = SigV4Auth(credentials, MLFLOW_SERVICE, region)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, query: dict[str, str] | None = None):
        url = f"{self.url}/api/2.0/mlflow/{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        data = json.dumps(body).encode() if body is not None else b""
        headers = {
            "Content-Type": "application/json",
            "X-Amz-Content-SHA256": hashlib.sha256(data).hexdigest(),
            # what the sagemaker-mlflow plugin sends to route a request to the tracking server
            "x-mlflow-sm-tracking-server-arn": self.arn,
        }
        request = AWSRequest(method=method, url=url, data=data, headers=headers)
        self.signer.add_auth(request)
        prepared = urllib.request.Request(
            url, data=data if body is not None else None, headers=dict(request.headers.items()), method=method
        )
        try:
            with urllib.request.urlopen(prepared, timeout=MLFLOW_TIMEOUT) as response:
                text = response.read().decode() or "{}"
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            try:
                parsed = json.loads(detail)
                code, message = parsed.get("error_code", ""), parsed.get("message", "")
            except ValueError:
                code, message = "", detail[:200]
            raise MlflowError(f"{method} {path}: HTTP {error.code} {code} {message}".strip()) from None
        except (urllib.error.URLError, OSError) as error:
            raise MlflowError(f"{method} {path}: {error}") from None
        return json.loads(text)

    def experiment_id(self, name: str) -> str:
        try:
            found = self.call("GET", "experiments/get-by-name", query={"experiment_name": name})
            return str(found["experiment"]["experiment_id"])
        except MlflowError as error:
            if "RESOURCE_DOES_NOT_EXIST" not in str(error) and "HTTP 404" not in str(error):
                raise
        try:
            return str(self.call("POST", "experiments/create", {"name": name})["experiment_id"])
        except MlflowError as error:  # created meanwhile by a concurrent run
            if "RESOURCE_ALREADY_EXISTS" not in str(error):
                raise
            found = self.call("GET", "experiments/get-by-name", query={"experiment_name": name})
            return str(found["experiment"]["experiment_id"])

    def log(self, experiment: str, run_name: str, metrics: list[dict[str, Any]]) -> str:
        now = int(time.time() * 1000)
        created = self.call(
            "POST",
            "runs/create",
            {
                "experiment_id": self.experiment_id(experiment),
                "run_name": run_name,
                "start_time": now,
                "tags": [{"key": "mlflow.runName", "value": run_name}, {"key": "mlstack.source", "value": "monitor"}],
            },
        )
        run_id = created["run"]["info"]["run_id"]
        for first in range(0, len(metrics), MLFLOW_BATCH):
            self.call("POST", "runs/log-batch", {"run_id": run_id, "metrics": metrics[first : first + MLFLOW_BATCH]})
        self.call("POST", "runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": int(time.time() * 1000)})
        return run_id


def mlflow_metrics(datums: list[dict[str, Any]], timestamp: int) -> list[dict[str, Any]]:
    """CloudWatch datums as MLflow metrics: key = MetricName, then the dimension values but the model's
    (FeatureDriftPSI.amount, ModelQuality.auc, MaxFeatureDriftPSI)."""
    metrics = []
    for datum in datums:
        parts = [datum["MetricName"]] + [item["Value"] for item in datum["Dimensions"] if item["Name"] != "Model"]
        key = _MLFLOW_KEY.sub("_", ".".join(parts))
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
            client = Mlflow(
                tracking_server_url(arn), arn, boto3.Session().get_credentials(), tracking_server_region(arn)
            )
            run_name = str(_field(event, "RunName"))
            run_id = client.log(
                str(_field(event, "Experiment")), run_name, mlflow_metrics(datums, int(time.time() * 1000))
            )
        except Exception as error:  # MLflow is a convenience: CloudWatch has the numbers already
            log.exception("MLflow logging failed")
            result["mlflow"] = f"error: {error}"
        else:
            log.info("logged %d metric(s) to MLflow run %s", len(datums), run_id)
            result.update(mlflow="ok", mlflow_run_id=run_id)
    return result
