"""Serving rules: compliant fixtures, one mutation per requirement, unknowns, odd shapes, real shapes."""

from __future__ import annotations

from typing import Any

import pytest

from mlstack.policies.rules import by_name, sagemaker_serving
from mlstack.policies.testing import UNKNOWN, Resource, run_pack, run_resource_policy
from tests.policies.test_sagemaker_jobs import DEFINITION, DELETE, DQ, DQ_JOB, KEY, mutate, pipeline

ISOLATION = by_name("sagemaker-model-network-isolation")
VPC = by_name("sagemaker-model-in-vpc")
KMS = by_name("sagemaker-endpoint-config-kms")
CAPTURE = by_name("sagemaker-endpoint-data-capture")
MIN_INSTANCES = by_name("sagemaker-endpoint-min-instances")
INSTANCE_TYPES = by_name("sagemaker-allowed-instance-types")
ROLLOUT = by_name("sagemaker-endpoint-safe-rollout")
MODEL = "aws:sagemaker/model:Model"
CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"

MODEL_PROPS: dict[str, Any] = {
    "name": "fd-AllTraffic-1",
    "primaryContainer": {"modelPackageName": "arn:aws:sagemaker:eu-west-1:111111111111:model-package/fd/3"},
    "enableNetworkIsolation": True,
    "vpcConfig": {"subnets": ["subnet-1", "subnet-2"], "securityGroupIds": ["sg-1"]},
}
CONFIG_PROPS: dict[str, Any] = {
    "name": "fd-config-1",
    "kmsKeyArn": KEY,
    "productionVariants": [
        {"variantName": "AllTraffic", "modelName": "fd-AllTraffic-1", "instanceType": "ml.c5.xlarge",
         "initialInstanceCount": 2},
    ],
    "shadowProductionVariants": [
        {"variantName": "Shadow", "modelName": "fd-Shadow-1", "instanceType": "ml.m5.large", "initialInstanceCount": 1},
    ],
    "dataCaptureConfig": {
        "enableCapture": True,
        "initialSamplingPercentage": 100,
        "destinationS3Uri": "s3://b/capture",
        "kmsKeyId": KEY,
        "captureOptions": [{"captureMode": "Input"}, {"captureMode": "Output"}],
    },
}  # fmt: skip
ENDPOINT_PROPS: dict[str, Any] = {
    "name": "fd",
    "endpointConfigName": "fd-config-1",
    "deploymentConfig": {
        "blueGreenUpdatePolicy": {"trafficRoutingConfiguration": {"type": "CANARY", "waitIntervalInSeconds": 600}},
        "autoRollbackConfiguration": {"alarms": [{"alarmName": "fd-latency-p99"}]},
    },
}
SERVERLESS = {
    "variantName": "AllTraffic",
    "modelName": "m",
    "serverlessConfig": {"maxConcurrency": 5, "memorySizeInMb": 2048},
}
ALL = [ISOLATION, VPC, KMS, CAPTURE, MIN_INSTANCES, INSTANCE_TYPES, ROLLOUT]
FIXTURES = {"model": (MODEL, MODEL_PROPS), "config": (CONFIG, CONFIG_PROPS), "endpoint": (ENDPOINT, ENDPOINT_PROPS),
            "dq": (DQ, DQ_JOB)}  # fmt: skip


def _messages(policy: Any, type_: str, props: dict[str, Any], config: dict[str, Any] | None = None) -> list[str]:
    return run_resource_policy(policy, [Resource(type_, props)], config).messages()


def _mutated(policy: Any, fixture: str, path: str, value: Any, config: dict[str, Any] | None = None) -> list[str]:
    type_, props = FIXTURES[fixture]
    return _messages(policy, type_, mutate(props, path, value), config)


def test_compliant_fixtures_pass_every_serving_rule() -> None:
    resources = [Resource(MODEL, MODEL_PROPS), Resource(CONFIG, CONFIG_PROPS), Resource(ENDPOINT, ENDPOINT_PROPS)]
    assert run_pack(ALL, resources).violations == []


_CAPTURE = "dataCaptureConfig"
_ROUTING = "deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.type"


@pytest.mark.parametrize(
    ("policy", "fixture", "path", "value", "message"),
    [
        (ISOLATION, "model", "enableNetworkIsolation", False,
         "network isolation is not enabled (enableNetworkIsolation)"),
        (VPC, "model", "vpcConfig", DELETE, "the model is not attached to a VPC (vpcConfig)"),
        (VPC, "model", "vpcConfig.subnets", [], "vpcConfig.subnets is empty"),
        (VPC, "model", "vpcConfig.securityGroupIds", DELETE, "vpcConfig.securityGroupIds is empty"),
        (KMS, "config", "kmsKeyArn", DELETE,
         "ML storage volumes are not encrypted with a customer managed KMS key (kmsKeyArn)"),
        (KMS, "config", "asyncInferenceConfig", {"outputConfig": {"s3OutputPath": "s3://b/a"}},
         "async inference results are not encrypted with a KMS key (asyncInferenceConfig.outputConfig.kmsKeyId)"),
        (CAPTURE, "config", _CAPTURE, DELETE,
         "data capture is not enabled (dataCaptureConfig.enableCapture)"),
        (CAPTURE, "config", f"{_CAPTURE}.enableCapture", False,
         "data capture is not enabled (dataCaptureConfig.enableCapture)"),
        (CAPTURE, "config", f"{_CAPTURE}.captureOptions", [{"captureMode": "Input"}],
         "data capture does not record Output (dataCaptureConfig.captureOptions)"),
        (CAPTURE, "config", f"{_CAPTURE}.captureOptions", [],
         "data capture does not record Input or Output (dataCaptureConfig.captureOptions)"),
        (CAPTURE, "config", f"{_CAPTURE}.initialSamplingPercentage", 5,
         "data capture samples 5% of requests; at least 10% required (dataCaptureConfig.initialSamplingPercentage)"),
        (CAPTURE, "config", f"{_CAPTURE}.kmsKeyId", DELETE,
         "captured data is not encrypted with a KMS key (dataCaptureConfig.kmsKeyId)"),
        (MIN_INSTANCES, "config", "productionVariants.0.initialInstanceCount", 1,
         "variant AllTraffic starts 1 instance(s); at least 2 required (initialInstanceCount)"),
        (MIN_INSTANCES, "config", "productionVariants.0", SERVERLESS,
         "variant AllTraffic is serverless; production needs at least 2 provisioned instances"),
        (INSTANCE_TYPES, "config", "productionVariants.0.instanceType", "ml.p3.2xlarge",
         "variant AllTraffic uses ml.p3.2xlarge, which is not in an allowed instance family"),
        (INSTANCE_TYPES, "config", "shadowProductionVariants.0.instanceType", "ml.g5.xlarge",
         "shadow variant Shadow uses ml.g5.xlarge, which is not in an allowed instance family"),
        (INSTANCE_TYPES, "dq", "jobResources.clusterConfig.instanceType", "ml.g4dn.xlarge",
         "monitoring job uses ml.g4dn.xlarge, which is not in an allowed instance family"),
        (ROLLOUT, "endpoint", _ROUTING, "ALL_AT_ONCE",
         "the deployment shifts traffic ALL_AT_ONCE; use CANARY or LINEAR "
         "(deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.type)"),
        (ROLLOUT, "endpoint", "deploymentConfig.blueGreenUpdatePolicy", DELETE,
         "the deployment has no blue/green traffic routing; use CANARY or LINEAR "
         "(deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.type)"),
        (ROLLOUT, "endpoint", "deploymentConfig.autoRollbackConfiguration.alarms", [],
         "no alarm rolls a failed deployment back (deploymentConfig.autoRollbackConfiguration.alarms)"),
    ],
)  # fmt: skip
def test_each_requirement(policy: Any, fixture: str, path: str, value: Any, message: str) -> None:
    assert _mutated(policy, fixture, path, value) == [message]


def test_isolation_left_unset_fails_too() -> None:
    assert _mutated(ISOLATION, "model", "enableNetworkIsolation", DELETE) == [
        "network isolation is not enabled (enableNetworkIsolation)"
    ]


def test_serverless_only_configurations_take_no_kms_key() -> None:
    serverless = mutate(mutate(CONFIG_PROPS, "productionVariants", [SERVERLESS]), "kmsKeyArn", DELETE)
    assert _messages(KMS, CONFIG, serverless) == []
    mixed = mutate(serverless, "productionVariants", [SERVERLESS, CONFIG_PROPS["productionVariants"][0]])
    assert _messages(KMS, CONFIG, mixed) != []


def test_capture_defaults_and_modes() -> None:
    # EnableCapture defaults to on in the API; InputAndOutput covers both directions.
    assert _mutated(CAPTURE, "config", f"{_CAPTURE}.enableCapture", DELETE) == []
    assert _mutated(CAPTURE, "config", f"{_CAPTURE}.captureOptions", [{"captureMode": "InputAndOutput"}]) == []


def test_thresholds_are_configurable() -> None:
    config = {"sagemaker-endpoint-data-capture": {"minSamplingPercentage": 100}}
    assert _mutated(CAPTURE, "config", f"{_CAPTURE}.initialSamplingPercentage", 50.0, config) == [
        "data capture samples 50% of requests; at least 100% required (dataCaptureConfig.initialSamplingPercentage)"
    ]
    three = {"sagemaker-endpoint-min-instances": {"minInstances": 3}}
    assert _mutated(MIN_INSTANCES, "config", "productionVariants.0.initialInstanceCount", 2.0, three) == [
        "variant AllTraffic starts 2 instance(s); at least 3 required (initialInstanceCount)"
    ]
    gpus = {"sagemaker-allowed-instance-types": {"allowedFamilies": ["ml.g5.", "ml.c5.xlarge", "ml.m5."]}}
    assert _mutated(INSTANCE_TYPES, "config", "shadowProductionVariants.0.instanceType", "ml.g5.xlarge", gpus) == []
    assert _mutated(INSTANCE_TYPES, "config", "productionVariants.0.instanceType", "ml.c5.2xlarge", gpus) == [
        "variant AllTraffic uses ml.c5.2xlarge, which is not in an allowed instance family"
    ]


def test_pipeline_instance_types_are_checked_nested_and_through_parameters() -> None:
    def check(definition: dict[str, Any]) -> list[str]:
        return run_resource_policy(INSTANCE_TYPES, [pipeline(definition)]).messages()

    assert check(DEFINITION) == []
    nested = "Steps.2.Arguments.IfSteps.0.Arguments.ProcessingResources.ClusterConfig.InstanceType"
    assert check(mutate(DEFINITION, nested, "ml.p4d.24xlarge")) == [
        "QualityCheck step DataQualityBaseline uses ml.p4d.24xlarge, which is not in an allowed instance family"
    ]
    # Training's InstanceType is {"Get": "Parameters.TrainType"}: checked at the parameter's default.
    assert check(mutate(DEFINITION, "Parameters.0.DefaultValue", "ml.p3.2xlarge")) == [
        "Training step Train uses ml.p3.2xlarge, which is not in an allowed instance family"
    ]


@pytest.mark.parametrize(
    ("policy", "fixture", "path"),
    [
        (ISOLATION, "model", "enableNetworkIsolation"),
        (VPC, "model", "vpcConfig.subnets"),
        (KMS, "config", "kmsKeyArn"),
        (KMS, "config", "productionVariants"),
        (CAPTURE, "config", f"{_CAPTURE}.initialSamplingPercentage"),
        (MIN_INSTANCES, "config", "productionVariants.0.initialInstanceCount"),
        (INSTANCE_TYPES, "config", "shadowProductionVariants.0.instanceType"),
        (ROLLOUT, "endpoint", _ROUTING),
        (ROLLOUT, "endpoint", "deploymentConfig.autoRollbackConfiguration"),
    ],
)
def test_unknown_values_are_not_evaluated(policy: Any, fixture: str, path: str) -> None:
    type_, props = FIXTURES[fixture]
    report = run_resource_policy(policy, [Resource(type_, mutate(props, path, UNKNOWN))])
    assert report.violations == [] and len(report.not_evaluated) == 1


@pytest.mark.parametrize(
    ("type_", "props"),
    [
        (MODEL, {"vpcConfig": [], "enableNetworkIsolation": "yes"}),
        (MODEL, {"vpcConfig": {"subnets": "subnet-1", "securityGroupIds": None}}),
        (CONFIG, {"productionVariants": "AllTraffic", "dataCaptureConfig": []}),
        (CONFIG, {"productionVariants": [None, 3, {"serverlessConfig": {}}], "asyncInferenceConfig": "x"}),
        (CONFIG, {"dataCaptureConfig": {"captureOptions": "Input", "initialSamplingPercentage": "10"}}),
        (CONFIG, {"dataCaptureConfig": {"captureOptions": [{"captureMode": ["Input"]}, {"captureMode": {}}]}}),
        (CONFIG, {"productionVariants": [{"initialInstanceCount": True, "instanceType": 5}]}),
        (ENDPOINT, {"deploymentConfig": "CANARY"}),
        (ENDPOINT, {"deploymentConfig": {"autoRollbackConfiguration": {"alarms": ["a", None]}}}),
    ],
)
def test_odd_shapes_do_not_raise(type_: str, props: dict[str, Any]) -> None:
    run_pack(ALL, [Resource(type_, props)])


def test_the_mlstack_endpoint_component_complies_in_prod_shape() -> None:
    """The real Endpoint component (not wired into the example yet), recorded offline."""
    from mlstack.components.endpoint import DataCaptureArgs, Endpoint, EndpointArgs, RolloutArgs, VariantArgs
    from mlstack.plan.synth import record

    def resources(strategy: str) -> list[Resource]:
        args = EndpointArgs(
            endpoint_name="card-fraud-prod-fraud-detector",
            name_prefix="card-fraud-prod-fd",
            execution_role_arn="arn:aws:iam::333333333333:role/serving",
            kms_key_arn=KEY,
            variants=[VariantArgs(name="AllTraffic", model_package_arn="arn:aws:sagemaker:eu-west-1:1:model-package/g",
                                  instance_type="ml.c5.xlarge", instance_count=2)],
            vpc_subnet_ids=["subnet-1"],
            vpc_security_group_ids=["sg-1"],
            data_capture=DataCaptureArgs(destination_s3_uri="s3://b/capture"),
            rollout=RolloutArgs(strategy=strategy),
        )  # fmt: skip
        recorded, _ = record(lambda: Endpoint("fd", args))
        return [Resource.from_plan(r.as_dict()) for r in recorded]

    canary = run_pack(sagemaker_serving.POLICIES, resources("CANARY"))
    assert canary.violations == [] and canary.not_evaluated == [] and canary.evaluated > 0
    assert run_pack([ROLLOUT], resources("ALL_AT_ONCE")).messages() == [
        "the deployment shifts traffic ALL_AT_ONCE; use CANARY or LINEAR "
        "(deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.type)"
    ]


def test_the_example_passes_in_prod(plans: Any) -> None:
    resources = [Resource.from_plan(r.as_dict()) for r in plans("prod").resources]
    report = run_pack(sagemaker_serving.POLICIES, resources)
    assert report.violations == [] and report.not_evaluated == []
