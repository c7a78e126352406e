"""The training pipeline's MLflow step handler (pipelines/steps/tracking_lambda.py).

evaluation.json is read from moto's S3 on 127.0.0.1; the tracking server is the local
stand-in of tests/test_monitor_lambda.py (moto has no MLflow API). The event is the one
the golden MLflow definition sends, its step properties and execution variables resolved.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from mlstack.pipelines import layout
from mlstack.pipelines.steps import mlflow_rest, tracking_lambda
from tests import test_monitor_lambda as monitor_tests

GOLDEN = Path(__file__).resolve().parent / "golden" / "pipelines" / "xgboost-fraud-mlflow.json"
STEPS = Path(tracking_lambda.__file__).resolve().parent
BUCKET = "mlstack-prod-artifacts-111111111111"
RUN = f"s3://{BUCKET}/pipelines/fraud-detector/runs/exec-7"
MODEL = f"s3://{BUCKET}/models/fraud-detector/pipelines-exec-7-Train-abc/output/model.tar.gz"
EXECUTION = "arn:aws:sagemaker:eu-west-1:111111111111:pipeline/mlstack-prod-fraud-detector-training/execution/exec-7"
# What the pipeline resolves at run time.
RESOLVED = {
    "Execution.PipelineExecutionId": "exec-7",
    "Execution.PipelineExecutionArn": EXECUTION,
    "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri": f"{RUN}/evaluation",
    "Steps.Train.ModelArtifacts.S3ModelArtifacts": MODEL,
}
REPORT = {
    "metrics": {"auc": {"value": 0.93}, "f1": {"value": 0.71}, "log_loss": {"value": float("nan")}},
    "problem_type": "BinaryClassification",
    "rows": 60,
}


def resolve(value: Any) -> Any:
    if isinstance(value, dict) and "Get" in value:
        return RESOLVED[value["Get"]]
    if isinstance(value, dict) and "Std:Join" in value:
        join = value["Std:Join"]
        return join["On"].join(str(resolve(part)) for part in join["Values"])
    return value


def pipeline_event() -> dict[str, Any]:
    """The LogToMlflow step's arguments as the function receives them."""
    steps = {step["Name"]: step for step in json.loads(GOLDEN.read_text())["Steps"]}
    arguments = steps["LogToMlflow"]["Arguments"]
    event = {name: resolve(value) for name, value in arguments.items()}
    event["TrackingServerArn"] = monitor_tests.ARN  # the stand-in's (and signature check's) server
    return event


@pytest.fixture
def s3(aws: str) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    # A metric may be NaN (an undefined score): json.dumps writes it, MLflow's JSON cannot take it.
    body = json.dumps(REPORT).encode()
    client.put_object(Bucket=BUCKET, Key=f"{RUN.split('/', 3)[3]}/evaluation/evaluation.json", Body=body)
    return client


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[list[dict[str, Any]], Any]]:
    with monitor_tests.local_tracking_server(monkeypatch) as served:
        yield served


def bodies(requests: list[dict[str, Any]]) -> list[Any]:
    return [json.loads(request["body"]) if request["body"] else None for request in requests]


def test_logs_params_metrics_and_the_model_and_returns_the_run_id(s3: Any, server: Any) -> None:
    requests, _ = server
    assert tracking_lambda.log_training_run(pipeline_event(), None) == {"run_id": "run-abc"}
    assert [(request["method"], request["path"].removeprefix("/api/2.0/mlflow/")) for request in requests] == [
        ("GET", "experiments/get-by-name"),
        ("POST", "experiments/create"),
        ("POST", "runs/create"),
        ("POST", "runs/log-batch"),
        ("POST", "runs/update"),
    ]
    sent = bodies(requests)
    experiment = "mlstack-prod-fraud-detector-training"  # the pipeline's name
    assert requests[0]["query"] == {"experiment_name": [experiment]} and sent[1] == {"name": experiment}
    created = sent[2]
    assert (created["experiment_id"], created["run_name"]) == ("17", "exec-7")
    tags = {tag["key"]: tag["value"] for tag in created["tags"]}
    assert tags == {
        "mlflow.runName": "exec-7",
        "mlstack.source": "training",
        "mlstack.model_artifact": MODEL,
        "mlstack.pipeline_execution_arn": EXECUTION,
        "mlstack.problem_type": "BinaryClassification",
        "mlstack.model_package_group": "mlstack-prod-fraud-detector",
        "mlstack.code_sha256": tags["mlstack.code_sha256"],
        "mlstack.framework": "xgboost 1.7-1",
    }
    batch = sent[3]
    assert batch["run_id"] == "run-abc"
    assert {param["key"]: param["value"] for param in batch["params"]} == {
        "algorithm": "xgboost",
        "eta": "0.2",
        "max_depth": "6",
        "num_round": "200",
        "objective": "binary:logistic",
        "problem-type": "BinaryClassification",
        "scale_pos_weight": "25",
    }
    # NaN cannot travel in MLflow's JSON: left out; the test split's size is logged too.
    assert {metric["key"]: metric["value"] for metric in batch["metrics"]} == {"auc": 0.93, "f1": 0.71, "test_rows": 60}
    assert all(metric["step"] == 0 for metric in batch["metrics"])
    assert (sent[4]["run_id"], sent[4]["status"]) == ("run-abc", "FINISHED")
    for request in requests:
        monitor_tests.check_signature(request)


@pytest.mark.parametrize("failing", ["experiments/create", "runs/create"])
def test_an_mlflow_error_before_the_run_exists_links_no_run(s3: Any, server: Any, failing: str) -> None:
    requests, handler = server
    handler.fail = failing
    assert tracking_lambda.log_training_run(pipeline_event(), None) == {"run_id": layout.MLFLOW_NO_RUN}
    assert requests[-1]["path"].endswith(failing)


def test_a_half_logged_run_is_marked_failed_and_not_linked(s3: Any, server: Any) -> None:
    requests, handler = server
    handler.fail = "runs/log-batch"
    assert tracking_lambda.log_training_run(pipeline_event(), None) == {"run_id": "none"}
    last = bodies(requests)[-1]
    assert requests[-1]["path"].endswith("runs/update") and (last["run_id"], last["status"]) == ("run-abc", "FAILED")


def test_an_unreachable_tracking_server_links_no_run(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(mlflow_rest, "tracking_server_url", lambda arn: f"http://127.0.0.1:{port}")
    assert tracking_lambda.log_training_run(pipeline_event(), None) == {"run_id": "none"}


@pytest.mark.parametrize(
    "change",
    [
        {"EvaluationS3Uri": f"{RUN}/evaluation/missing.json"},  # evaluation.json unreadable
        {"TrackingServerArn": ""},
        {"Hyperparameters": "[1, 2]"},
        {"ModelArtifactS3Uri": None},
    ],
)
def test_a_bad_event_or_report_links_no_run_and_never_raises(s3: Any, server: Any, change: dict[str, Any]) -> None:
    requests, _ = server
    assert tracking_lambda.log_training_run({**pipeline_event(), **change}, None) == {"run_id": "none"}
    assert requests == []  # nothing half-logged
    assert tracking_lambda.log_training_run("not an event", None) == {"run_id": "none"}  # type: ignore[arg-type]


def test_log_batch_bodies_stay_within_mlflows_limits() -> None:
    metrics = [{"key": f"m{index}", "value": 1.0, "timestamp": 0, "step": 0} for index in range(1500)]
    params = [{"key": f"p{index}", "value": "1"} for index in range(250)]
    sent = list(mlflow_rest.batches(metrics, params))
    for body in sent:
        assert len(body.get("params", [])) <= 100 and len(body.get("metrics", [])) <= 1000
        assert sum(len(items) for items in body.values()) <= mlflow_rest.BATCH_ENTITIES
    assert [item for body in sent for item in body.get("params", [])] == params
    assert [item for body in sent for item in body.get("metrics", [])] == metrics
    assert list(mlflow_rest.batches()) == []


@pytest.mark.parametrize("handler", [layout.TRACKING_LAMBDA_SCRIPT, "monitor_lambda.py"])
def test_in_a_lambda_archive_the_handler_imports_the_client_beside_it(tmp_path: Path, handler: str) -> None:
    """Lambda puts the archive's root on sys.path, with no package around the files."""
    for name in (handler, layout.MLFLOW_CLIENT_SCRIPT):
        shutil.copy(STEPS / name, tmp_path / name)
    module = handler.removesuffix(".py")
    probe = f"import {module}; print({module}.mlflow_rest.__file__)"
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r}); {probe}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(result.stdout.strip()) == tmp_path / layout.MLFLOW_CLIENT_SCRIPT
