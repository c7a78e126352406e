"""The model-quality, bias and explainability monitors on their own, under mocks."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from mlstack.components.monitoring import CADENCES
from mlstack.components.quality_monitoring import (
    AnalysisConfigLocation,
    BiasMonitor,
    BiasMonitorArgs,
    EndpointInputArgs,
    ExplainabilityMonitor,
    ExplainabilityMonitorArgs,
    FacetArgs,
    ModelQualityMonitor,
    ModelQualityMonitorArgs,
)
from mlstack.plan.synth import RecordedResource, record

KEY = "arn:aws:kms:eu-west-1:123456789012:key/k"
ROLE = "arn:aws:iam::123456789012:role/monitor"
TAGS = {"owner": "ml@example.com", "env": "prod"}
NATIVE_TAGS = [{"key": "env", "value": "prod"}, {"key": "owner", "value": "ml@example.com"}]
SCHEDULE = "aws:sagemaker/monitoringSchedule:MonitoringSchedule"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
HEADERS = ["age", "income", "tenure"]


def _common(kind: str) -> dict[str, Any]:
    return {
        "job_definition_name": f"demo-prod-scorer-{kind}",
        "schedule_name": f"demo-prod-scorer-{kind}-schedule",
        "role_arn": ROLE,
        "reports_s3_uri": f"s3://reports/monitoring/scorer/{kind}",
        "kms_key_arn": KEY,
        "tags": TAGS,
    }


def _quality(**overrides: Any) -> ModelQualityMonitorArgs:
    values: dict[str, Any] = {
        **_common("quality"),
        "endpoint": EndpointInputArgs(
            endpoint_name="demo-prod-scorer",
            probability_attribute="0",
            probability_threshold_attribute=0.5,
            end_time_offset="-PT1H",
        ),
        "image_uri": "468650794304.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer",
        "problem_type": "BinaryClassification",
        "ground_truth_s3_uri": "s3://labels/ground-truth/scorer",
        "cadence": "hourly",
    }
    values.update(overrides)
    return ModelQualityMonitorArgs(**values)


CLARIFY = "468650794304.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-clarify-processing:1.0"


def _bias(**overrides: Any) -> BiasMonitorArgs:
    values: dict[str, Any] = {
        **_common("bias"),
        "endpoint": EndpointInputArgs(endpoint_name="demo-prod-scorer", probability_attribute="0"),
        "image_uri": CLARIFY,
        "ground_truth_s3_uri": "s3://labels/ground-truth/scorer",
        "analysis_config": AnalysisConfigLocation(bucket="artifacts", key="monitoring/scorer/bias.json"),
        "headers": HEADERS,
        "label": "churned",
        "label_values_or_threshold": [1],
        "facets": [FacetArgs(name_or_index="age", value_or_threshold=[40])],
        "probability_threshold": 0.6,
        "baseline_constraints_uri": "s3://artifacts/baselines/scorer/bias/constraints.json",
    }
    values.update(overrides)
    return BiasMonitorArgs(**values)


def _explain(**overrides: Any) -> ExplainabilityMonitorArgs:
    values: dict[str, Any] = {
        **_common("explain"),
        "endpoint": EndpointInputArgs(endpoint_name="demo-prod-scorer", inference_attribute="0"),
        "image_uri": CLARIFY,
        "analysis_config": AnalysisConfigLocation(bucket="artifacts", key="monitoring/scorer/shap.json"),
        "headers": HEADERS,
        "shap_baseline": [[35, 52000, 4]],
        "num_samples": 50,
        "cadence": "daily",
    }
    values.update(overrides)
    return ExplainabilityMonitorArgs(**values)


def _run(program: Callable[[], object]) -> dict[str, RecordedResource]:
    resources, _ = record(program)
    return {r.name: r for r in resources}


def _assert_job_conventions(job: RecordedResource, kind: str, *, vpc: bool = False) -> None:
    inputs = job.inputs
    assert inputs["roleArn"] == ROLE
    assert inputs["jobResources"]["clusterConfig"]["volumeKmsKeyId"] == KEY
    output = inputs[f"{kind}JobOutputConfig"]
    assert output["kmsKeyId"] == KEY
    assert output["monitoringOutputs"][0]["s3Output"]["s3Uri"].startswith("s3://reports/monitoring/scorer/")
    network = inputs["networkConfig"]
    assert network["enableNetworkIsolation"] is True
    assert network["enableInterContainerTrafficEncryption"] is True
    assert ("vpcConfig" in network) is vpc
    assert inputs["stoppingCondition"] == {"maxRuntimeInSeconds": 1800}
    assert inputs["tags"] == NATIVE_TAGS


def _assert_schedule(resources: dict[str, RecordedResource], name: str, monitoring_type: str, cadence: str) -> None:
    job, schedule = resources[f"{name}-job"], resources[f"{name}-schedule"]
    config = schedule.inputs["monitoringScheduleConfig"]
    assert config["monitoringJobDefinitionName"] == job.inputs["jobDefinitionName"]
    assert config["monitoringType"] == monitoring_type
    assert config["scheduleConfig"]["scheduleExpression"] == CADENCES[cadence]
    assert schedule.inputs["tags"] == TAGS


def _uploaded(resources: dict[str, RecordedResource], name: str) -> dict[str, Any]:
    obj = resources[f"{name}-analysis-config"]
    assert obj.type == OBJECT
    assert obj.inputs["serverSideEncryption"] == "aws:kms"
    assert obj.inputs["kmsKeyId"] == KEY
    assert obj.inputs["contentType"] == "application/json"
    assert obj.inputs["tags"] == TAGS
    config: dict[str, Any] = json.loads(obj.inputs["content"])
    return config


def test_model_quality_job_reads_endpoint_and_ground_truth_and_is_scheduled() -> None:
    resources = _run(lambda: ModelQualityMonitor("mq", _quality()))
    job = resources["mq-job"]
    assert job.type == "aws-native:sagemaker:ModelQualityJobDefinition"
    assert re.fullmatch(r"demo-prod-scorer-quality-[0-9a-f]{10}", job.inputs["jobDefinitionName"])
    app = job.inputs["modelQualityAppSpecification"]
    assert app["problemType"] == "BinaryClassification"
    assert app["imageUri"].endswith("sagemaker-model-monitor-analyzer")
    job_input = job.inputs["modelQualityJobInput"]
    assert job_input["groundTruthS3Input"] == {"s3Uri": "s3://labels/ground-truth/scorer"}
    endpoint = job_input["endpointInput"]
    assert endpoint["endpointName"] == "demo-prod-scorer"
    assert endpoint["probabilityAttribute"] == "0"
    assert endpoint["probabilityThresholdAttribute"] == 0.5
    assert endpoint["s3InputMode"] == "File"
    assert endpoint["localPath"] == "/opt/ml/processing/input/endpoint"
    assert "inferenceAttribute" not in endpoint
    assert "modelQualityBaselineConfig" not in job.inputs
    _assert_job_conventions(job, "modelQuality")
    _assert_schedule(resources, "mq", "ModelQuality", "hourly")
    assert resources["mq"].type == "mlstack:monitoring:ModelQualityMonitor"


def test_bias_uploads_its_clarify_config_encrypted_and_points_the_job_at_it() -> None:
    resources = _run(lambda: BiasMonitor("bias", _bias()))
    job = resources["bias-job"]
    assert job.type == "aws-native:sagemaker:ModelBiasJobDefinition"
    app = job.inputs["modelBiasAppSpecification"]
    assert app["configUri"] == "s3://artifacts/monitoring/scorer/bias.json"
    assert app["imageUri"] == CLARIFY
    job_input = job.inputs["modelBiasJobInput"]
    assert job_input["groundTruthS3Input"] == {"s3Uri": "s3://labels/ground-truth/scorer"}
    assert job_input["endpointInput"]["probabilityAttribute"] == "0"
    assert job.inputs["modelBiasBaselineConfig"] == {
        "constraintsResource": {"s3Uri": "s3://artifacts/baselines/scorer/bias/constraints.json"}
    }
    _assert_job_conventions(job, "modelBias")
    _assert_schedule(resources, "bias", "ModelBias", "daily")
    assert _uploaded(resources, "bias") == {
        "headers": HEADERS,
        "label": "churned",
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": "age", "value_or_threshold": [40]}],
        "probability_threshold": 0.6,
        "methods": {"post_training_bias": {"methods": ["DPPL", "DI"]}},
    }


def test_explainability_uploads_a_shap_config_and_has_no_ground_truth() -> None:
    resources = _run(lambda: ExplainabilityMonitor("shap", _explain()))
    job = resources["shap-job"]
    assert job.type == "aws-native:sagemaker:ModelExplainabilityJobDefinition"
    assert (
        job.inputs["modelExplainabilityAppSpecification"]["configUri"] == "s3://artifacts/monitoring/scorer/shap.json"
    )
    job_input = job.inputs["modelExplainabilityJobInput"]
    assert "groundTruthS3Input" not in job_input
    assert job_input["endpointInput"]["inferenceAttribute"] == "0"
    assert "modelExplainabilityBaselineConfig" not in job.inputs
    _assert_job_conventions(job, "modelExplainability")
    _assert_schedule(resources, "shap", "ModelExplainability", "daily")
    config = _uploaded(resources, "shap")
    assert config["headers"] == HEADERS
    assert config["methods"]["shap"] == {
        "baseline": [[35, 52000, 4]],
        "num_samples": 50,
        "agg_method": "mean_abs",
        "use_logit": False,
        "save_local_shap_values": False,
    }
    assert config["predictor"] == {"content_type": "text/csv", "accept_type": "text/csv"}
    by_uri = _run(lambda: ExplainabilityMonitor("shap", _explain(shap_baseline="s3://artifacts/baseline.csv")))
    assert _uploaded(by_uri, "shap")["methods"]["shap"]["baseline"] == "s3://artifacts/baseline.csv"


def test_vpc_config_only_when_subnets_are_given_and_sorted() -> None:
    vpc = {"vpc_subnet_ids": ["subnet-b", "subnet-a"], "vpc_security_group_ids": ["sg-1"]}
    resources = _run(lambda: BiasMonitor("bias", _bias(**vpc)))
    _assert_job_conventions(resources["bias-job"], "modelBias", vpc=True)
    assert resources["bias-job"].inputs["networkConfig"]["vpcConfig"] == {
        "subnets": ["subnet-a", "subnet-b"],
        "securityGroupIds": ["sg-1"],
    }


def test_children_are_parented_to_their_component() -> None:
    resources = _run(lambda: BiasMonitor("bias", _bias()))
    for role in ("job", "schedule", "analysis-config"):
        assert resources[f"bias-{role}"].parent == resources["bias"].urn


def test_two_records_are_identical() -> None:
    def program() -> None:
        ModelQualityMonitor("mq", _quality())
        BiasMonitor("bias", _bias())
        ExplainabilityMonitor("shap", _explain())

    first, again = record(program)[0], record(program)[0]
    assert [r.as_dict() for r in first] == [r.as_dict() for r in again]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ModelQualityMonitor("mq", _quality(problem_type="Ranking")), "problem_type"),
        (lambda: ModelQualityMonitor("mq", _quality(cadence="weekly")), "cadence"),
        (
            lambda: ModelQualityMonitor(
                "mq", _quality(endpoint=EndpointInputArgs(endpoint_name="e", features_attribute="f"))
            ),
            "features_attribute",
        ),
        (
            lambda: ExplainabilityMonitor(
                "shap", _explain(endpoint=EndpointInputArgs(endpoint_name="e", probability_threshold_attribute=0.5))
            ),
            "probability_threshold_attribute",
        ),
        (lambda: ExplainabilityMonitor("shap", _explain(shap_baseline=[[1, 2]])), "one value per header"),
        (lambda: BiasMonitor("bias", _bias(facets=[])), "facet"),
        (lambda: BiasMonitor("bias", _bias(vpc_subnet_ids=["subnet-a"])), "security groups"),
    ],
)
def test_invalid_args_fail_at_plan_time(make: Callable[[], object], message: str) -> None:
    with pytest.raises(Exception, match=message):
        record(make)


def test_facet_without_values_leaves_clarify_to_compare_every_value() -> None:
    args = _bias(facets=[FacetArgs(name_or_index="income")], probability_threshold=None)
    config = _uploaded(_run(lambda: BiasMonitor("bias", args)), "bias")
    assert config["facet"] == [{"name_or_index": "income"}]
    assert "probability_threshold" not in config


def test_a_changed_job_gets_a_new_name_so_the_replacement_cannot_clash() -> None:
    first = _run(lambda: ModelQualityMonitor("mq", _quality()))["mq-job"].inputs["jobDefinitionName"]
    again = _run(lambda: ModelQualityMonitor("mq", _quality()))["mq-job"].inputs["jobDefinitionName"]
    bigger = _run(lambda: ModelQualityMonitor("mq", dataclasses.replace(_quality(), instance_type="ml.m5.xlarge")))
    assert first == again != bigger["mq-job"].inputs["jobDefinitionName"]
    schedule = bigger["mq-schedule"].inputs["monitoringScheduleConfig"]
    assert schedule["monitoringJobDefinitionName"] == bigger["mq-job"].inputs["jobDefinitionName"]
