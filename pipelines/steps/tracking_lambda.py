"""AWS Lambda handler of the training pipeline's MLflow step (python3.12; stdlib + boto3 only).

The training and evaluation jobs run with network isolation in framework images without
mlflow, so this function logs for them, after Evaluate; its MLflow client is
mlflow_rest.py, packaged beside this file.

log_training_run(event, context)
    One MLflow run per pipeline execution in the experiment `ExperimentName`. Event:
    {"TrackingServerArn": "arn:aws:sagemaker:...:mlflow-tracking-server/<name>",
     "ExperimentName": "<pipeline name>", "RunName": "<execution id>",
     "EvaluationS3Uri": "s3://.../evaluation/evaluation.json",
     "ModelArtifactS3Uri": "s3://.../model.tar.gz",
     "PipelineExecutionArn": "arn:aws:sagemaker:...:pipeline/<name>/execution/<id>",
     "Hyperparameters": "<JSON object>", "Tags": "<JSON object>"}
    Params: the hyperparameters. Metrics: evaluation.json's metrics.<name>.value and its
    row count (test_rows). Tags: Tags, the model artifact, the execution ARN, the problem type.
    Returns {"run_id": "<hex>"}: the registered model version records it.

MLflow must never decide whether a model is registered: any failure (tracking server
down, evaluation.json unreadable, a malformed event) is logged and the function returns
{"run_id": "none"}, never raises. The run of a failure after its creation is marked FAILED.
"""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any

import boto3

try:  # imported as part of the pipelines package (tests, tooling)
    from . import mlflow_rest
except ImportError:  # in the Lambda archive, beside this file
    import mlflow_rest  # type: ignore[no-redef]

log = logging.getLogger("mlstack.tracking")
log.setLevel(logging.INFO)

NO_RUN = "none"  # a valid model package metadata value, unlike an empty string
SOURCE = "training"
# botocore's CustomerMetadataValue (ASCII part): what the model version can record.
_METADATA_VALUE = re.compile(r"^[A-Za-z0-9 _.:/=+\-@]{1,256}$")


class EventError(ValueError):
    """The event lacks a field or has an unusable value."""


def _field(event: Any, name: str) -> str:
    if not isinstance(event, dict) or not isinstance(event.get(name), str) or not event[name]:
        raise EventError(f"event lacks {name}")
    return event[name]


def _json_object(event: dict[str, Any], name: str) -> dict[str, Any]:
    value = json.loads(event.get(name) or "{}")
    if not isinstance(value, dict):
        raise EventError(f"{name} must be a JSON object")
    return value


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/key -> (bucket, key)."""
    bucket, _, key = uri[len("s3://") :].partition("/") if uri.startswith("s3://") else ("", "", "")
    if not bucket or not key:
        raise EventError(f"not an S3 object URI: {uri!r}")
    return bucket, key


def evaluation_metrics(report: Any, timestamp: int) -> list[dict[str, Any]]:
    """evaluate.py's {"metrics": {<name>: {"value": <float>}}, "rows": <int>} as MLflow metrics."""
    if not isinstance(report, dict) or not isinstance(report.get("metrics"), dict):
        raise ValueError("evaluation.json has no metrics object")
    values = {name: entry.get("value") for name, entry in report["metrics"].items() if isinstance(entry, dict)}
    if isinstance(report.get("rows"), int):
        values["test_rows"] = report["rows"]
    return [
        {"key": mlflow_rest.key(name), "value": float(value), "timestamp": timestamp, "step": 0}
        for name, value in sorted(values.items())
        # NaN or a missing value: nothing to log (MLflow's JSON API cannot carry NaN)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ]


def read_evaluation(uri: str) -> Any:
    bucket, key = parse_s3_uri(uri)
    s3 = boto3.client("s3", config=mlflow_rest.BOTO_CONFIG)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def log_training_run(event: dict[str, Any], context: Any = None) -> dict[str, str]:
    try:
        arn = _field(event, "TrackingServerArn")
        report = read_evaluation(_field(event, "EvaluationS3Uri"))
        tags = {
            **_json_object(event, "Tags"),
            "mlstack.source": SOURCE,
            "mlstack.model_artifact": _field(event, "ModelArtifactS3Uri"),
            "mlstack.pipeline_execution_arn": _field(event, "PipelineExecutionArn"),
        }
        if isinstance(report, dict) and isinstance(report.get("problem_type"), str):
            tags["mlstack.problem_type"] = report["problem_type"]
        metrics = evaluation_metrics(report, mlflow_rest.now_ms())
        run_id = mlflow_rest.connect(arn).log(
            _field(event, "ExperimentName"),
            _field(event, "RunName"),
            metrics=metrics,
            params=_json_object(event, "Hyperparameters"),
            tags=tags,
        )
    except Exception:  # registration must not depend on MLflow: log it, link no run
        log.exception("MLflow logging failed; the model version will record run id %r", NO_RUN)
        return {"run_id": NO_RUN}
    if not _METADATA_VALUE.match(run_id):
        log.error("MLflow run id %r cannot be model package metadata; recording %r", run_id, NO_RUN)
        return {"run_id": NO_RUN}
    log.info("logged %d metric(s) to MLflow run %s", len(metrics), run_id)
    return {"run_id": run_id}
