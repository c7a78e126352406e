"""The Endpoint component on its own, under mocks: hashing, rollout, rollback, scaling, capture."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mlstack.components.endpoint import (
    AutoscalingArgs,
    DataCaptureArgs,
    Endpoint,
    EndpointArgs,
    RolloutArgs,
    VariantArgs,
)
from mlstack.plan.synth import RecordedResource, record

PACKAGE = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/demo-prod-scorer/{}"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/k"


def _args(**overrides: object) -> EndpointArgs:
    values: dict[str, object] = {
        "endpoint_name": "demo-prod-scorer",
        "name_prefix": "demo-prod-scorer",
        "execution_role_arn": "arn:aws:iam::123456789012:role/exec",
        "kms_key_arn": KEY,
        "variants": [VariantArgs(name="primary", model_package_arn=PACKAGE.format(3), instance_count=2)],
        "data_capture": DataCaptureArgs(destination_s3_uri="s3://bucket/data-capture/scorer", sampling_percentage=50),
        "rollout": RolloutArgs(strategy="CANARY", canary_percent=10, wait_seconds=600),
        "autoscaling": AutoscalingArgs(min_capacity=2, max_capacity=6, target_invocations_per_instance=1500),
        "tags": {"owner": "ml@example.com"},
    }
    values.update(overrides)
    return EndpointArgs(**values)  # type: ignore[arg-type]


def _run(args: EndpointArgs) -> dict[str, RecordedResource]:
    resources, _ = record(lambda: Endpoint("scorer", args))
    return {r.name: r for r in resources}


def test_same_content_same_config_name_changed_content_new_name_same_endpoint() -> None:
    first, again = _run(_args()), _run(_args())
    assert first["scorer-config"].inputs["name"] == again["scorer-config"].inputs["name"]
    bigger = dataclasses.replace(_args().variants[0], instance_type="ml.c5.xlarge")
    changed = _run(_args(variants=[bigger]))
    assert changed["scorer-config"].inputs["name"] != first["scorer-config"].inputs["name"]
    assert changed["scorer-config"].urn == first["scorer-config"].urn
    assert changed["scorer-endpoint"].urn == first["scorer-endpoint"].urn
    assert changed["scorer-endpoint"].inputs["endpointConfigName"] == changed["scorer-config"].inputs["name"]
    assert changed["scorer-endpoint"].inputs["name"] == "demo-prod-scorer"


def test_a_new_model_version_renames_the_model_and_the_config() -> None:
    first = _run(_args())
    newer = _run(_args(variants=[VariantArgs(name="primary", model_package_arn=PACKAGE.format(4), instance_count=2)]))
    assert newer["scorer-model-primary"].inputs["name"] != first["scorer-model-primary"].inputs["name"]
    assert newer["scorer-config"].inputs["name"] != first["scorer-config"].inputs["name"]
    assert newer["scorer-model-primary"].inputs["primaryContainer"] == {"modelPackageName": PACKAGE.format(4)}


def test_names_fit_sagemaker_limits() -> None:
    long = "a" * 63
    resources = _run(_args(endpoint_name=long, name_prefix=long[:52]))
    assert len(resources["scorer-config"].inputs["name"]) <= 63
    assert len(resources["scorer-model-primary"].inputs["name"]) <= 63


def test_canary_rollout_with_rollback_on_the_alarms_created_here() -> None:
    resources = _run(_args())
    policy = resources["scorer-endpoint"].inputs["deploymentConfig"]
    routing = policy["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"]
    assert routing == {
        "type": "CANARY",
        "waitIntervalInSeconds": 600,
        "canarySize": {"type": "CAPACITY_PERCENT", "value": 10},
    }
    alarms = {r.inputs["name"] for n, r in resources.items() if n.startswith("scorer-alarm-")}
    assert (
        {a["alarmName"] for a in policy["autoRollbackConfiguration"]["alarms"]}
        == alarms
        == {
            "demo-prod-scorer-latency-p99",
            "demo-prod-scorer-error-5xx-rate",
            "demo-prod-scorer-model-errors",
        }
    )
    assert all(
        resources[f"scorer-alarm-{k}"].urn in resources["scorer-endpoint"].dependencies for k in ("latency-p99",)
    )


def test_linear_rollout_and_timeouts_cover_every_step() -> None:
    rollout = RolloutArgs(
        strategy="LINEAR", linear_step_percent=20, wait_seconds=900, maximum_execution_timeout_seconds=600
    )
    endpoint = _run(_args(rollout=rollout))["scorer-endpoint"]
    routing = endpoint.inputs["deploymentConfig"]["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"]
    assert routing["linearStepSize"] == {"type": "CAPACITY_PERCENT", "value": 20}
    # 5 steps x 900 s + 300 s termination wait + 20 min provisioning + 10 min margin = 110 min
    assert endpoint.options["custom_timeouts"] == {"create": "110m", "update": "110m"}


def test_alarm_thresholds_and_units() -> None:
    resources = _run(_args())
    latency = resources["scorer-alarm-latency-p99"].inputs
    assert (latency["metricName"], latency["extendedStatistic"], latency["threshold"]) == (
        "ModelLatency",
        "p99",
        500000,
    )
    assert latency["dimensions"] == {"EndpointName": "demo-prod-scorer", "VariantName": "primary"}
    rate = resources["scorer-alarm-error-5xx-rate"].inputs
    assert [q["id"] for q in rate["metricQueries"]] == ["errors", "calls", "rate"]
    assert rate["threshold"] == 1


def test_autoscaling_depends_on_the_endpoint() -> None:
    resources = _run(_args())
    target = resources["scorer-scaling-primary"]
    assert resources["scorer-endpoint"].urn in target.dependencies
    assert target.inputs["resourceId"] == "endpoint/demo-prod-scorer/variant/primary"
    assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == (2, 6)
    policy = resources["scorer-scaling-policy-primary"].inputs["targetTrackingScalingPolicyConfiguration"]
    assert policy["targetValue"] == 1500
    assert policy["predefinedMetricSpecification"] == {"predefinedMetricType": "SageMakerVariantInvocationsPerInstance"}


def test_data_capture_of_inputs_and_outputs_encrypted() -> None:
    config = _run(_args())["scorer-config"].inputs
    capture = config["dataCaptureConfig"]
    assert capture["enableCapture"] is True and capture["initialSamplingPercentage"] == 50
    assert capture["destinationS3Uri"] == "s3://bucket/data-capture/scorer"
    assert capture["kmsKeyId"] == KEY and config["kmsKeyArn"] == KEY
    assert capture["captureOptions"] == [{"captureMode": "Input"}, {"captureMode": "Output"}]


def test_models_are_isolated_and_placed_in_the_vpc() -> None:
    model = _run(_args(vpc_subnet_ids=["subnet-b", "subnet-a"], vpc_security_group_ids=["sg-1"]))[
        "scorer-model-primary"
    ]
    assert model.inputs["enableNetworkIsolation"] is True
    assert model.inputs["vpcConfig"] == {"subnets": ["subnet-a", "subnet-b"], "securityGroupIds": ["sg-1"]}


def test_ab_variants_and_a_shadow() -> None:
    variants = [
        VariantArgs(name="champion", model_package_arn=PACKAGE.format(3), weight=0.9, instance_count=2),
        VariantArgs(name="challenger", model_package_arn=PACKAGE.format(4), weight=0.1, instance_count=2),
    ]
    shadow = VariantArgs(name="shadow", model_package_arn=PACKAGE.format(5), instance_count=1)
    resources = _run(_args(variants=variants, shadow=shadow))
    config = resources["scorer-config"].inputs
    assert [(v["variantName"], v["initialVariantWeight"]) for v in config["productionVariants"]] == [
        ("champion", 0.9),
        ("challenger", 0.1),
    ]
    assert config["shadowProductionVariants"][0]["variantName"] == "shadow"
    assert {"scorer-model-champion", "scorer-model-challenger", "scorer-model-shadow"} <= set(resources)


def test_serverless_has_no_kms_rollout_or_scaling() -> None:
    serverless = VariantArgs(name="primary", model_package_arn=PACKAGE.format(3), serverless_memory_mb=2048)
    resources = _run(_args(variants=[serverless], data_capture=None))
    config = resources["scorer-config"].inputs
    assert "kmsKeyArn" not in config
    assert config["productionVariants"][0]["serverlessConfig"] == {"memorySizeInMb": 2048, "maxConcurrency": 5}
    assert "deploymentConfig" not in resources["scorer-endpoint"].inputs
    assert not [n for n in resources if n.startswith("scorer-scaling")]


@pytest.mark.parametrize("strategy", ["ALL_AT_ONCE", "CANARY", "LINEAR"])
def test_every_strategy_is_a_blue_green_update(strategy: str) -> None:
    endpoint = _run(_args(rollout=RolloutArgs(strategy=strategy)))["scorer-endpoint"]
    policy = json.loads(json.dumps(endpoint.inputs["deploymentConfig"]))
    assert policy["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"]["type"] == strategy
