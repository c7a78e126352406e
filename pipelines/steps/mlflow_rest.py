"""MLflow's REST API on a SageMaker managed tracking server (stdlib + boto3 only).

Shared by the Lambda functions that log to MLflow (monitor_lambda.py, tracking_lambda.py);
each function's archive holds a copy of this file beside its handler. The mlflow package
is not used: Lambda's runtime lacks it. Requests go to the server's TrackingServerUrl
(DescribeMlflowTrackingServer), signed with SigV4 for `sagemaker-mlflow`, with the header
the sagemaker-mlflow plugin sends to route them; the IAM actions are those of the plugin's
calls: GetExperimentByName, CreateExperiment, CreateRun, LogBatch, UpdateRun.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config

SERVICE = "sagemaker-mlflow"  # the SigV4 signing name of SageMaker's managed MLflow
TIMEOUT = 15
# AWS calls bounded too (botocore's defaults wait 60 s a read): the function's callers set its timeout.
BOTO_CONFIG = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"})
# runs/log-batch limits (MLflow's REST API): per kind, and entities per request.
BATCH_LIMITS = (("params", 100), ("tags", 100), ("metrics", 1000))
BATCH_ENTITIES = 1000
_KEY = re.compile(r"[^A-Za-z0-9_\-. /]")


class MlflowError(Exception):
    """A tracking server request failed."""


def key(text: str) -> str:
    """`text` as an MLflow metric/param/tag key: characters MLflow refuses become `_`."""
    return _KEY.sub("_", text)


def now_ms() -> int:
    return int(time.time() * 1000)


def tracking_server_region(arn: str) -> str:
    parts = arn.split(":")
    if len(parts) < 6 or parts[2] != "sagemaker" or not parts[5].startswith("mlflow-tracking-server/"):
        raise MlflowError(f"not a SageMaker MLflow tracking server ARN: {arn!r}")
    return parts[3]


def tracking_server_url(arn: str) -> str:
    """DescribeMlflowTrackingServer -> TrackingServerUrl."""
    name = arn.split(":", 5)[5].split("/", 1)[1]
    client = boto3.client("sagemaker", region_name=tracking_server_region(arn), config=BOTO_CONFIG)
    url = client.describe_mlflow_tracking_server(TrackingServerName=name).get("TrackingServerUrl")
    if not url:
        raise MlflowError(f"tracking server {name} has no TrackingServerUrl (is it running?)")
    return url.rstrip("/")


def connect(arn: str) -> Mlflow:
    """A client for the tracking server `arn`, signing with the function's own credentials."""
    region = tracking_server_region(arn)
    return Mlflow(tracking_server_url(arn), arn, boto3.Session().get_credentials(), region)


def batches(
    metrics: Sequence[dict[str, Any]] = (), params: Sequence[dict[str, Any]] = (), tags: Sequence[dict[str, Any]] = ()
) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """runs/log-batch bodies (without run_id) within MLflow's limits; kinds left empty are omitted."""
    rest = {"params": list(params), "tags": list(tags), "metrics": list(metrics)}
    while any(rest.values()):
        body, room = {}, BATCH_ENTITIES
        for kind, limit in BATCH_LIMITS:
            take = min(limit, room, len(rest[kind]))
            if take:
                body[kind], rest[kind] = rest[kind][:take], rest[kind][take:]
                room -= take
        yield body


def _pairs(values: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"key": key(name), "value": str(value)} for name, value in values.items()]


class Mlflow:
    """MLflow's REST API on the tracking server, every request signed with SigV4 for sagemaker-mlflow."""

    def __init__(self, url: str, arn: str, credentials: Any, region: str) -> None:
        self.url = url.rstrip("/")
        self.arn = arn
        self.signer = SigV4Auth(credentials, SERVICE, region)

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
            with urllib.request.urlopen(prepared, timeout=TIMEOUT) as response:
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
        """The experiment named `name`, created when missing."""
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

    def log(
        self,
        experiment: str,
        run_name: str,
        *,
        metrics: Sequence[dict[str, Any]] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> str:
        """One finished run of `experiment` with these metrics ({key, value, timestamp, step}), params
        and tags; returns its run id. A failure after the run exists marks it FAILED, then raises."""
        created = self.call(
            "POST",
            "runs/create",
            {
                "experiment_id": self.experiment_id(experiment),
                "run_name": run_name,
                "start_time": now_ms(),
                "tags": [{"key": "mlflow.runName", "value": run_name}, *_pairs(tags or {})],
            },
        )
        run_id = str(created["run"]["info"]["run_id"])
        try:
            for body in batches(metrics, _pairs(params or {})):
                self.call("POST", "runs/log-batch", {"run_id": run_id, **body})
            self.call("POST", "runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": now_ms()})
        except MlflowError:
            with contextlib.suppress(MlflowError):  # best effort: a half-logged run must not look finished
                self.call("POST", "runs/update", {"run_id": run_id, "status": "FAILED", "end_time": now_ms()})
            raise
        return run_id
