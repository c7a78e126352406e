"""The drift monitor's Lambda handlers (pipelines/steps/monitor_lambda.py) against moto's server on 127.0.0.1.

prepare_window lists a window's data capture and writes the processing job's ManifestFile;
publish_metrics sends the monitor's metrics.json to CloudWatch and, optionally, to SageMaker's
managed MLflow. moto has no MLflow API: a local http.server stands in for the tracking server.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.stub import Stubber

from mlstack.pipelines.steps import mlflow_rest, monitor, monitor_lambda

BUCKET = "mlstack-artifacts"
CAPTURE = "data-capture/fraud/fraud-endpoint/"
MANIFEST = f"s3://{BUCKET}/monitoring/fraud/windows/exec-1/capture.manifest"
ARN = "arn:aws:sagemaker:eu-west-1:111111111111:mlflow-tracking-server/mlstack"
NAMESPACE = "mlstack/demo"


@pytest.fixture
def s3(aws: str) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return client


def put(s3: Any, key: str, body: str = "") -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())


def window_event(hours: int = 6, scheduled: str = "2026-12-01T06:00:00Z") -> dict[str, Any]:
    return {
        "CaptureS3Uri": f"s3://{BUCKET}/{CAPTURE}",
        "WindowHours": hours,
        "ScheduledTime": scheduled,
        "ManifestS3Uri": MANIFEST,
    }


def read_json(s3: Any, uri: str) -> Any:
    bucket, key = monitor_lambda.parse_s3_uri(uri, "uri")
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


# --- prepare_window -------------------------------------------------------------------------
def capture_keys(s3: Any) -> list[str]:
    """Capture files of two variants in and around the window 2026-12-01 00:00-06:00 UTC; the ones inside."""
    inside = [f"AllTraffic/2026/12/01/{hour:02d}/{hour:02d}-{n}-capture.jsonl" for hour in range(6) for n in range(3)]
    inside += ["Canary/2026/12/01/05/05-0-capture.jsonl"]
    outside = [
        "AllTraffic/2026/11/30/23/late.jsonl",  # the hour before
        "AllTraffic/2026/12/01/06/current-hour.jsonl",  # the hour the schedule fires in
        "AllTraffic/2026/12/01/03/notes.txt",  # not capture
    ]
    for key in inside + outside:
        put(s3, CAPTURE + key, "{}\n")
    put(s3, "data-capture/fraud/fraud-endpoint-2/AllTraffic/2026/12/01/03/other-endpoint.jsonl", "{}\n")
    return sorted(inside)


@pytest.mark.parametrize(
    "scheduled", ["2026-12-01T06:00:00Z", "2026-12-01T06:20:31+00:00", "2026-12-01T08:00:00+02:00"]
)
def test_prepare_window_writes_a_manifest_of_the_window(
    s3: Any, monkeypatch: pytest.MonkeyPatch, scheduled: str
) -> None:
    monkeypatch.setattr(monitor_lambda, "LIST_PAGE_SIZE", 2)  # every listing paginates
    inside = capture_keys(s3)
    result = monitor_lambda.prepare_window(window_event(6, scheduled), None)
    assert result == {
        "records_files": len(inside),
        "window_start": "2026-12-01T00:00:00Z",
        "window_end": "2026-12-01T06:00:00Z",
        "manifest": MANIFEST,
    }
    manifest = read_json(s3, MANIFEST)
    # SageMaker's S3DataSource ManifestFile: the prefix first, then keys relative to it.
    assert manifest[0] == {"prefix": f"s3://{BUCKET}/{CAPTURE}"}
    assert manifest[1:] == inside
    for relative in manifest[1:]:
        s3.head_object(Bucket=BUCKET, Key=CAPTURE + relative)


def test_prepare_window_of_one_hour(s3: Any) -> None:
    capture_keys(s3)
    result = monitor_lambda.prepare_window(window_event(1), None)
    assert (result["records_files"], result["window_start"]) == (4, "2026-12-01T05:00:00Z")
    assert read_json(s3, MANIFEST)[1:] == [f"AllTraffic/2026/12/01/05/05-{n}-capture.jsonl" for n in range(3)] + [
        "Canary/2026/12/01/05/05-0-capture.jsonl"
    ]


@pytest.mark.parametrize("scheduled", ["", None])
def test_without_a_scheduled_time_the_window_ends_this_hour(s3: Any, scheduled: str | None) -> None:
    """The schedule starts the pipeline without parameters (ScheduledTime ""): the window ends now, on the hour."""
    before = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    last_hour = before - timedelta(hours=1)
    put(s3, CAPTURE + f"AllTraffic/{last_hour:%Y/%m/%d/%H}/recent.jsonl", "{}\n")
    event = window_event(1)
    if scheduled is None:
        del event["ScheduledTime"]
    else:
        event["ScheduledTime"] = scheduled
    result = monitor_lambda.prepare_window(event, None)
    after = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    assert result["window_end"] in {f"{moment:%Y-%m-%dT%H:00:00Z}" for moment in (before, after)}
    if after == before:
        assert result["records_files"] == 1
        assert read_json(s3, MANIFEST)[1:] == [f"AllTraffic/{last_hour:%Y/%m/%d/%H}/recent.jsonl"]


def test_an_empty_window_lists_an_empty_placeholder(s3: Any) -> None:
    put(s3, CAPTURE + "AllTraffic/2026/11/01/00/old.jsonl", "{}\n")
    result = monitor_lambda.prepare_window(window_event(24), None)
    assert result == {
        "records_files": 0,
        "window_start": "2026-11-30T06:00:00Z",
        "window_end": "2026-12-01T06:00:00Z",
        "manifest": MANIFEST,
    }
    directory = "monitoring/fraud/windows/exec-1/"
    assert read_json(s3, MANIFEST) == [{"prefix": f"s3://{BUCKET}/{directory}"}, "empty.jsonl"]
    assert s3.get_object(Bucket=BUCKET, Key=directory + "empty.jsonl")["Body"].read() == b""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"WindowHours": 0}, "WindowHours must be a whole number of hours"),
        ({"WindowHours": "six"}, "WindowHours must be a whole number of hours"),
        ({"ScheduledTime": "yesterday"}, "ScheduledTime is not ISO 8601"),
        ({"CaptureS3Uri": "/data-capture/"}, "CaptureS3Uri must be an s3:// URI"),
        ({"ManifestS3Uri": f"s3://{BUCKET}/monitoring/"}, "ManifestS3Uri must name an object"),
        ({"ManifestS3Uri": None}, "ManifestS3Uri must be an s3:// URI"),
    ],
)
def test_prepare_window_rejects_a_bad_event(change: dict[str, Any], message: str) -> None:
    with pytest.raises(monitor_lambda.EventError, match=message):
        monitor_lambda.prepare_window({**window_event(), **change}, None)
    with pytest.raises(monitor_lambda.EventError, match="event lacks CaptureS3Uri"):
        monitor_lambda.prepare_window({"WindowHours": 1}, None)


# --- CloudWatch -----------------------------------------------------------------------------
def datums(count: int) -> list[dict[str, Any]]:
    """metrics.json entries as monitor.py writes them."""
    return [
        {
            "MetricName": "FeatureDriftPSI",
            "Dimensions": [{"Name": "Model", "Value": "fraud"}, {"Name": "Feature", "Value": f"feature_{n:04d}"}],
            "Value": n / 1000,
            "Unit": "None",
        }
        for n in range(count)
    ]


def metric_values(name: str, dimensions: list[dict[str, str]], stat: str = "Sum") -> list[float]:
    """One statistic over everything published in the last ten minutes.

    One period spans the whole query: periods start at StartTime, not on the minute, so a
    60 s period could split two puts made a moment apart into two values.
    """
    now = datetime.now(UTC)
    window = timedelta(minutes=10)
    query = {
        "Metric": {"Namespace": NAMESPACE, "MetricName": name, "Dimensions": dimensions},
        "Period": int(2 * window.total_seconds()),
        "Stat": stat,
    }
    result = boto3.client("cloudwatch").get_metric_data(
        MetricDataQueries=[{"Id": "q", "MetricStat": query}],
        StartTime=now - window,
        EndTime=now + window,
    )
    return result["MetricDataResults"][0]["Values"]


def listed_metrics() -> list[dict[str, Any]]:
    pages = boto3.client("cloudwatch").get_paginator("list_metrics").paginate(Namespace=NAMESPACE)
    return [metric for page in pages for metric in page["Metrics"]]


@pytest.fixture
def put_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The datum count of every PutMetricData call the handler makes."""
    calls: list[int] = []
    real_client = boto3.client

    def client(service: str, *args: Any, **kwargs: Any) -> Any:
        made = real_client(service, *args, **kwargs)
        if service == "cloudwatch":
            made.meta.events.register(
                "provide-client-params.cloudwatch.PutMetricData",
                lambda params, **_: calls.append(len(params["MetricData"])),
            )
        return made

    monkeypatch.setattr(monitor_lambda.boto3, "client", client)
    return calls


def publish_event(key: str = "monitoring/fraud/reports/exec-1/metrics.json", arn: str = "") -> dict[str, Any]:
    return {
        "MetricsS3Uri": f"s3://{BUCKET}/{key}",
        "Namespace": NAMESPACE,
        "TrackingServerArn": arn,
        "Experiment": "demo-fraud-monitoring",
        "RunName": "exec-1",
    }


def test_publish_metrics_in_batches_of_at_most_1000(s3: Any, put_calls: list[int]) -> None:
    entries = datums(1203)
    put(s3, "monitoring/fraud/reports/exec-1/metrics.json", json.dumps(entries))
    assert monitor_lambda.publish_metrics(publish_event(), None) == {"published": 1203}
    assert put_calls == [1000, 203]
    assert len(listed_metrics()) == 1203
    assert metric_values("FeatureDriftPSI", entries[7]["Dimensions"]) == [0.007]


def test_batches_stay_within_the_request_size() -> None:
    long = [
        {**datum, "Dimensions": [*datum["Dimensions"], {"Name": "Detail", "Value": "x" * 1000}]}
        for datum in datums(2500)
    ]
    for entries in (datums(2500), long):
        batches = monitor_lambda.batches(entries)
        assert [datum for batch in batches for datum in batch] == entries
        assert all(len(batch) <= monitor_lambda.MAX_DATUMS_PER_CALL for batch in batches)
        assert all(
            sum(map(monitor_lambda._encoded_size, batch)) <= monitor_lambda.MAX_REQUEST_BYTES for batch in batches
        )
    assert len(monitor_lambda.batches(long)) > 3  # the size, not the count, split these


def test_publish_metrics_rejects_a_broken_metrics_file(s3: Any) -> None:
    put(s3, "bad/metrics.json", '[{"MetricName": "FeatureDriftPSI", "Dimensions": [], "Value": NaN, "Unit": "None"}]')
    with pytest.raises(ValueError, match="entry 1 \\(FeatureDriftPSI\\) has no finite Value"):
        monitor_lambda.publish_metrics(publish_event("bad/metrics.json"), None)
    assert listed_metrics() == []


def stage_like_sagemaker(s3: Any, manifest_uri: str, local: Path) -> None:
    """What a processing input of S3DataType ManifestFile stages: every listed object, by its relative key."""
    manifest = read_json(s3, manifest_uri)
    bucket, prefix = monitor_lambda.parse_s3_uri(manifest[0]["prefix"], "prefix")
    for relative in manifest[1:]:
        target = local / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3.get_object(Bucket=bucket, Key=prefix + relative)["Body"].read())


def test_window_to_cloudwatch_through_the_monitor(s3: Any, tmp_path: Path) -> None:
    """prepare_window -> the staged manifest -> monitor.py -> metrics.json -> publish_metrics."""
    (tmp_path / "baseline").mkdir()
    (tmp_path / "baseline" / monitor.BASELINE_FILE).write_text(
        "amount,velocity\n" + "".join(f"{n},{n % 3}\n" for n in range(60))
    )
    record = {
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "data": "12.5,1\n30,2\n", "encoding": "CSV"}
        },
        "eventMetadata": {"eventId": "e1", "inferenceTime": "2026-12-01T05:10:00Z"},
        "eventVersion": "0",
    }
    put(s3, CAPTURE + "AllTraffic/2026/12/01/05/a.jsonl", json.dumps(record) + "\n" + json.dumps(record) + "\n")
    put(s3, CAPTURE + "AllTraffic/2026/12/01/04/b.jsonl", json.dumps(record) + "\nnot json\n")
    for name, event in (("full", window_event(6)), ("empty", window_event(1, "2026-12-02T06:00:00Z"))):
        window = monitor_lambda.prepare_window(event, None)
        stage_like_sagemaker(s3, window["manifest"], tmp_path / name / "capture")
        args = ["--model", "fraud", "--problem-type", "Regression", "--baseline-dir", str(tmp_path / "baseline")]
        args += ["--capture-dir", str(tmp_path / name / "capture"), "--output-dir", str(tmp_path / name / "report")]
        assert monitor.main([*args, "--ground-truth-dir", str(tmp_path / name / "ground-truth")]) == 0
        key = f"monitoring/fraud/reports/{name}/metrics.json"
        put(s3, key, (tmp_path / name / "report" / monitor.METRICS_FILE).read_text())
        published = monitor_lambda.publish_metrics({**publish_event(key), "TrackingServerArn": None}, None)
        assert published["published"] > 0
    model = [{"Name": "Model", "Value": "fraud"}]
    assert metric_values("RecordsMonitored", model, "SampleCount") == [2.0]  # the empty window's 0 too
    assert metric_values("RecordsMonitored", model, "Maximum") == [3.0]
    assert metric_values("MalformedRecords", model) == [1.0]
    assert metric_values("FeatureDriftPSI", [*model, {"Name": "Feature", "Value": "amount"}])


# --- MLflow: a local stand-in for the SageMaker MLflow tracking server ---------------------
class TrackingServer(BaseHTTPRequestHandler):
    """Records each request; answers like MLflow's REST API (experiment missing until created)."""

    requests: list[dict[str, Any]]
    fail: str

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        self.requests.append(
            {"method": self.command, "path": url.path, "query": parse_qs(url.query), "url": self.path}
            | {"headers": {name.lower(): value for name, value in self.headers.items()}, "body": body}
        )
        endpoint = url.path.removeprefix("/api/2.0/mlflow/")
        if endpoint == self.fail:
            status, answer = 500, {"error_code": "INTERNAL_ERROR", "message": "the database is down"}
        elif endpoint == "experiments/get-by-name":
            status, answer = 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such experiment"}
        elif endpoint == "experiments/create":
            status, answer = 200, {"experiment_id": "17"}
        elif endpoint == "runs/create":
            status, answer = 200, {"run": {"info": {"run_id": "run-abc", "experiment_id": "17"}}}
        else:
            status, answer = 200, {}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@contextmanager
def local_tracking_server(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[list[dict[str, Any]], type[TrackingServer]]]:
    """A local HTTP server standing in for the real SageMaker MLflow service (moto has no MLflow API);
    the client's TrackingServerUrl lookup is patched to point at it. Shared with the training
    pipeline's MLflow step tests (the same client, mlflow_rest.py)."""
    handler = type("Handler", (TrackingServer,), {"requests": [], "fail": ""})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    monkeypatch.setattr(mlflow_rest, "tracking_server_url", lambda arn: f"http://{host}:{port}")
    try:
        yield handler.requests, handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def tracking_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[list[dict[str, Any]], type[TrackingServer]]]:
    with local_tracking_server(monkeypatch) as served:
        yield served


def check_signature(request: dict[str, Any]) -> None:
    """SigV4 for sagemaker-mlflow in eu-west-1 with the function's credentials, valid for what was sent."""
    headers = request["headers"]  # names lowercased
    authorization = headers["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=testing/")
    scope = authorization.split("Credential=")[1].split(",")[0]
    assert scope.endswith("/eu-west-1/sagemaker-mlflow/aws4_request")
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"} <= set(signed)
    assert headers["x-amz-content-sha256"] == hashlib.sha256(request["body"]).hexdigest()
    assert headers["x-amz-security-token"] == "testing"
    assert headers["x-mlflow-sm-tracking-server-arn"] == ARN
    # Recompute the signature from the request as received: what the service's check does.
    lowered = headers
    again = AWSRequest(
        method=request["method"],
        url=f"http://{lowered['host']}{request['url']}",
        data=request["body"],
        headers={name: lowered[name] for name in signed if name != "host"},
    )
    again.context["timestamp"] = lowered["x-amz-date"]
    signer = SigV4Auth(Credentials("testing", "testing", "testing"), "sagemaker-mlflow", "eu-west-1")
    string_to_sign = signer.string_to_sign(again, signer.canonical_request(again))
    assert authorization.endswith(f"Signature={signer.signature(string_to_sign, again)}")


def test_publish_metrics_logs_to_mlflow_signed_with_sigv4(s3: Any, tracking_server: Any) -> None:
    requests, _ = tracking_server
    entries = [
        *datums(3),
        {
            "MetricName": "ModelQuality",
            "Dimensions": [{"Name": "Model", "Value": "fraud"}, {"Name": "Metric", "Value": "auc"}],
        }
        | {"Value": 0.91, "Unit": "None"},
        {
            "MetricName": "RecordsMonitored",
            "Dimensions": [{"Name": "Model", "Value": "fraud"}],
            "Value": 42.0,
            "Unit": "Count",
        },
    ]
    put(s3, "m/metrics.json", json.dumps(entries))
    result = monitor_lambda.publish_metrics(publish_event("m/metrics.json", ARN), None)
    assert result == {"published": 5, "mlflow": "ok", "mlflow_run_id": "run-abc"}
    assert [(request["method"], request["path"]) for request in requests] == [
        ("GET", "/api/2.0/mlflow/experiments/get-by-name"),
        ("POST", "/api/2.0/mlflow/experiments/create"),
        ("POST", "/api/2.0/mlflow/runs/create"),
        ("POST", "/api/2.0/mlflow/runs/log-batch"),
        ("POST", "/api/2.0/mlflow/runs/update"),
    ]
    assert requests[0]["query"] == {"experiment_name": ["demo-fraud-monitoring"]}
    bodies = [json.loads(request["body"]) if request["body"] else None for request in requests]
    assert bodies[0] is None and bodies[1] == {"name": "demo-fraud-monitoring"}
    assert (bodies[2]["experiment_id"], bodies[2]["run_name"]) == ("17", "exec-1")
    assert {"key": "mlflow.runName", "value": "exec-1"} in bodies[2]["tags"]
    logged = {metric["key"]: metric["value"] for metric in bodies[3]["metrics"]}
    assert logged == {
        "FeatureDriftPSI.feature_0000": 0.0,
        "FeatureDriftPSI.feature_0001": 0.001,
        "FeatureDriftPSI.feature_0002": 0.002,
        "ModelQuality.auc": 0.91,
        "RecordsMonitored": 42.0,
    }
    assert bodies[3]["run_id"] == "run-abc" and all(metric["step"] == 0 for metric in bodies[3]["metrics"])
    assert (bodies[4]["run_id"], bodies[4]["status"]) == ("run-abc", "FINISHED")
    for request in requests:
        check_signature(request)
    assert len(listed_metrics()) == 5  # CloudWatch got them too


def test_an_mlflow_failure_does_not_fail_cloudwatch_publishing(s3: Any, tracking_server: Any) -> None:
    requests, handler = tracking_server
    handler.fail = "runs/create"
    put(s3, "m/metrics.json", json.dumps(datums(4)))
    result = monitor_lambda.publish_metrics(publish_event("m/metrics.json", ARN), None)
    assert result["published"] == 4
    assert result["mlflow"] == "error: POST runs/create: HTTP 500 INTERNAL_ERROR the database is down"
    assert len(listed_metrics()) == 4
    assert [request["path"].rsplit("/", 1)[-1] for request in requests] == ["get-by-name", "create", "create"]


def test_an_unreachable_tracking_server_is_reported(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(mlflow_rest, "tracking_server_url", lambda arn: f"http://127.0.0.1:{port}")
    put(s3, "m/metrics.json", json.dumps(datums(2)))
    result = monitor_lambda.publish_metrics(publish_event("m/metrics.json", ARN), None)
    assert result["published"] == 2 and result["mlflow"].startswith("error: GET experiments/get-by-name: ")


def test_the_tracking_server_url_comes_from_describe_mlflow_tracking_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto does not implement DescribeMlflowTrackingServer: botocore's Stubber answers (no network)."""
    client = boto3.client("sagemaker", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b")
    stubber = Stubber(client)
    url = "https://t-abc123.eu-west-1.experiments.sagemaker.aws/"
    stubber.add_response(
        "describe_mlflow_tracking_server", {"TrackingServerUrl": url}, {"TrackingServerName": "mlstack"}
    )
    regions: list[str] = []

    def fake_client(service: str, region_name: str, **options: Any) -> Any:
        regions.append(region_name)
        return client

    monkeypatch.setattr(mlflow_rest.boto3, "client", fake_client)
    with stubber:
        assert mlflow_rest.tracking_server_url(ARN) == url.rstrip("/")
    assert regions == ["eu-west-1"]
    with pytest.raises(mlflow_rest.MlflowError, match="not a SageMaker MLflow tracking server ARN"):
        mlflow_rest.tracking_server_region("arn:aws:s3:::bucket")
