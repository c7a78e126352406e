"""Batch scoring: the example's nightly batch in prod, its pipeline definition (golden, readable),
its roles and triggers, and the spec's refusals, each located."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from mlstack.pipelines.batch_builder import STEP_NAMES, build_batch_definition
from mlstack.pipelines.batch_inputs import BatchMonitor, BatchPipelineInputs, FeatureGroupSource
from mlstack.pipelines.inputs import Vpc
from mlstack.spec import SpecError, load_environment
from tests.conftest import EXAMPLE

GOLDEN = Path(__file__).resolve().parent / "golden" / "pipelines" / "batch-feature-group.json"
REGENERATE = "UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_plan_batch.py"
PIPELINE = "aws:sagemaker/pipeline:Pipeline"


def batch_pipeline(plan: Any) -> Any:
    return plan.get("merchant-risk-batch-pipeline")


def steps(plan: Any) -> dict[str, dict[str, Any]]:
    definition = json.loads(batch_pipeline(plan).inputs["pipelineDefinition"])
    return {step["Name"]: step for step in definition["Steps"]}


def policy(plan: Any, name: str) -> dict[str, Any]:
    return json.loads(plan.get(name).inputs["policy"])


def test_prod_scores_merchant_risk_nightly_and_dev_and_staging_do_not(plans: Any) -> None:
    assert [r.name for r in plans("prod").of_type(PIPELINE) if "batch" in r.name] == ["merchant-risk-batch-pipeline"]
    for environment in ("dev", "staging"):
        assert not [r for r in plans(environment).resources if "batch" in r.name]
    schedule = plans("prod").get("merchant-risk-batch-schedule").inputs
    assert schedule["scheduleExpression"] == "cron(0 2 * * ? *)"
    assert schedule["target"]["arn"] == batch_pipeline(plans("prod")).inputs["pipelineName"].join(
        ("arn:aws:sagemaker:eu-west-1:333333333333:pipeline/", "")
    )
    assert schedule["kmsKeyArn"].startswith("arn:aws:kms:")


def test_the_definition_prepares_the_group_scores_the_approved_version_and_monitors_it(plans: Any) -> None:
    found = steps(plans("prod"))
    assert list(found) == [STEP_NAMES[k] for k in ("prepare", "model", "transform", "monitor", "publish")]
    model = found["CreateModel"]["Arguments"]
    assert model["Containers"] == [
        {"ModelPackageName": "arn:aws:sagemaker:eu-west-1:333333333333:model-package/card-fraud-prod-merchant-risk/1"}
    ]
    assert model["EnableNetworkIsolation"] is True
    assert model["VpcConfig"]["Subnets"] == ["subnet-0a1b2c3d4e5f60718", "subnet-0b2c3d4e5f6071829"]
    transform = found["Transform"]["Arguments"]
    key = transform["TransformOutput"]["KmsKeyId"]
    assert key.startswith("arn:aws:kms:eu-west-1:333333333333:key/")
    assert transform["TransformResources"] == {
        "InstanceCount": 1,
        "InstanceType": "ml.m5.xlarge",
        "VolumeKmsKeyId": key,
    }
    assert transform["DataProcessing"] == {"JoinSource": "Input"}  # each record joined with its prediction
    assert (transform["TransformInput"]["SplitType"], transform["TransformOutput"]["AssembleWith"]) == ("Line", "Line")
    assert {t["Key"] for t in transform["Tags"]} >= {"project", "environment", "owner", "cost-centre"}
    monitor = found["Monitor"]["Arguments"]
    assert monitor["ProcessingInputs"][0]["S3Input"]["S3Uri"] == {"Get": "Steps.Transform.TransformOutput.S3OutputPath"}
    assert "--batch-dir" in monitor["AppSpecification"]["ContainerArguments"]
    assert monitor["NetworkConfig"]["EnableNetworkIsolation"] is True


def test_each_role_may_do_only_its_part(plans: Any) -> None:
    plan = plans("prod")
    pipeline = batch_pipeline(plan).inputs["pipelineName"]
    scheduler = policy(plan, "merchant-risk-batch-scheduler-policy")["Statement"]
    assert [s["Action"] for s in scheduler] == ["sagemaker:StartPipelineExecution", "kms:Decrypt"]
    assert scheduler[0]["Resource"].endswith(f":pipeline/{pipeline}")
    runs = policy(plan, "merchant-risk-batch-pipeline-policy")["Statement"]
    described = next(s for s in runs if s["Sid"] == "ReadTheScoredVersion")
    assert described["Resource"].endswith(":model-package/card-fraud-prod-merchant-risk/1")
    passed = next(s for s in runs if s["Sid"] == "PassTheJobRole")
    assert passed["Resource"].endswith(":role/card-fraud-prod-merchant-risk-batch-job")
    job = {s["Sid"]: s for s in policy(plan, "merchant-risk-batch-job-policy")["Statement"]}
    assert (
        job["WriteTheOutput"]["Resource"][0]
        == "arn:aws:s3:::card-fraud-prod-artifacts-333333333333/batch/merchant-risk/output*"
    )
    store = "feature-store/333333333333/sagemaker/eu-west-1/offline-store/card-fraud-prod-merchant-profile-*"
    assert f"arn:aws:s3:::card-fraud-prod-artifacts-333333333333/{store}" in job["ReadTheInputs"]["Resource"]


def test_a_failed_run_alarms_to_a_topic(plans: Any) -> None:
    alarm = plans("prod").get("merchant-risk-batch-failed").inputs
    assert (alarm["namespace"], alarm["metricName"]) == ("AWS/Sagemaker/ModelBuildingPipeline", "ExecutionFailed")
    assert alarm["dimensions"] == {"PipelineName": "card-fraud-prod-merchant-risk-batch"}
    assert alarm["alarmActions"] == ["arn:aws:sns:eu-west-1:333333333333:card-fraud-prod-merchant-risk-batch-alerts"]


def test_the_stack_output_names_the_batch_version(plans: Any) -> None:
    assert plans("prod").outputs["model_versions"]["merchant-risk"]["batch"] == {
        "version": 1,
        "arn": "arn:aws:sagemaker:eu-west-1:333333333333:model-package/card-fraud-prod-merchant-risk/1",
        "status": "Approved",
    }


def _inputs(**changes: Any) -> BatchPipelineInputs:
    values: dict[str, Any] = dict(
        pipeline_name="shop-prod-risk-batch",
        model_name="risk",
        region="eu-west-1",
        bucket="shop-prod-artifacts-123456789012",
        role_arn="arn:aws:iam::123456789012:role/shop-prod-risk-batch-job",
        kms_key_arn="arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        model_package_arn="arn:aws:sagemaker:eu-west-1:123456789012:model-package/shop-prod-risk/7",
        model_data_url="s3://shop-prod-artifacts-123456789012/models/risk/job-7/output/model.tar.gz",
        problem_type="BinaryClassification",
        output_s3_uri="s3://shop-prod-artifacts-123456789012/batch/risk/output",
        feature_group=FeatureGroupSource(
            offline_store_s3_uri="s3://shop-prod-artifacts-123456789012/feature-store/123456789012/sagemaker/"
            "eu-west-1/offline-store/shop-prod-merchants-0000000000/data",
            record_identifier="merchant_id",
            event_time="event_time",
        ),
        monitor=BatchMonitor(
            baseline_s3_uri="s3://shop-prod-artifacts-123456789012/pipelines/risk/runs/exec-7/baseline",
            publish_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:shop-prod-risk-batch-publish",
            metrics_namespace="mlstack/shop",
        ),
        vpc=Vpc(subnet_ids=["subnet-1"], security_group_ids=["sg-1"]),
        tags={"project": "shop", "environment": "prod"},
    )
    values.update(changes)
    return BatchPipelineInputs(**values)


def test_the_definition_matches_its_golden_file() -> None:
    actual = json.dumps(json.loads(build_batch_definition(_inputs())), indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(actual, encoding="utf-8")
        pytest.skip(f"rewrote {GOLDEN.name}: review the diff before committing")
    assert actual == GOLDEN.read_text(encoding="utf-8"), f"regenerate and review: {REGENERATE}"


def test_files_are_scored_through_a_parameter_and_without_a_monitor_nothing_is_monitored() -> None:
    definition = json.loads(
        build_batch_definition(_inputs(feature_group=None, input_s3_uri="s3://shop-data/score/", monitor=None))
    )
    assert definition["Parameters"] == [
        {"DefaultValue": "s3://shop-data/score/", "Name": "InputS3Uri", "Type": "String"}
    ]
    assert [s["Name"] for s in definition["Steps"]] == ["CreateModel", "Transform"]
    source = definition["Steps"][1]["Arguments"]["TransformInput"]["DataSource"]["S3DataSource"]
    assert source["S3Uri"] == {"Get": "Parameters.InputS3Uri"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"feature_group": None}, "give exactly one of input_s3_uri and feature_group"),
        ({"model_package_arn": "arn:aws:sagemaker:eu-west-1:123456789012:model-package-group/x"}, "versioned"),
        ({"max_payload_mb": 60, "max_concurrent_transforms": 2}, "at most 100 MB"),
    ],
)
def test_inputs_refuse_what_aws_would(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _inputs(**change)


# --- the spec ---------------------------------------------------------------------------------
BATCH = (
    "          batch:\n            feature_group: merchant-profile\n            schedule: cron(0 2 * * ? *)\n"
    "            instance_type: ml.m5.xlarge\n"
)


def spec_with(tmp_path: Path, batch: str) -> tuple[Path, str]:
    text = EXAMPLE.read_text()
    assert BATCH in text
    text = text.replace(BATCH, batch, 1)
    spec = tmp_path / "mlstack.yaml"
    spec.write_text(text)
    return spec, text


@pytest.mark.parametrize(
    ("batch", "at", "message"),
    [
        (
            "          batch:\n            schedule: cron(0 2 * * ? *)\n",
            "batch:",
            "models[1].serving.batch: give exactly one of `input_s3_uri` and `feature_group`",
        ),
        (
            "          batch:\n            feature_group: merchant-profile\n",
            "batch:",
            "models[1].serving.batch: nothing starts the batch pipeline: give a `schedule` and/or `on_new_input: true`",
        ),
        (
            "          batch:\n            feature_group: merchant-profile\n            on_new_input: true\n",
            "on_new_input: true",
            "models[1].serving.batch.on_new_input: on_new_input watches `input_s3_uri`, which is not set",
        ),
        (
            "          batch:\n            feature_group: merchant-profil\n            schedule: rate(1 day)\n",
            "feature_group: merchant-profil",
            "models[1].serving.batch.feature_group: no feature group 'merchant-profil' in feature_groups",
        ),
        (
            "          batch:\n            input_s3_uri: s3://shop-data/in/\n            schedule: rate(1 day)\n"
            "            max_payload_mb: 50\n            max_concurrent_transforms: 4\n",
            "max_concurrent_transforms: 4",
            "models[1].serving.batch.max_concurrent_transforms: max_concurrent_transforms times max_payload_mb is "
            "200 MB; AWS allows at most 100 MB",
        ),
        (
            "          batch:\n            input_s3_uri: s3://shop-data/in/\n            schedule: nightly\n",
            "schedule: nightly",
            "models[1].serving.batch.schedule: 'nightly' is not an EventBridge Scheduler expression",
        ),
        (
            "          batch:\n            input_s3_uri: s3://shop-data/in/\n            schedule: rate(1 day)\n"
            "            instance_type: ml.m5.larg\n",
            "instance_type: ml.m5.larg",
            "models[1].serving.batch.instance_type:",
        ),
    ],
)
def test_a_bad_batch_section_is_refused_where_it_is(tmp_path: Path, batch: str, at: str, message: str) -> None:
    spec, text = spec_with(tmp_path, batch)
    with pytest.raises(SpecError) as caught:
        load_environment(spec, "prod")
    rendered = [p.render().replace(str(spec), "mlstack.yaml") for p in caught.value.problems]
    assert len(rendered) == 1, rendered
    line = text[: text.index(batch) + batch.index(at)].count("\n") + 1
    assert rendered[0].startswith(f"mlstack.yaml:{line}:"), rendered[0]
    assert message in rendered[0], rendered[0]


def test_batch_only_models_in_prod_score_approved_versions_only(tmp_path: Path) -> None:
    spec, _ = spec_with(tmp_path, BATCH + "          enabled: false\n          when_unapproved: latest\n")
    with pytest.raises(SpecError) as caught:
        load_environment(spec, "prod")
    (problem,) = [p.render() for p in caught.value.problems]
    assert "only approved versions may be deployed in prod: when_unapproved must be fail" in problem


def test_batch_drift_alarms_and_retrains_a_model_without_an_endpoint(plans: Any) -> None:
    plan = plans("prod")
    alarm = plan.get("merchant-risk-batch-drift").inputs
    assert (alarm["namespace"], alarm["metricName"], alarm["statistic"]) == (
        "mlstack/card-fraud",
        "MaxFeatureDriftPSI",
        "Maximum",
    )
    assert alarm["dimensions"] == {"Model": "merchant-risk", "Source": "batch"}  # the batch monitor's own series
    assert (alarm["threshold"], alarm["period"], alarm["treatMissingData"]) == (0.1, 86400, "notBreaching")
    # merchant-risk is served on Kubernetes: its batch drift is what starts its retraining in prod
    rule = json.loads(plan.get("merchant-risk-training-drift-rule").inputs["eventPattern"])
    assert rule["detail"]["alarmName"] == ["card-fraud-prod-merchant-risk-batch-drift"]
    assert not [r for r in plans("staging").resources if r.name == "merchant-risk-training-drift-rule"]


def test_the_roles_can_do_their_jobs_and_nothing_wider(plans: Any) -> None:
    from tests.iam_documents import allowed, role_statements

    plan = plans("prod")
    bucket = "arn:aws:s3:::card-fraud-prod-artifacts-333333333333"
    key = plan.outputs["kms_key_arn"]
    found = steps(plan)
    staged = {i["InputName"]: i["S3Input"]["S3Uri"] for i in found["PrepareInput"]["Arguments"]["ProcessingInputs"]}
    artifact = staged["model"].replace("s3://", "arn:aws:s3:::")
    baseline = found["Monitor"]["Arguments"]["ProcessingInputs"][1]["S3Input"]["S3Uri"].replace(
        "s3://", "arn:aws:s3:::"
    )
    store = f"{bucket}/feature-store/333333333333/sagemaker/eu-west-1/offline-store"

    job = role_statements(plan, "card-fraud-prod-merchant-risk-batch-job")
    for read in (
        artifact,
        f"{baseline}/baseline.csv",
        f"{store}/card-fraud-prod-merchant-profile-1764547200/data/year=2026/part-0.parquet",
        f"{bucket}/batch/merchant-risk/code/batch_input.py",
        f"{bucket}/batch/merchant-risk/runs/exec-1/input/input.csv",
    ):
        assert allowed(job, "s3:GetObject", read), read
    assert not allowed(job, "s3:GetObject", f"{store}/card-fraud-prod-transactions-1764547200/data/part-0.parquet")
    prefix = "feature-store/333333333333/sagemaker/eu-west-1/offline-store/card-fraud-prod-merchant-profile-17/data/"
    assert allowed(job, "s3:ListBucket", bucket, {"s3:prefix": prefix})
    for written in (
        f"{bucket}/batch/merchant-risk/output/exec-1/input.csv.out",
        f"{bucket}/batch/merchant-risk/runs/exec-1/report/metrics.json",
    ):
        assert allowed(job, "s3:PutObject", written), written
    assert not allowed(job, "s3:PutObject", f"{bucket}/models/merchant-risk/model.tar.gz")
    assert not allowed(job, "s3:PutObject", f"{store}/card-fraud-prod-merchant-profile-1/data/x.parquet")
    assert allowed(job, "kms:Decrypt", key) and allowed(job, "kms:GenerateDataKey", key)

    runs = role_statements(plan, "card-fraud-prod-merchant-risk-batch-pipeline")
    sagemaker = "arn:aws:sagemaker:eu-west-1:333333333333"
    assert allowed(runs, "sagemaker:CreateModel", f"{sagemaker}:model/pipelines-abc-createmodel-123")
    assert allowed(runs, "sagemaker:CreateTransformJob", f"{sagemaker}:transform-job/pipelines-abc-transform")
    assert allowed(runs, "sagemaker:CreateProcessingJob", f"{sagemaker}:processing-job/pipelines-abc-monitor")
    assert not allowed(runs, "sagemaker:CreateEndpoint", f"{sagemaker}:endpoint/anything")
    package = f"{sagemaker}:model-package/card-fraud-prod-merchant-risk"
    assert allowed(runs, "sagemaker:DescribeModelPackage", f"{package}/1")
    assert not allowed(runs, "sagemaker:DescribeModelPackage", f"{package}/2")
    job_role = "arn:aws:iam::333333333333:role/card-fraud-prod-merchant-risk-batch-job"
    assert allowed(runs, "iam:PassRole", job_role, {"iam:PassedToService": "sagemaker.amazonaws.com"})
    assert not allowed(runs, "iam:PassRole", job_role, {"iam:PassedToService": "lambda.amazonaws.com"})
    publish = "arn:aws:lambda:eu-west-1:333333333333:function:card-fraud-prod-merchant-risk-batch-publish"
    assert allowed(runs, "lambda:InvokeFunction", publish)

    scheduler = role_statements(plan, "card-fraud-prod-merchant-risk-batch-schedule")
    assert allowed(
        scheduler, "sagemaker:StartPipelineExecution", f"{sagemaker}:pipeline/card-fraud-prod-merchant-risk-batch"
    )
    assert not allowed(
        scheduler, "sagemaker:StartPipelineExecution", f"{sagemaker}:pipeline/card-fraud-prod-merchant-risk-training"
    )
