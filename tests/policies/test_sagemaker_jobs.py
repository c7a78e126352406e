"""SageMaker job rules: monitor jobs and pipeline steps. Also the shared fixtures of the SageMaker rule tests."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from mlstack.policies.rules import by_name
from mlstack.policies.testing import DELETE, UNKNOWN, Resource, mutate, run_resource_policy

ENCRYPTED = by_name("sagemaker-monitoring-job-encrypted")
ISOLATED = by_name("sagemaker-monitoring-job-isolated")
TRAINING = by_name("sagemaker-pipeline-training-protected")
PROCESSING = by_name("sagemaker-pipeline-processing-encrypted")
DQ = "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"
SCHEDULE = "aws:sagemaker/monitoringSchedule:MonitoringSchedule"
PIPELINE = "aws:sagemaker/pipeline:Pipeline"
KEY = "arn:aws:kms:eu-west-1:333333333333:key/k"


def _cluster(instance_type: str = "ml.m5.xlarge") -> dict[str, Any]:
    return {"InstanceCount": 1, "InstanceType": instance_type, "VolumeKmsKeyId": KEY, "VolumeSizeInGB": 30}


def _outputs() -> dict[str, Any]:
    return {"KmsKeyId": KEY, "Outputs": [{"OutputName": "out", "S3Output": {"S3Uri": "s3://b/o"}}]}


DEFINITION: dict[str, Any] = {
    "Version": "2020-12-01",
    "Parameters": [{"Name": "TrainType", "Type": "String", "DefaultValue": "ml.m5.xlarge"}],
    "Steps": [
        {
            "Name": "Preprocess",
            "Type": "Processing",
            "Arguments": {"ProcessingResources": {"ClusterConfig": _cluster()}, "ProcessingOutputConfig": _outputs()},
        },
        {
            "Name": "Train",
            "Type": "Training",
            "Arguments": {
                "EnableNetworkIsolation": True,
                "EnableInterContainerTrafficEncryption": True,
                "ResourceConfig": {**_cluster(), "InstanceType": {"Get": "Parameters.TrainType"}},
                "OutputDataConfig": {"KmsKeyId": KEY, "S3OutputPath": "s3://b/models"},
            },
        },
        {
            "Name": "QualityGate",
            "Type": "Condition",
            "Arguments": {
                "IfSteps": [
                    {
                        "Name": "DataQualityBaseline",
                        "Type": "QualityCheck",
                        "Arguments": {
                            "ProcessingResources": {"ClusterConfig": _cluster()},
                            "ProcessingOutputConfig": _outputs(),
                        },
                    },
                    {
                        "Name": "RegisterModel",
                        "Type": "RegisterModel",
                        "Arguments": {"ModelApprovalStatus": "PendingManualApproval", "ModelPackageGroupName": "g"},
                    },
                ],
                "ElseSteps": [{"Name": "GateFailed", "Type": "Fail", "Arguments": {"ErrorMessage": "no"}}],
            },
        },
    ],
}
TRAIN = "Steps.1.Arguments"
BASELINE = "Steps.2.Arguments.IfSteps.0.Arguments"


def pipeline(definition: dict[str, Any] = DEFINITION, name: str = "p") -> Resource:
    return Resource(PIPELINE, {"pipelineName": name, "pipelineDefinition": json.dumps(definition)})


def _messages(policy: Any, resource: Resource, config: dict[str, Any] | None = None) -> list[str]:
    return run_resource_policy(policy, [resource], config).messages()


# --- model monitor jobs --------------------------------------------------------------------
DQ_JOB: dict[str, Any] = {
    "name": "fd-data-quality",
    "dataQualityJobInput": {"endpointInput": {"endpointName": "fd", "localPath": "/opt/ml/processing/input"}},
    "dataQualityJobOutputConfig": {"kmsKeyId": KEY, "monitoringOutputs": {"s3Output": {"s3Uri": "s3://b/r"}}},
    "jobResources": {"clusterConfig": {"instanceCount": 1, "instanceType": "ml.m5.large", "volumeKmsKeyId": KEY}},
    "networkConfig": {"enableNetworkIsolation": True, "enableInterContainerTrafficEncryption": True},
}
_INLINE = "monitoringScheduleConfig.monitoringJobDefinition"
INLINE_SCHEDULE: dict[str, Any] = {
    "name": "fd-monitor",
    "monitoringScheduleConfig": {
        "monitoringType": "DataQuality",
        "monitoringJobDefinition": {
            "monitoringInputs": {"endpointInput": {"endpointName": "fd", "localPath": "/in"}},
            "monitoringOutputConfig": {"kmsKeyId": KEY, "monitoringOutputs": {"s3Output": {"s3Uri": "s3://b/r"}}},
            "monitoringResources": {"clusterConfig": {"instanceType": "ml.m5.large", "volumeKmsKeyId": KEY}},
            "networkConfig": {"enableNetworkIsolation": True, "enableInterContainerTrafficEncryption": True},
        },
    },
}


@pytest.mark.parametrize(("type_", "props"), [(DQ, DQ_JOB), (SCHEDULE, INLINE_SCHEDULE)])
def test_compliant_monitoring_jobs_pass(type_: str, props: dict[str, Any]) -> None:
    for policy in (ENCRYPTED, ISOLATED, TRAINING, PROCESSING):
        assert _messages(policy, Resource(type_, props)) == []


def test_a_schedule_naming_a_job_definition_is_checked_there() -> None:
    named = {"monitoringScheduleConfig": {"monitoringJobDefinitionName": "fd-data-quality"}}
    assert _messages(ENCRYPTED, Resource(SCHEDULE, named)) == _messages(ISOLATED, Resource(SCHEDULE, named)) == []


@pytest.mark.parametrize(
    ("policy", "type_", "props", "path", "message"),
    [
        (ENCRYPTED, DQ, DQ_JOB, "jobResources.clusterConfig.volumeKmsKeyId",
         "monitoring job volume is not encrypted with a KMS key (jobResources.clusterConfig.volumeKmsKeyId)"),
        (ENCRYPTED, DQ, DQ_JOB, "dataQualityJobOutputConfig.kmsKeyId",
         "monitoring job output is not encrypted with a KMS key (dataQualityJobOutputConfig.kmsKeyId)"),
        (ISOLATED, DQ, DQ_JOB, "networkConfig.enableNetworkIsolation",
         "network isolation is not enabled (networkConfig.enableNetworkIsolation)"),
        (ISOLATED, DQ, DQ_JOB, "networkConfig.enableInterContainerTrafficEncryption",
         "inter-container traffic encryption is not enabled (networkConfig.enableInterContainerTrafficEncryption)"),
        (ENCRYPTED, SCHEDULE, INLINE_SCHEDULE, f"{_INLINE}.monitoringResources.clusterConfig.volumeKmsKeyId",
         "monitoring job volume is not encrypted with a KMS key "
         f"({_INLINE}.monitoringResources.clusterConfig.volumeKmsKeyId)"),
        (ENCRYPTED, SCHEDULE, INLINE_SCHEDULE, f"{_INLINE}.monitoringOutputConfig.kmsKeyId",
         f"monitoring job output is not encrypted with a KMS key ({_INLINE}.monitoringOutputConfig.kmsKeyId)"),
        (ISOLATED, SCHEDULE, INLINE_SCHEDULE, f"{_INLINE}.networkConfig.enableNetworkIsolation",
         f"network isolation is not enabled ({_INLINE}.networkConfig.enableNetworkIsolation)"),
        (ISOLATED, SCHEDULE, INLINE_SCHEDULE, f"{_INLINE}.networkConfig.enableInterContainerTrafficEncryption",
         "inter-container traffic encryption is not enabled "
         f"({_INLINE}.networkConfig.enableInterContainerTrafficEncryption)"),
    ],
)  # fmt: skip
def test_each_monitoring_requirement(policy: Any, type_: str, props: dict[str, Any], path: str, message: str) -> None:
    assert _messages(policy, Resource(type_, mutate(props, path, DELETE))) == [message]
    if "enable" in path:  # false is as bad as missing
        assert _messages(policy, Resource(type_, mutate(props, path, False))) == [message]


# --- pipeline steps ------------------------------------------------------------------------
def test_compliant_pipeline_passes() -> None:
    assert _messages(TRAINING, pipeline()) == [] and _messages(PROCESSING, pipeline()) == []


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (f"{TRAIN}.EnableNetworkIsolation", False, "Training step Train: EnableNetworkIsolation is not true"),
        (f"{TRAIN}.EnableInterContainerTrafficEncryption", DELETE,
         "Training step Train: EnableInterContainerTrafficEncryption is not true"),
        (f"{TRAIN}.ResourceConfig.VolumeKmsKeyId", DELETE,
         "Training step Train: ResourceConfig.VolumeKmsKeyId is not set"),
        (f"{TRAIN}.OutputDataConfig.KmsKeyId", "", "Training step Train: OutputDataConfig.KmsKeyId is not set"),
    ],
)  # fmt: skip
def test_each_training_requirement(path: str, value: Any, message: str) -> None:
    assert _messages(TRAINING, pipeline(mutate(DEFINITION, path, value))) == [message]


def test_training_steps_in_condition_branches_and_tuning_jobs_are_checked() -> None:
    unprotected = {"Name": "Retrain", "Type": "Training", "Arguments": {"EnableNetworkIsolation": True}}
    nested = mutate(DEFINITION, "Steps.2.Arguments.ElseSteps.0", unprotected)
    assert _messages(TRAINING, pipeline(nested)) == [
        "Training step Retrain: EnableInterContainerTrafficEncryption is not true",
        "Training step Retrain: ResourceConfig.VolumeKmsKeyId is not set",
        "Training step Retrain: OutputDataConfig.KmsKeyId is not set",
    ]
    job = copy.deepcopy(DEFINITION["Steps"][1]["Arguments"])
    del job["EnableNetworkIsolation"]
    tune = {"Name": "Tune", "Type": "Tuning", "Arguments": {"TrainingJobDefinition": job}}
    tuning = mutate(DEFINITION, "Steps.1", tune)
    assert _messages(TRAINING, pipeline(tuning)) == ["Tuning step Tune: EnableNetworkIsolation is not true"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("Steps.0.Arguments.ProcessingResources.ClusterConfig.VolumeKmsKeyId",
         "Processing step Preprocess: ProcessingResources.ClusterConfig.VolumeKmsKeyId is not set"),
        ("Steps.0.Arguments.ProcessingOutputConfig.KmsKeyId",
         "Processing step Preprocess: ProcessingOutputConfig.KmsKeyId is not set"),
        (f"{BASELINE}.ProcessingResources.ClusterConfig.VolumeKmsKeyId",
         "QualityCheck step DataQualityBaseline: ProcessingResources.ClusterConfig.VolumeKmsKeyId is not set"),
        (f"{BASELINE}.ProcessingOutputConfig.KmsKeyId",
         "QualityCheck step DataQualityBaseline: ProcessingOutputConfig.KmsKeyId is not set"),
    ],
)  # fmt: skip
def test_each_processing_requirement(path: str, message: str) -> None:
    assert _messages(PROCESSING, pipeline(mutate(DEFINITION, path, DELETE))) == [message]


def test_a_processing_step_without_outputs_needs_no_output_key() -> None:
    assert _messages(PROCESSING, pipeline(mutate(DEFINITION, "Steps.0.Arguments.ProcessingOutputConfig", DELETE))) == []


@pytest.mark.parametrize("policy", [TRAINING, PROCESSING])
def test_definitions_that_cannot_be_read_are_reported(policy: Any) -> None:
    in_s3 = Resource(PIPELINE, {"pipelineDefinitionS3Location": {"bucket": "b", "objectKey": "p.json"}})
    assert _messages(policy, in_s3) == [
        "the pipeline definition is in S3 (pipelineDefinitionS3Location), so its steps can't be checked"
    ]
    broken = Resource(PIPELINE, {"pipelineDefinition": "{not json"})
    assert _messages(policy, broken) == ["pipelineDefinition is not a JSON object, so its steps can't be checked"]


@pytest.mark.parametrize(
    ("policy", "resource"),
    [
        (TRAINING, Resource(PIPELINE, {"pipelineDefinition": UNKNOWN})),
        (PROCESSING, Resource(PIPELINE, {"pipelineDefinition": UNKNOWN})),
        (ENCRYPTED, Resource(DQ, mutate(DQ_JOB, "dataQualityJobOutputConfig.kmsKeyId", UNKNOWN))),
        (ISOLATED, Resource(DQ, mutate(DQ_JOB, "networkConfig.enableNetworkIsolation", UNKNOWN))),
        (ENCRYPTED, Resource(SCHEDULE, mutate(INLINE_SCHEDULE, f"{_INLINE}.monitoringResources", UNKNOWN))),
        (ISOLATED, Resource(SCHEDULE, mutate(INLINE_SCHEDULE, "monitoringScheduleConfig", UNKNOWN))),
    ],
)
def test_unknown_values_are_not_evaluated(policy: Any, resource: Resource) -> None:
    report = run_resource_policy(policy, [resource])
    assert report.violations == [] and len(report.not_evaluated) == 1


@pytest.mark.parametrize(
    ("type_", "props"),
    [
        (PIPELINE, {}),
        (PIPELINE, {"pipelineDefinition": "[]"}),
        (PIPELINE, {"pipelineDefinition": 42}),
        (PIPELINE, {"pipelineDefinition": json.dumps({"Steps": "Train"})}),
        (PIPELINE, {"pipelineDefinition": json.dumps({"Steps": [1, None, {"Type": "Condition", "Arguments": 3}]})}),
        (PIPELINE, {"pipelineDefinition": json.dumps({"Steps": [{"Type": "Processing", "Arguments": []}]})}),
        (PIPELINE, {"pipelineDefinition": json.dumps({"Steps": [{"Type": "Tuning", "Arguments": {"x": 1}}]})}),
        (DQ, {"networkConfig": [], "jobResources": "x", "dataQualityJobOutputConfig": None}),
        (SCHEDULE, {"monitoringScheduleConfig": []}),
        (SCHEDULE, {"monitoringScheduleConfig": {"monitoringJobDefinition": "x"}}),
    ],
)
def test_odd_shapes_do_not_raise(type_: str, props: dict[str, Any]) -> None:
    for policy in (ENCRYPTED, ISOLATED, TRAINING, PROCESSING):
        run_resource_policy(policy, [Resource(type_, props)])


def test_a_training_step_without_arguments_fails_closed() -> None:
    bare = {"Steps": [{"Name": "T", "Type": "Training"}]}
    assert len(_messages(TRAINING, pipeline(bare))) == 4


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_the_example_pipelines_pass(plans: Any, environment: str) -> None:
    resources = [Resource.from_plan(r.as_dict()) for r in plans(environment).resources]
    # two training pipelines, the fraud detector's drift monitor (its Processing step is checked too)
    # and, in prod, merchant-risk's nightly batch scoring
    assert len([r for r in resources if r.type == PIPELINE]) == (4 if environment == "prod" else 3)
    for policy in (ENCRYPTED, ISOLATED, TRAINING, PROCESSING):
        report = run_resource_policy(policy, resources)
        assert report.violations == [] and report.not_evaluated == [], policy.name


# --- the aws-native (Cloud Control) job definitions of the model-monitor engine ------------
MQ = "aws-native:sagemaker:ModelQualityJobDefinition"
MQ_JOB: dict[str, Any] = {
    "jobDefinitionName": "fd-model-quality",
    "modelQualityJobOutputConfig": {"kmsKeyId": KEY, "monitoringOutputs": [{"s3Output": {"s3Uri": "s3://b/r"}}]},
    "jobResources": {"clusterConfig": {"instanceCount": 1, "instanceType": "ml.m5.large", "volumeKmsKeyId": KEY}},
    "networkConfig": {"enableNetworkIsolation": True, "enableInterContainerTrafficEncryption": True},
}


@pytest.mark.parametrize(
    ("policy", "path", "message"),
    [
        (ENCRYPTED, "jobResources.clusterConfig.volumeKmsKeyId",
         "monitoring job volume is not encrypted with a KMS key (jobResources.clusterConfig.volumeKmsKeyId)"),
        (ENCRYPTED, "modelQualityJobOutputConfig.kmsKeyId",
         "monitoring job output is not encrypted with a KMS key (modelQualityJobOutputConfig.kmsKeyId)"),
        (ISOLATED, "networkConfig.enableNetworkIsolation",
         "network isolation is not enabled (networkConfig.enableNetworkIsolation)"),
    ],
)  # fmt: skip
def test_aws_native_job_definitions_are_checked_too(policy: Any, path: str, message: str) -> None:
    assert _messages(policy, Resource(MQ, MQ_JOB)) == []
    assert _messages(policy, Resource(MQ, mutate(MQ_JOB, path, DELETE))) == [message]
    bias = {**{k: v for k, v in MQ_JOB.items() if k != "modelQualityJobOutputConfig"},
            "modelBiasJobOutputConfig": MQ_JOB["modelQualityJobOutputConfig"]}  # fmt: skip
    assert _messages(policy, Resource("aws-native:sagemaker:ModelBiasJobDefinition", bias)) == []


# --- mlstack's drift monitor: processing steps over data capture ---------------------------
MONITOR_ISOLATED = by_name("sagemaker-pipeline-monitor-isolated")
MONITOR_STEP: dict[str, Any] = {
    "Name": "Monitor",
    "Type": "Processing",
    "Arguments": {
        "NetworkConfig": {
            "EnableNetworkIsolation": True,
            "EnableInterContainerTrafficEncryption": True,
            "VpcConfig": {"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]},
        },
        "ProcessingInputs": [{"InputName": "capture", "S3Input": {"S3DataType": "ManifestFile", "S3Uri": "s3://b/m"}}],
        "ProcessingResources": {"ClusterConfig": _cluster()},
        "ProcessingOutputConfig": _outputs(),
    },
}


def _monitor_pipeline(step: dict[str, Any]) -> Resource:
    return Resource(PIPELINE, {"pipelineName": "fd-monitor", "pipelineDefinition": json.dumps({"Steps": [step]})})


@pytest.mark.parametrize(
    ("path", "value", "config", "message"),
    [
        ("Arguments.NetworkConfig.EnableNetworkIsolation", False, None,
         "Processing step Monitor reads data capture but NetworkConfig.EnableNetworkIsolation is not true"),
        ("Arguments.NetworkConfig.EnableInterContainerTrafficEncryption", DELETE, None,
         "Processing step Monitor: NetworkConfig.EnableInterContainerTrafficEncryption is not true"),
        ("Arguments.NetworkConfig.VpcConfig", DELETE, {"sagemaker-pipeline-monitor-isolated": {"requireVpc": True}},
         "Processing step Monitor reads data capture outside a VPC (NetworkConfig.VpcConfig)"),
    ],
)  # fmt: skip
def test_the_drift_monitor_step_is_isolated(path: str, value: Any, config: Any, message: str) -> None:
    assert run_resource_policy(MONITOR_ISOLATED, [_monitor_pipeline(MONITOR_STEP)], config).messages() == []
    bad = _monitor_pipeline(mutate(MONITOR_STEP, path, value))
    assert run_resource_policy(MONITOR_ISOLATED, [bad], config).messages() == [message]
    # A processing step that reads no data capture is not this rule's business.
    other = mutate(mutate(MONITOR_STEP, path, value), "Arguments.ProcessingInputs", [])
    assert run_resource_policy(MONITOR_ISOLATED, [_monitor_pipeline(other)], config).messages() == []
