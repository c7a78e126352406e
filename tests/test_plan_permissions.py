"""What the example's roles may actually do, evaluated from the plan's IAM policy documents.

Each test asks the question a run would: can this role, making this request (action,
resource, the condition keys AWS sends), do what its job needs, and nothing wider?
The evaluator is tests/iam_documents.py (Deny wins; every condition must hold).
"""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from mlstack.components.quality_monitoring import (
    EndpointInputArgs,
    ModelQualityMonitor,
    ModelQualityMonitorArgs,
    ground_truth_statements,
)
from mlstack.plan.synth import record, synthesize
from mlstack.project import find_project
from tests.conftest import EXAMPLE, ROOT
from tests.iam_documents import allowed, documents, grants_on, listed, role_name_of, role_statements

ENVIRONMENTS = ("dev", "staging", "prod")
ACCOUNTS = {"dev": "111111111111", "staging": "222222222222", "prod": "333333333333"}
REGION = "eu-west-1"
SCHEDULE_CONTEXT = "kms:EncryptionContext:aws:scheduler:schedule-arn"


# --- 1. model quality reads its ground truth ------------------------------------------------
@pytest.fixture(scope="module")
def model_monitor_plan(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """prod of the example with its monitors on SageMaker Model Monitor: the engine whose
    model-quality job definitions read the ground truth. Where the spec offers a choice of
    engine the example's default is mlstack's own monitor, so the copy asks for Model Monitor."""
    from mlstack.spec.monitoring import Monitoring

    text = EXAMPLE.read_text()
    if "engine" in Monitoring.model_fields:
        anchor = "    monitoring:\n      data_quality:\n        cadence: hourly\n"
        assert text.count(anchor) == 1
        text = text.replace(anchor, "    monitoring:\n      engine: model-monitor\n" + anchor.partition("\n")[2])
    directory = tmp_path_factory.mktemp("model-monitor")
    spec = directory / "mlstack.yaml"
    spec.write_text(text)
    shutil.copy(ROOT / "mlstack.lock.json", directory / "mlstack.lock.json")
    return synthesize("prod", spec=spec, project=find_project(explicit=ROOT))


def test_the_model_quality_role_reads_exactly_its_ground_truth(model_monitor_plan) -> None:
    plan = model_monitor_plan
    (job,) = plan.of_type("aws-native:sagemaker:ModelQualityJobDefinition")
    assert job.inputs["modelQualityJobInput"]["groundTruthS3Input"]["s3Uri"] == "s3://card-fraud-labels/chargebacks/"
    statements = role_statements(plan, role_name_of(job.inputs["roleArn"]))
    bucket = "arn:aws:s3:::card-fraud-labels"
    # What the job does: list the hourly label folders, read the files.
    assert allowed(statements, "s3:GetObject", f"{bucket}/chargebacks/2024/05/01/13/labels.jsonl")
    assert allowed(statements, "s3:ListBucket", bucket, {"s3:prefix": "chargebacks/2024/05/01/13/"})
    # Nothing wider: no other prefix, no listing without the prefix, no writes.
    assert not allowed(statements, "s3:GetObject", f"{bucket}/disputes/2024/05/01/13/labels.jsonl")
    assert not allowed(statements, "s3:ListBucket", bucket, {"s3:prefix": "disputes/"})
    assert not allowed(statements, "s3:ListBucket", bucket)
    assert not allowed(statements, "s3:PutObject", f"{bucket}/chargebacks/x")
    assert sorted((g.action, g.resource) for g in grants_on(statements, "card-fraud-labels")) == [
        ("s3:GetObject", f"{bucket}/chargebacks/*"),
        ("s3:ListBucket", bucket),
    ]
    # The job definition waits for the grant.
    grant = plan.get("fraud-detector-model-quality-ground-truth-access")
    assert grant.urn in job.dependencies


def test_the_ground_truth_grant_is_the_monitors_only_with_a_role_name() -> None:
    def monitor(**extra: Any) -> None:
        ModelQualityMonitor(
            "scorer",
            ModelQualityMonitorArgs(
                job_definition_name="demo-scorer-mq",
                schedule_name="demo-scorer-mq",
                endpoint=EndpointInputArgs(endpoint_name="demo-scorer", probability_attribute="score"),
                role_arn="arn:aws:iam::123456789012:role/demo-jobs",
                image_uri="123.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer:latest",
                reports_s3_uri="s3://demo-artifacts/monitoring/scorer/model-quality",
                kms_key_arn="arn:aws:kms:eu-west-1:123456789012:key/k",
                problem_type="BinaryClassification",
                ground_truth_s3_uri="s3://labels/scorer/",
                **extra,
            ),
        )

    granted, _ = record(lambda: monitor(role_name="demo-jobs"))
    (policy,) = [r for r in granted if r.type == "aws:iam/rolePolicy:RolePolicy"]
    assert policy.inputs["role"] == "demo-jobs"
    assert json.loads(policy.inputs["policy"])["Statement"] == ground_truth_statements("s3://labels/scorer/")
    plain, _ = record(monitor)
    assert [r for r in plain if r.type == "aws:iam/rolePolicy:RolePolicy"] == []
    # The grant does not change the job definition (nor, so, its content-hashed name).
    name = "jobDefinitionName"
    assert [r.inputs[name] for r in granted if name in r.inputs] == [r.inputs[name] for r in plain if name in r.inputs]


def test_ground_truth_statements_for_a_whole_bucket_and_bad_uris() -> None:
    read, listing = ground_truth_statements("s3://labels")
    assert read["Resource"] == "arn:aws:s3:::labels/*"
    assert "Condition" not in listing
    with pytest.raises(ValueError, match="s3:// URI"):
        ground_truth_statements("labels/scorer/")


# --- 2. the retraining schedule's role decrypts its schedule --------------------------------
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_schedule_role_can_decrypt_its_schedule(plans, environment: str) -> None:
    plan = plans(environment)
    account = ACCOUNTS[environment]
    schedules = plan.of_type("aws:scheduler/schedule:Schedule")
    assert {s.name for s in schedules} >= {"fraud-detector-training-schedule", "merchant-risk-training-schedule"}
    key_arn = plan.outputs["kms_key_arn"]
    for schedule in schedules:
        inputs = schedule.inputs
        assert inputs["kmsKeyArn"] == key_arn, schedule.name
        group = inputs.get("groupName") or "default"
        arn = f"arn:aws:scheduler:{REGION}:{account}:schedule/{group}/{inputs['name']}"
        role = role_name_of(inputs["target"]["roleArn"])
        statements = role_statements(plan, role)
        assert allowed(statements, "kms:Decrypt", key_arn, {SCHEDULE_CONTEXT: arn}), (schedule.name, role)
        (trust,) = [d for d in documents(plan) if d.role == role and not d.identity]
        assert any(
            "scheduler.amazonaws.com" in listed(s.get("Principal", {}).get("Service")) for s in trust.statements()
        )
        # The key policy lets IAM policies of the account grant its use (so the role's grant counts).
        (key,) = [d for d in documents(plan) if d.resource_type == "aws:kms/key:Key"]
        root = f"arn:aws:iam::{account}:root"
        delegates = [
            s
            for s in key.statements()
            if s.get("Effect") == "Allow"
            and listed((s.get("Principal") or {}).get("AWS")) == [root]
            and allowed([{**s, "Resource": "*"}], "kms:Decrypt", key_arn)
            and not s.get("Condition")
        ]
        assert delegates, "the key policy does not delegate kms:Decrypt to the account's IAM policies"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_retraining_role_decrypts_only_its_own_schedules(plans, environment: str) -> None:
    plan = plans(environment)
    account = ACCOUNTS[environment]
    key_arn = plan.outputs["kms_key_arn"]
    for model in ("fraud-detector", "merchant-risk"):
        schedule = plan.get(f"{model}-training-schedule").inputs
        statements = role_statements(plan, role_name_of(schedule["target"]["roleArn"]))
        other = f"arn:aws:scheduler:{REGION}:{account}:schedule/default/someone-elses-schedule"
        assert not allowed(statements, "kms:Decrypt", key_arn, {SCHEDULE_CONTEXT: other})
        assert not allowed(statements, "kms:Decrypt", key_arn)
        assert not allowed(statements, "kms:Encrypt", key_arn, {SCHEDULE_CONTEXT: other})


# --- 3. MLflow locates its bucket ------------------------------------------------------------
def test_the_mlflow_role_locates_and_lists_only_its_artifact_prefix(plans) -> None:
    plan = plans("prod")
    role = role_name_of(plan.get("mlflow-server").inputs["roleArn"])
    statements = role_statements(plan, role)
    bucket = "arn:aws:s3:::card-fraud-prod-artifacts-333333333333"
    # GetBucketLocation requests carry no s3:prefix.
    assert allowed(statements, "s3:GetBucketLocation", bucket, {})
    assert allowed(statements, "s3:ListBucket", bucket, {"s3:prefix": "mlflow/1/abc/artifacts/"})
    assert not allowed(statements, "s3:ListBucket", bucket, {"s3:prefix": "models/"})
    assert not allowed(statements, "s3:ListBucket", bucket)
    assert allowed(statements, "s3:PutObject", f"{bucket}/mlflow/1/abc/artifacts/model.pkl")
    assert not allowed(statements, "s3:GetObject", f"{bucket}/models/fraud-detector/model.tar.gz")


# --- 4. composite alarms carry real ARNs -----------------------------------------------------
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_dashboard_lists_the_drift_alarm_by_its_real_arn(plans, environment: str) -> None:
    plan = plans(environment)
    account = ACCOUNTS[environment]
    composite = plan.get("fraud-detector-alerting-drift").inputs["alarmName"]
    body = json.loads(plan.get("fraud-detector-alerting-dashboard").inputs["dashboardBody"])
    (alarms,) = [w["properties"]["alarms"] for w in body["widgets"] if w["type"] == "alarm"]
    assert f"arn:aws:cloudwatch:{REGION}:{account}:alarm:{composite}" in alarms
    assert all(a.startswith(f"arn:aws:cloudwatch:{REGION}:{account}:alarm:") for a in alarms)
    assert ":composite-alarm" not in plan.to_json()
