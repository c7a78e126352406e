"""Training pipelines of the example in the offline plan: definition, triggers, role."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlstack.pipelines import layout
from mlstack.plan.synth import synthesize
from tests.conftest import EXAMPLE, ROOT


def _definition(plan, model: str) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(plan.get(f"{model}-training-pipeline").inputs["pipelineDefinition"])


def _steps(definition: dict) -> dict[str, dict]:
    """Every step by name, including those inside the gate's branches."""
    found: dict[str, dict] = {}
    stack = list(definition["Steps"])
    while stack:
        step = stack.pop()
        found[step["Name"]] = step
        stack += step.get("Arguments", {}).get("IfSteps", []) + step.get("Arguments", {}).get("ElseSteps", [])
    return found


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_one_pipeline_per_model_with_a_schedule(plans, environment: str) -> None:
    plan = plans(environment)
    pipelines = [p for p in plan.of_type("aws:sagemaker/pipeline:Pipeline") if p.parent.endswith("-training")]
    assert sorted(p.inputs["pipelineName"] for p in pipelines) == [
        f"card-fraud-{environment}-fraud-detector-training",
        f"card-fraud-{environment}-merchant-risk-training",
    ]
    schedules = {s.name: s.inputs["scheduleExpression"] for s in plan.of_type("aws:scheduler/schedule:Schedule")}
    assert schedules == {
        "fraud-detector-training-schedule": "cron(0 3 ? * MON *)",
        "merchant-risk-training-schedule": "rate(1 day)",
        "fraud-detector-drift-monitor-schedule": "cron(15 * * * ? *)",  # the drift monitor, hourly
        **({"merchant-risk-batch-schedule": "cron(0 2 * * ? *)"} if environment == "prod" else {}),  # nightly
    }


def test_drift_trigger_listens_for_the_alarm_monitoring_creates(plans) -> None:
    plan = plans("dev")
    rule = plan.get("fraud-detector-training-drift-rule").inputs
    pattern = json.loads(rule["eventPattern"])
    assert pattern["detail"]["alarmName"] == [plan.environment and "card-fraud-dev-fraud-detector-data-drift"]
    target = plan.get("fraud-detector-training-drift-target").inputs
    assert target["arn"] == "arn:aws:sagemaker:eu-west-1:111111111111:pipeline/card-fraud-dev-fraud-detector-training"
    # merchant-risk is served on Kubernetes: no SageMaker drift alarm, so no drift trigger
    assert not [r for r in plan.resources if r.name.startswith("merchant-risk-training-drift")]


def test_definition_uses_the_pipeline_role_key_group_and_gate(plans) -> None:
    plan = plans("prod")
    definition = _definition(plan, "fraud-detector")
    steps = _steps(definition)
    gate = steps["QualityGate"]["Arguments"]["Conditions"][0]
    assert gate["Type"] == "GreaterThanOrEqualTo"
    assert gate["LeftValue"]["Std:JsonGet"]["Path"] == "metrics.auc.value"
    assert gate["RightValue"] == 0.9
    role = plan.get("fraud-detector-training-role").inputs["name"]
    text = json.dumps(definition)
    assert f"arn:aws:iam::333333333333:role/{role}" in text
    key = "arn:aws:kms:eu-west-1:333333333333:key/"
    training = steps["Train"]["Arguments"]
    assert training["ResourceConfig"]["VolumeKmsKeyId"].startswith(key)
    assert training["OutputDataConfig"]["KmsKeyId"].startswith(key)
    assert training["EnableNetworkIsolation"] is True
    assert training["EnableInterContainerTrafficEncryption"] is True
    assert training["VpcConfig"]["Subnets"] == ["subnet-0a1b2c3d4e5f60718", "subnet-0b2c3d4e5f6071829"]
    assert steps["RegisterModel"]["Arguments"]["ModelPackageGroupName"] == "card-fraud-prod-fraud-detector"


def test_preprocessing_is_told_which_columns_are_categories_and_which_are_not_features(plans) -> None:
    """The spec's data.categorical and data.exclude, and the feature group's keys, reach preprocess.py."""
    preprocess = _steps(_definition(plans("dev"), "fraud-detector"))["Preprocess"]["Arguments"]
    arguments = preprocess["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--drop-columns") + 1] == "transaction_id,event_time,card_id,merchant_id"
    assert arguments[arguments.index("--categorical-columns") + 1] == "currency"
    assert "--column-names" not in arguments  # a feature group's offline store has its names


def test_approval_status_follows_the_environment(plans) -> None:
    def status(environment: str) -> set[str]:
        steps = _steps(_definition(plans(environment), "fraud-detector"))
        return steps["RegisterModel"]["Arguments"]["ModelApprovalStatus"]

    assert status("dev") == "Approved"  # auto-approval is allowed in dev and asked for
    assert status("prod") == "PendingManualApproval"


def test_step_scripts_are_uploaded_where_the_definition_reads_them(plans) -> None:
    plan = plans("dev")
    keys = {
        r.inputs["key"]
        for r in plan.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
        if r.name.startswith("fraud-detector-training")
    }
    text = json.dumps(_definition(plan, "fraud-detector"))
    assert {key.rsplit("/", 1)[-1] for key in keys} == set(layout.STEP_SCRIPTS)
    for key in keys:
        assert key.startswith("pipelines/fraud-detector/code/")
    assert "s3://card-fraud-dev-artifacts-111111111111/pipelines/fraud-detector/code" in text


def test_the_lineage_records_the_uploaded_scripts_and_the_feature_group(plans) -> None:
    """The code hashes the registered version carries are those of the scripts the plan uploads."""
    plan = plans("dev")
    uploaded = {
        r.inputs["key"].rsplit("/", 1)[-1]: r.inputs["sourceHash"]
        for r in plan.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
        if r.name.startswith("fraud-detector-training")
    }
    steps = _steps(_definition(plan, "fraud-detector"))
    environment = steps["Preprocess"]["Arguments"]["Environment"]
    context = json.loads("".join(environment[name] for name in sorted(environment)))
    assert context["code"] == uploaded
    assert context["feature_group"] == "card-fraud-dev-transactions"
    metadata = steps["RegisterModel"]["Arguments"]["CustomerMetadataProperties"]
    assert metadata[layout.METADATA_CODE_SHA256] == layout.code_sha256(uploaded) == context["code_sha256"]
    assert (
        metadata[layout.METADATA_TRAINING_IMAGE]
        == steps["Train"]["Arguments"]["AlgorithmSpecification"]["TrainingImage"]
    )


def test_changing_the_threshold_changes_only_that_value(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("      threshold: 0.90\n", "      threshold: 0.93\n", 1)
    spec = tmp_path / "mlstack.yaml"
    spec.write_text(text)
    (tmp_path / "mlstack.lock.json").write_text(EXAMPLE.with_name("mlstack.lock.json").read_text())
    before, after = synthesize("dev"), synthesize("dev", spec=spec)
    changed = [r.name for r, s in zip(before.resources, after.resources, strict=True) if r.as_dict() != s.as_dict()]
    assert changed == ["fraud-detector-training-pipeline"]
    old = json.dumps(_definition(before, "fraud-detector"), sort_keys=True)
    new = json.dumps(_definition(after, "fraud-detector"), sort_keys=True)
    assert new == old.replace("0.9", "0.93")


def test_plan_reuses_cached_definitions_without_importing_the_sdk() -> None:
    synthesize("dev")  # fills the session's cache
    probe = (
        "import sys; from mlstack.plan.synth import synthesize; synthesize('dev');"
        "print(any(m == 'sagemaker' or m.startswith('sagemaker.') for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True, env=dict(os.environ)
    )
    assert result.stdout.strip() == "False"


# --- MLflow: prod has a tracking server, dev and staging do not ---------------------------------
@pytest.mark.parametrize("environment", ["dev", "staging"])
def test_without_mlflow_no_tracking_step_function_or_role(plans, environment: str) -> None:
    plan = plans(environment)
    assert not [r for r in plan.resources if r.name.endswith(("-training-tracking-function", "-tracking-role"))]
    for model in ("fraud-detector", "merchant-risk"):
        steps = _steps(_definition(plan, model))
        assert "LogToMlflow" not in steps
        assert layout.METADATA_MLFLOW_RUN_ID not in steps["RegisterModel"]["Arguments"]["CustomerMetadataProperties"]
        policy = json.loads(plan.get(f"{model}-training-policy").inputs["policy"])
        assert "InvokeTheTrackingFunction" not in {s["Sid"] for s in policy["Statement"]}


@pytest.mark.parametrize("model", ["fraud-detector", "merchant-risk"])
def test_prod_logs_each_execution_to_its_tracking_server(plans, model: str) -> None:
    plan = plans("prod")
    # The wiring computes the server's ARN from its name: the server the plan creates.
    assert plan.get("mlflow-server").inputs["trackingServerName"] == "card-fraud-prod-mlflow"
    arn = "arn:aws:sagemaker:eu-west-1:333333333333:mlflow-tracking-server/card-fraud-prod-mlflow"
    function = plan.get(f"{model}-training-tracking-function").inputs
    assert function["name"] == f"card-fraud-prod-{model}-mlflow"
    assert function["handler"] == layout.TRACKING_HANDLER
    function_arn = f"arn:aws:lambda:eu-west-1:333333333333:function:{function['name']}"
    steps = _steps(_definition(plan, model))
    track = steps["LogToMlflow"]
    assert track["FunctionArn"] == function_arn
    assert track["Arguments"]["TrackingServerArn"] == arn
    assert track["Arguments"]["ExperimentName"] == f"card-fraud-prod-{model}-training"
    metadata = steps["RegisterModel"]["Arguments"]["CustomerMetadataProperties"]
    assert metadata[layout.METADATA_MLFLOW_RUN_ID] == {"Get": "Steps.LogToMlflow.OutputParameters['run_id']"}
    # The pipeline's role invokes that function; the function's role logs to that server only.
    pipeline_policy = json.loads(plan.get(f"{model}-training-policy").inputs["policy"])
    invoke = next(s for s in pipeline_policy["Statement"] if s["Sid"] == "InvokeTheTrackingFunction")
    assert (invoke["Action"], invoke["Resource"]) == ("lambda:InvokeFunction", function_arn)
    role_policy = json.loads(plan.get(f"{model}-training-tracking-policy").inputs["policy"])
    logging = next(s for s in role_policy["Statement"] if s["Sid"] == "LogToTheTrackingServer")
    assert logging["Resource"] == arn
    reads = next(s for s in role_policy["Statement"] if s["Sid"] == "ReadTheEvaluation")
    assert reads["Resource"] == f"arn:aws:s3:::card-fraud-prod-artifacts-333333333333/pipelines/{model}/runs/*"
