"""The TrainingPipeline component on its own (as a platform team would use it), under mocks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlstack import shared_package_dir
from mlstack.components.training import TrainingPipeline, TrainingPipelineArgs, drift_event_pattern
from mlstack.pipelines import layout
from mlstack.plan.synth import RecordedResource, record

ACCOUNT = "123456789012"
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/abc"


def _args(tmp_path: Path, **overrides: object) -> TrainingPipelineArgs:
    script = tmp_path / "train.py"
    script.write_text("print('train')\n")
    values: dict[str, object] = {
        "pipeline_name": "demo-dev-scorer-training",
        "definition": json.dumps({"Version": "2020-12-01", "Steps": []}),
        "role_name": "demo-dev-scorer-pipeline",
        "account_id": ACCOUNT,
        "region": "eu-west-1",
        "bucket_name": "demo-dev-artifacts",
        "kms_key_arn": KEY,
        "model_package_group_name": "demo-dev-scorer",
        "write_prefixes": ["pipelines/scorer", "models/scorer"],
        "read_uris": ["s3://raw-data/events/"],
        "code_files": {"pipelines/scorer/code/train.py": script},
        "schedule_name": "demo-dev-scorer-retrain",
        "schedule_expression": "rate(7 days)",
        "trigger_role_name": "demo-dev-scorer-retrain",
        "drift_rule_name": "demo-dev-scorer-drift-retrain",
        "drift_alarm_name": "demo-dev-scorer-data-drift",
        "tags": {"owner": "ml@example.com"},
    }
    values.update(overrides)
    return TrainingPipelineArgs(**values)  # type: ignore[arg-type]


def _by_name(resources: list[RecordedResource]) -> dict[str, RecordedResource]:
    return {r.name: r for r in resources}


def _statements(resource: RecordedResource, key: str = "policy") -> dict[str, dict]:
    return {s["Sid"]: s for s in json.loads(resource.inputs[key])["Statement"]}


def test_pipeline_role_is_scoped_to_its_group_bucket_prefixes_and_itself(tmp_path: Path) -> None:
    resources, _ = record(lambda: TrainingPipeline("scorer", _args(tmp_path)))
    by_name = _by_name(resources)
    pipeline = by_name["scorer-pipeline"].inputs
    assert pipeline["pipelineName"] == "demo-dev-scorer-training"
    assert pipeline["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/demo-dev-scorer-pipeline"
    sids = _statements(by_name["scorer-policy"])
    assert sids["PassOnlyItself"]["Resource"] == f"arn:aws:iam::{ACCOUNT}:role/demo-dev-scorer-pipeline"
    assert sids["PassOnlyItself"]["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert sids["RegisterIntoOwnGroup"]["Resource"] == [
        f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:model-package-group/demo-dev-scorer",
        f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:model-package/demo-dev-scorer/*",
    ]
    assert sids["WriteOwnPrefixes"]["Resource"] == [
        "arn:aws:s3:::demo-dev-artifacts/pipelines/scorer/*",
        "arn:aws:s3:::demo-dev-artifacts/models/scorer/*",
    ]
    assert sids["ReadTrainingData"]["Resource"] == ["arn:aws:s3:::raw-data", "arn:aws:s3:::raw-data/events/*"]
    assert sids["UseProjectKey"]["Resource"] == KEY
    for statement in sids.values():
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in a for a in actions)


def test_step_scripts_are_uploaded_encrypted_with_a_content_hash(tmp_path: Path) -> None:
    resources, _ = record(lambda: TrainingPipeline("scorer", _args(tmp_path)))
    upload = _by_name(resources)["scorer-code-train.py"].inputs
    assert upload["key"] == "pipelines/scorer/code/train.py"
    assert upload["serverSideEncryption"] == "aws:kms" and upload["kmsKeyId"] == KEY
    assert len(upload["sourceHash"]) == 64
    pipeline = _by_name(resources)["scorer-pipeline"]
    assert _by_name(resources)["scorer-code-train.py"].urn in pipeline.dependencies


def test_schedule_starts_the_pipeline_through_the_trigger_role(tmp_path: Path) -> None:
    resources, _ = record(lambda: TrainingPipeline("scorer", _args(tmp_path)))
    by_name = _by_name(resources)
    schedule = by_name["scorer-schedule"].inputs
    assert schedule["scheduleExpression"] == "rate(7 days)"
    pipeline_arn = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:pipeline/demo-dev-scorer-training"
    assert schedule["target"]["arn"] == pipeline_arn
    assert schedule["target"]["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/demo-dev-scorer-retrain"
    trigger = _statements(by_name["scorer-trigger-policy"])
    assert set(trigger) == {"StartThisPipelineOnly", "DecryptThisSchedule"}
    start = trigger["StartThisPipelineOnly"]
    assert (start["Action"], start["Resource"]) == ("sagemaker:StartPipelineExecution", pipeline_arn)
    # The schedule is encrypted with the key: Scheduler decrypts it as the role, for this schedule only.
    assert schedule["kmsKeyArn"] == KEY
    assert trigger["DecryptThisSchedule"] == {
        "Sid": "DecryptThisSchedule",
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": KEY,
        "Condition": {
            "StringEquals": {
                "kms:EncryptionContext:aws:scheduler:schedule-arn": (
                    f"arn:aws:scheduler:eu-west-1:{ACCOUNT}:schedule/default/demo-dev-scorer-retrain"
                )
            }
        },
    }
    (trust,) = json.loads(by_name["scorer-trigger-role"].inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": ["events.amazonaws.com", "scheduler.amazonaws.com"]}


def test_drift_alarm_entering_alarm_starts_the_pipeline(tmp_path: Path) -> None:
    resources, _ = record(lambda: TrainingPipeline("scorer", _args(tmp_path)))
    by_name = _by_name(resources)
    rule = by_name["scorer-drift-rule"].inputs
    assert json.loads(rule["eventPattern"]) == {
        "detail": {"alarmName": ["demo-dev-scorer-data-drift"], "state": {"value": ["ALARM"]}},
        "detail-type": ["CloudWatch Alarm State Change"],
        "source": ["aws.cloudwatch"],
    }
    assert rule["eventPattern"] == drift_event_pattern("demo-dev-scorer-data-drift")
    target = by_name["scorer-drift-target"].inputs
    assert target["rule"] == "demo-dev-scorer-drift-retrain"
    assert target["arn"].endswith(":pipeline/demo-dev-scorer-training")
    assert target["roleArn"].endswith(":role/demo-dev-scorer-retrain")


@pytest.mark.parametrize(
    ("overrides", "absent"),
    [
        ({"schedule_expression": None}, {"scorer-schedule"}),
        ({"drift_alarm_name": None}, {"scorer-drift-rule", "scorer-drift-target"}),
        (
            {"schedule_expression": None, "drift_alarm_name": None},
            {"scorer-schedule", "scorer-drift-rule", "scorer-trigger-role", "scorer-trigger-policy"},
        ),
    ],
)
def test_triggers_only_where_asked(tmp_path: Path, overrides: dict, absent: set[str]) -> None:
    resources, _ = record(lambda: TrainingPipeline("scorer", _args(tmp_path, **overrides)))
    assert not absent & set(_by_name(resources))


def test_without_a_schedule_the_trigger_role_decrypts_nothing(tmp_path: Path) -> None:
    resources, _ = record(lambda: TrainingPipeline("scorer", _args(tmp_path, schedule_expression=None)))
    assert set(_statements(_by_name(resources)["scorer-trigger-policy"])) == {"StartThisPipelineOnly"}


# --- the MLflow step's function ----------------------------------------------------------------
SERVER = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:mlflow-tracking-server/demo-dev-mlflow"
STEPS = shared_package_dir("pipelines") / "steps"
TRACKING = {
    "tracking_server_arn": SERVER,
    "tracking_function_name": "demo-dev-scorer-mlflow",
    "tracking_lambda_script": STEPS / layout.TRACKING_LAMBDA_SCRIPT,
    "tracking_read_prefix": "pipelines/scorer/runs",
}


def test_without_a_tracking_server_there_is_no_function(tmp_path: Path) -> None:
    resources, _ = record(lambda: TrainingPipeline("scorer", _args(tmp_path)))
    assert not [r for r in resources if r.type == "aws:lambda/function:Function" or "tracking" in r.name]
    assert "InvokeTheTrackingFunction" not in _statements(_by_name(resources)["scorer-policy"])


def test_the_tracking_function_runs_the_bundled_handler_with_its_client(tmp_path: Path) -> None:
    resources, _ = record(lambda: TrainingPipeline("scorer", _args(tmp_path, **TRACKING)))
    by_name = _by_name(resources)
    function = by_name["scorer-tracking-function"].inputs
    assert function["name"] == "demo-dev-scorer-mlflow"
    assert function["handler"] == layout.TRACKING_HANDLER == "tracking_lambda.log_training_run"
    assert function["runtime"] == "python3.12"
    assert function["role"] == f"arn:aws:iam::{ACCOUNT}:role/demo-dev-scorer-mlflow"
    archive = function["code"].assets
    assert sorted(archive) == sorted([layout.TRACKING_LAMBDA_SCRIPT, layout.MLFLOW_CLIENT_SCRIPT])
    assert all(Path(asset.path) == STEPS / name for name, asset in archive.items())
    assert "environment" not in function  # nothing to encrypt
    logs = by_name["scorer-tracking-logs"].inputs
    assert function["loggingConfig"] == {"logFormat": "JSON", "logGroup": logs["name"]}
    assert logs["name"] == "/aws/lambda/demo-dev-scorer-mlflow"
    assert by_name["scorer-tracking-policy"].urn in by_name["scorer-tracking-function"].dependencies
    for name in ("scorer-tracking-function", "scorer-tracking-logs", "scorer-tracking-role"):
        assert by_name[name].inputs["tags"] == {"owner": "ml@example.com"}, name
    (trust,) = json.loads(by_name["scorer-tracking-role"].inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_the_tracking_role_logs_to_that_server_reads_the_runs_and_writes_its_logs(tmp_path: Path) -> None:
    resources, _ = record(lambda: TrainingPipeline("scorer", _args(tmp_path, **TRACKING)))
    by_name = _by_name(resources)
    statements = _statements(by_name["scorer-tracking-policy"])
    assert statements["LogToTheTrackingServer"]["Action"] == [
        "sagemaker-mlflow:GetExperimentByName",
        "sagemaker-mlflow:CreateExperiment",
        "sagemaker-mlflow:CreateRun",
        "sagemaker-mlflow:LogBatch",
        "sagemaker-mlflow:UpdateRun",
    ]
    assert statements["LogToTheTrackingServer"]["Resource"] == SERVER
    assert statements["FindTheTrackingServer"]["Action"] == "sagemaker:DescribeMlflowTrackingServer"
    assert statements["FindTheTrackingServer"]["Resource"] == SERVER
    assert statements["ReadTheEvaluation"]["Action"] == "s3:GetObject"
    assert statements["ReadTheEvaluation"]["Resource"] == "arn:aws:s3:::demo-dev-artifacts/pipelines/scorer/runs/*"
    assert statements["DecryptTheEvaluation"]["Resource"] == KEY
    assert statements["DecryptTheEvaluation"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    }
    assert statements["WriteOwnLogs"]["Resource"].endswith(":log-group:/aws/lambda/demo-dev-scorer-mlflow:*")
    assert set(statements) == {
        "LogToTheTrackingServer",
        "FindTheTrackingServer",
        "ReadTheEvaluation",
        "DecryptTheEvaluation",
        "WriteOwnLogs",
    }
    # The pipeline's role invokes exactly that function.
    invoke = _statements(by_name["scorer-policy"])["InvokeTheTrackingFunction"]
    assert (invoke["Action"], invoke["Resource"]) == (
        "lambda:InvokeFunction",
        f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:demo-dev-scorer-mlflow",
    )


@pytest.mark.parametrize("missing", ["tracking_function_name", "tracking_lambda_script", "tracking_read_prefix"])
def test_a_tracking_server_needs_the_function_details(tmp_path: Path, missing: str) -> None:
    with pytest.raises(ValueError, match="a tracking server needs"):
        record(lambda: TrainingPipeline("scorer", _args(tmp_path, **{**TRACKING, missing: None})))
