"""SageMaker serving: models, endpoint configurations and endpoints; instance families everywhere."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from ._base import Meta, as_list, for_types, get, number, resource_rule, truthy
from .sagemaker_jobs import (
    DATA_QUALITY_JOB,
    MONITORING_SCHEDULE,
    PIPELINE,
    checked_steps,
    pipeline_definition,
    present,
    resolve,
    step_label,
    training_jobs,
)

MODEL = "aws:sagemaker/model:Model"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"

DEFAULT_MIN_SAMPLING = 10
DEFAULT_MIN_INSTANCES = 2
DEFAULT_FAMILIES = [
    "ml.t3.",
    "ml.m5.",
    "ml.m6i.",
    "ml.m7i.",
    "ml.c5.",
    "ml.c6i.",
    "ml.c7i.",
    "ml.r5.",
    "ml.r6i.",
    "ml.r7i.",
]
"""General-purpose, compute- and memory-optimised CPU families with EBS storage (so a KMS key applies)."""
SAFE_ROUTING = ("CANARY", "LINEAR")


def _n(value: float) -> str:
    return f"{value:g}"


def _variants(props: Any, key: str, kind: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(label, variant) of productionVariants or shadowProductionVariants."""
    for index, variant in enumerate(as_list(get(props, key)), start=1):
        if isinstance(variant, Mapping):
            yield f"{kind} {get(variant, 'variantName') or f'#{index}'}", variant


def _serverless(variant: Mapping[str, Any]) -> bool:
    return get(variant, "serverlessConfig") is not None and not get(variant, "instanceType")


@for_types(MODEL)
def _model_isolation(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not truthy(get(args.props, "enableNetworkIsolation")):
        report("network isolation is not enabled (enableNetworkIsolation)")


@for_types(MODEL)
def _model_in_vpc(args: ResourceValidationArgs, report: ReportViolation) -> None:
    vpc = get(args.props, "vpcConfig")
    if not isinstance(vpc, Mapping):
        report("the model is not attached to a VPC (vpcConfig)")
        return
    if not as_list(get(vpc, "subnets")):
        report("vpcConfig.subnets is empty")
    if not as_list(get(vpc, "securityGroupIds")):
        report("vpcConfig.securityGroupIds is empty")


@for_types(ENDPOINT_CONFIG)
def _endpoint_config_kms(args: ResourceValidationArgs, report: ReportViolation) -> None:
    variants = [variant for _, variant in _variants(args.props, "productionVariants", "variant")]
    if variants and all(_serverless(v) for v in variants):
        return  # serverless endpoints have no ML storage volume and take no KMS key
    if not present(get(args.props, "kmsKeyArn")):
        report("ML storage volumes are not encrypted with a customer managed KMS key (kmsKeyArn)")
    if get(args.props, "asyncInferenceConfig") is not None and not present(
        get(args.props, "asyncInferenceConfig", "outputConfig", "kmsKeyId")
    ):
        report("async inference results are not encrypted with a KMS key (asyncInferenceConfig.outputConfig.kmsKeyId)")


@for_types(ENDPOINT_CONFIG)
def _data_capture(args: ResourceValidationArgs, report: ReportViolation) -> None:
    capture = get(args.props, "dataCaptureConfig")
    enabled = get(capture, "enableCapture")
    if not isinstance(capture, Mapping) or not (enabled is None or truthy(enabled)):  # the API defaults to on
        report("data capture is not enabled (dataCaptureConfig.enableCapture)")
        return
    modes = {str(get(option, "captureMode")) for option in as_list(get(capture, "captureOptions"))}
    missing = [mode for mode in ("Input", "Output") if not modes & {mode, "InputAndOutput"}]
    if missing:
        report(f"data capture does not record {' or '.join(missing)} (dataCaptureConfig.captureOptions)")
    minimum = number(args.get_config().get("minSamplingPercentage"))
    minimum = DEFAULT_MIN_SAMPLING if minimum is None else minimum
    sampled = number(get(capture, "initialSamplingPercentage"))
    if sampled is None or sampled < minimum:
        got = "no share" if sampled is None else f"{_n(sampled)}%"
        report(
            f"data capture samples {got} of requests; at least {_n(minimum)}% required "
            "(dataCaptureConfig.initialSamplingPercentage)"
        )
    if not present(get(capture, "kmsKeyId")):
        report("captured data is not encrypted with a KMS key (dataCaptureConfig.kmsKeyId)")


@for_types(ENDPOINT_CONFIG)
def _min_instances(args: ResourceValidationArgs, report: ReportViolation) -> None:
    minimum = number(args.get_config().get("minInstances"))
    minimum = DEFAULT_MIN_INSTANCES if minimum is None else minimum
    for label, variant in _variants(args.props, "productionVariants", "variant"):
        if _serverless(variant):
            report(f"{label} is serverless; production needs at least {_n(minimum)} provisioned instances")
            continue
        count = number(get(variant, "initialInstanceCount"))
        if count is None or count < minimum:
            got = "no" if count is None else _n(count)
            report(f"{label} starts {got} instance(s); at least {_n(minimum)} required (initialInstanceCount)")


def _instance_types(args: ResourceValidationArgs, report: ReportViolation) -> Iterator[tuple[str, Any]]:
    """(where, instance type) of everything the resource runs on."""
    props = args.props
    if args.resource_type == ENDPOINT_CONFIG:
        for key, kind in (("productionVariants", "variant"), ("shadowProductionVariants", "shadow variant")):
            for label, variant in _variants(props, key, kind):
                yield label, get(variant, "instanceType")
    elif args.resource_type == PIPELINE:
        definition = pipeline_definition(props)
        for step in checked_steps(props, report):
            job = step.get("Arguments")
            found = [
                get(job, "ProcessingResources", "ClusterConfig", "InstanceType"),
                get(job, "TransformResources", "InstanceType"),
            ]
            for training in training_jobs(step):
                found.append(get(training, "ResourceConfig", "InstanceType"))
                found += [get(g, "InstanceType") for g in as_list(get(training, "ResourceConfig", "InstanceGroups"))]
            # A pipeline parameter is checked at its default value.
            yield from ((step_label(step), resolve(value, definition)) for value in found)
    elif args.resource_type == DATA_QUALITY_JOB:
        yield "monitoring job", get(props, "jobResources", "clusterConfig", "instanceType")
    elif args.resource_type == MONITORING_SCHEDULE:
        job = get(props, "monitoringScheduleConfig", "monitoringJobDefinition")
        yield "monitoring job", get(job, "monitoringResources", "clusterConfig", "instanceType")


@for_types(ENDPOINT_CONFIG, PIPELINE, DATA_QUALITY_JOB, MONITORING_SCHEDULE)
def _allowed_instance_types(args: ResourceValidationArgs, report: ReportViolation) -> None:
    families = [str(f) for f in as_list(args.get_config().get("allowedFamilies", DEFAULT_FAMILIES))]
    for where, instance_type in _instance_types(args, report):
        if isinstance(instance_type, str) and not instance_type.startswith(tuple(families)):
            report(f"{where} uses {instance_type}, which is not in an allowed instance family")


@for_types(ENDPOINT)
def _safe_rollout(args: ResourceValidationArgs, report: ReportViolation) -> None:
    deployment = get(args.props, "deploymentConfig")
    routing = get(deployment, "blueGreenUpdatePolicy", "trafficRoutingConfiguration", "type")
    if routing not in SAFE_ROUTING:
        shift = f"shifts traffic {routing}" if isinstance(routing, str) else "has no blue/green traffic routing"
        report(
            f"the deployment {shift}; use CANARY or LINEAR "
            "(deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.type)"
        )
    alarms = [a for a in as_list(get(deployment, "autoRollbackConfiguration", "alarms")) if get(a, "alarmName")]
    if not alarms:
        report("no alarm rolls a failed deployment back (deploymentConfig.autoRollbackConfiguration.alarms)")


_SAMPLING = {"type": "number", "minimum": 0, "maximum": 100, "default": DEFAULT_MIN_SAMPLING}

POLICIES = [
    resource_rule(
        "sagemaker-model-network-isolation",
        Meta(
            description="SageMaker models run network-isolated: the container can make no outbound calls. "
            "All tiers (serverless endpoints do not support isolation: disable the rule where they are used).",
            severity=Severity.HIGH,
            controls=("CKV_AWS_370", "SageMaker.5"),
            fix="Set enableNetworkIsolation=true on the Model (mlstack's Endpoint component does by default).",
        ),
        _model_isolation,
    ),
    resource_rule(
        "sagemaker-model-in-vpc",
        Meta(
            description="SageMaker models run in the environment's VPC, with subnets and security groups. "
            "Meant for tiers with a VPC (prod in the example).",
            severity=Severity.MEDIUM,
            fix="Set the environment's network.subnet_ids and network.security_group_ids in mlstack.yaml; they "
            "become the Model's vpcConfig.",
        ),
        _model_in_vpc,
    ),
    resource_rule(
        "sagemaker-endpoint-config-kms",
        Meta(
            description="Endpoint configurations encrypt the ML storage volumes (and async inference results) "
            "with a customer managed KMS key; all-serverless configurations take no key and are skipped. "
            "All tiers.",
            severity=Severity.HIGH,
            controls=("CKV_AWS_98",),
            fix="Set kmsKeyArn (and asyncInferenceConfig.outputConfig.kmsKeyId) to the environment's KMS key. "
            "Instance types with local NVMe storage cannot take a key: disable the rule for them.",
        ),
        _endpoint_config_kms,
    ),
    resource_rule(
        "sagemaker-endpoint-data-capture",
        Meta(
            description="Endpoint configurations capture requests and responses, encrypted, at a minimum "
            "sampling rate, so model monitoring has data. Meant for staging and prod.",
            severity=Severity.MEDIUM,
            fix="Set serving.data_capture in mlstack.yaml: dataCaptureConfig with enableCapture, capture modes "
            "Input and Output, initialSamplingPercentage at or above the minimum, and kmsKeyId.",
            config={
                "minSamplingPercentage": {
                    **_SAMPLING,
                    "description": "Lowest initialSamplingPercentage accepted (percent of requests).",
                }
            },
        ),
        _data_capture,
    ),
    resource_rule(
        "sagemaker-endpoint-min-instances",
        Meta(
            description="Every production variant starts at least a minimum number of instances, so an "
            "instance or Availability Zone failure does not take the model down. Meant for prod.",
            severity=Severity.MEDIUM,
            controls=("SageMaker.4",),
            fix="Set serving.instance_count (and autoscaling.min_capacity) to at least the minimum in the "
            "environment's overrides; serve prod from instances, not serverless.",
            config={
                "minInstances": {
                    "type": "integer",
                    "minimum": 1,
                    "default": DEFAULT_MIN_INSTANCES,
                    "description": "Lowest initialInstanceCount accepted for a production variant.",
                }
            },
        ),
        _min_instances,
    ),
    resource_rule(
        "sagemaker-allowed-instance-types",
        Meta(
            description="Endpoint variants, pipeline jobs (training, tuning, processing, checks, transform) and "
            "monitoring jobs run on allowed instance families only, which keeps cost and quotas predictable. "
            "All tiers.",
            severity=Severity.MEDIUM,
            fix="Pick an instance type from an allowed family, or add the family (e.g. 'ml.g5.') to the "
            "rule's allowedFamilies in the tier's policy config.",
            config={
                "allowedFamilies": {
                    "type": "array",
                    "items": {"type": "string"},
                    "default": DEFAULT_FAMILIES,
                    "description": "Instance type prefixes allowed, e.g. 'ml.m5.' (a full type matches itself).",
                }
            },
        ),
        _allowed_instance_types,
    ),
    resource_rule(
        "sagemaker-endpoint-safe-rollout",
        Meta(
            description="Endpoint updates shift traffic gradually (blue/green CANARY or LINEAR) and roll back "
            "automatically on alarms. Meant for prod.",
            severity=Severity.MEDIUM,
            fix="Set serving.rollout.strategy to CANARY or LINEAR in mlstack.yaml; mlstack's Endpoint component "
            "attaches its latency and error alarms to autoRollbackConfiguration.",
        ),
        _safe_rollout,
    ),
]
