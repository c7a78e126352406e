"""A SageMaker real-time endpoint with safe rollouts, automatic rollback and autoscaling.

Design choices, each against a known provider pain:
- Every EndpointConfiguration attribute forces replacement, and a fixed name breaks
  rollouts. The configuration's *name* is a hash of its content: the same content gives
  the same name (no change), any change gives a new configuration, and the Endpoint (whose
  logical name never changes) is updated to point at it — SageMaker then runs the
  blue/green rollout. Models are named by their content in the same way.
- Variant names never change across rollouts (SageMaker requires it for guardrails).
- The rollback alarms are created here and watched during every baking period.
- Custom timeouts cover the whole rollout (every wait, the termination wait, and room to
  provision the green fleet), so a slow canary is not cut off at the default 10 minutes.
- The autoscaling target depends explicitly on the Endpoint, so it never races a config
  rollover ("Could not find endpointConfig").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from ._policy import child, content_name

# Time to provision a green fleet before any traffic moves, and a margin on top.
PROVISIONING_SECONDS = 20 * 60
MARGIN_SECONDS = 10 * 60


@dataclass(frozen=True, kw_only=True)
class VariantArgs:
    name: str
    """Variant name; keep it stable across rollouts."""
    model_package_arn: str
    """Versioned model package to serve (from the model registry)."""
    weight: float = 1.0
    """Share of traffic relative to the other variants (A/B tests)."""
    instance_type: str | None = "ml.m5.large"
    instance_count: int = 1
    serverless_memory_mb: int | None = None
    """Serverless inference instead of instances when set (with serverless_max_concurrency)."""
    serverless_max_concurrency: int = 5


@dataclass(frozen=True, kw_only=True)
class RolloutArgs:
    strategy: str = "ALL_AT_ONCE"
    """ALL_AT_ONCE, CANARY or LINEAR."""
    canary_percent: int = 10
    linear_step_percent: int = 20
    wait_seconds: int = 600
    """Baking time after each traffic shift."""
    termination_wait_seconds: int = 300
    maximum_execution_timeout_seconds: int = 3600

    def steps(self) -> int:
        """How many baking periods the rollout has."""
        if self.strategy == "CANARY":
            return 2
        if self.strategy == "LINEAR":
            return math.ceil(100 / self.linear_step_percent)
        return 1

    def timeout_seconds(self) -> int:
        baking = self.steps() * self.wait_seconds + self.termination_wait_seconds
        return max(baking, self.maximum_execution_timeout_seconds) + PROVISIONING_SECONDS + MARGIN_SECONDS


@dataclass(frozen=True, kw_only=True)
class AlarmArgs:
    latency_p99_ms: int = 500
    error_5xx_percent: float = 1.0
    model_errors: int = 5
    evaluation_periods: int = 3
    period_seconds: int = 60
    names: Mapping[str, str] = field(default_factory=dict)
    """Physical alarm names for 'latency-p99', 'error-5xx-rate' and 'model-errors'."""
    actions: Sequence[pulumi.Input[str]] = ()
    """Where alarms notify (SNS topic ARNs)."""


@dataclass(frozen=True, kw_only=True)
class AutoscalingArgs:
    min_capacity: int = 1
    max_capacity: int = 4
    target_invocations_per_instance: int = 1000
    scale_in_cooldown_seconds: int = 300
    scale_out_cooldown_seconds: int = 60


@dataclass(frozen=True, kw_only=True)
class DataCaptureArgs:
    destination_s3_uri: pulumi.Input[str]
    sampling_percentage: int = 100
    capture: str = "InputAndOutput"
    """Input, Output or InputAndOutput."""


@dataclass(frozen=True, kw_only=True)
class EndpointArgs:
    endpoint_name: str
    name_prefix: str
    """Prefix of the content-hashed Model and EndpointConfiguration names (≤ 50 characters)."""
    execution_role_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    """Encrypts instance storage and captured data."""
    variants: Sequence[VariantArgs]
    shadow: VariantArgs | None = None
    """A candidate that gets a copy of the traffic; its responses are only logged."""
    network_isolation: bool = True
    vpc_subnet_ids: Sequence[str] = ()
    vpc_security_group_ids: Sequence[str] = ()
    data_capture: DataCaptureArgs | None = None
    rollout: RolloutArgs = field(default_factory=RolloutArgs)
    rollback_on_alarms: bool = True
    alarms: AlarmArgs = field(default_factory=AlarmArgs)
    autoscaling: AutoscalingArgs | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


class Endpoint(pulumi.ComponentResource):
    models: dict[str, aws.sagemaker.Model]
    config: aws.sagemaker.EndpointConfiguration
    endpoint: aws.sagemaker.Endpoint
    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    config_name: pulumi.Output[str]

    def __init__(self, name: str, args: EndpointArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlstack:serving:Endpoint", name, None, opts)
        if not args.variants:
            raise ValueError("an endpoint needs at least one variant")
        variants = [*args.variants, *([args.shadow] if args.shadow else [])]
        self.models = {v.name: self._model(name, v, args) for v in variants}
        self.config = self._config(name, args)
        self.config_name = self.config.name
        self.alarms = self._alarms(name, args)
        self.endpoint = self._endpoint(name, args)
        if args.autoscaling and not args.variants[0].serverless_memory_mb:
            self._autoscaling(name, args)
        self.register_outputs({"endpoint_name": args.endpoint_name, "config_name": self.config_name})

    def _model(self, name: str, variant: VariantArgs, args: EndpointArgs) -> aws.sagemaker.Model:
        vpc = None
        if args.vpc_subnet_ids:
            vpc = {"subnets": sorted(args.vpc_subnet_ids), "security_group_ids": sorted(args.vpc_security_group_ids)}
        content = {
            "package": variant.model_package_arn,
            "isolation": args.network_isolation,
            "vpc": vpc,
            "prefix": args.name_prefix,
        }
        return aws.sagemaker.Model(
            f"{name}-model-{variant.name}",
            name=content_name(f"{args.name_prefix}-{variant.name}"[:52], content),
            execution_role_arn=args.execution_role_arn,
            primary_container={"model_package_name": variant.model_package_arn},
            enable_network_isolation=args.network_isolation,
            vpc_config=vpc,
            tags=dict(args.tags),
            opts=child(self),
        )

    @staticmethod
    def _variant(variant: VariantArgs, model_name: str) -> dict[str, Any]:
        spec: dict[str, Any] = {"variant_name": variant.name, "model_name": model_name}
        if variant.serverless_memory_mb:
            spec["serverless_config"] = {
                "memory_size_in_mb": variant.serverless_memory_mb,
                "max_concurrency": variant.serverless_max_concurrency,
            }
        else:
            spec.update(instance_type=variant.instance_type, initial_instance_count=variant.instance_count)
        spec["initial_variant_weight"] = variant.weight
        return spec

    def _config(self, name: str, args: EndpointArgs) -> aws.sagemaker.EndpointConfiguration:
        serverless = any(v.serverless_memory_mb for v in args.variants)
        model_names = {key: model.name for key, model in self.models.items()}

        def content(values: list[Any]) -> dict[str, Any]:
            names, key, capture_uri = values
            body: dict[str, Any] = {
                "production_variants": [self._variant(v, names[v.name]) for v in args.variants],
            }
            if args.shadow:
                body["shadow_production_variants"] = [self._variant(args.shadow, names[args.shadow.name])]
            if not serverless:  # serverless endpoints do not take a KMS key
                body["kms_key_arn"] = key
            if args.data_capture:
                body["data_capture_config"] = _capture(args.data_capture, capture_uri, key)
            return body

        capture_uri = args.data_capture.destination_s3_uri if args.data_capture else None
        body = pulumi.Output.all(model_names, args.kms_key_arn, capture_uri).apply(content)
        return aws.sagemaker.EndpointConfiguration(
            f"{name}-config",
            name=body.apply(lambda b: content_name(args.name_prefix, b)),
            production_variants=body.apply(lambda b: b["production_variants"]),
            shadow_production_variants=body.apply(lambda b: b.get("shadow_production_variants")),
            kms_key_arn=body.apply(lambda b: b.get("kms_key_arn")),
            data_capture_config=body.apply(lambda b: b.get("data_capture_config")),
            tags=dict(args.tags),
            # A new name per content: create the new configuration before deleting the old.
            opts=child(self, delete_before_replace=False),
        )

    def _alarms(self, name: str, args: EndpointArgs) -> dict[str, aws.cloudwatch.MetricAlarm]:
        a = args.alarms
        variant = args.variants[0].name
        dims = {"EndpointName": args.endpoint_name, "VariantName": variant}
        common: dict[str, Any] = {
            "evaluation_periods": a.evaluation_periods,
            "datapoints_to_alarm": a.evaluation_periods,
            "treat_missing_data": "notBreaching",
            "alarm_actions": list(a.actions),
            "ok_actions": list(a.actions),
            "tags": dict(args.tags),
        }
        metric = {"namespace": "AWS/SageMaker", "dimensions": dims, "period": a.period_seconds}
        specs: dict[str, dict[str, Any]] = {
            "latency-p99": {
                "alarm_description": f"p99 model latency of {args.endpoint_name} above {a.latency_p99_ms} ms",
                "metric_name": "ModelLatency",
                "extended_statistic": "p99",
                "threshold": a.latency_p99_ms * 1000,  # ModelLatency is in microseconds
                "comparison_operator": "GreaterThanThreshold",
                **metric,
            },
            "error-5xx-rate": {
                "alarm_description": f"5xx share of {args.endpoint_name} invocations above {a.error_5xx_percent}%",
                "threshold": a.error_5xx_percent,
                "comparison_operator": "GreaterThanThreshold",
                "metric_queries": [
                    {"id": "errors", "metric": {**_stat(metric, "Invocation5XXErrors")}, "return_data": False},
                    {"id": "calls", "metric": {**_stat(metric, "Invocations")}, "return_data": False},
                    {
                        "id": "rate",
                        "expression": "IF(calls > 0, 100 * errors / calls, 0)",
                        "label": "5xx %",
                        "return_data": True,
                    },
                ],
            },
            "model-errors": {
                "alarm_description": f"model errors of {args.endpoint_name} at or above {a.model_errors} per period",
                "metric_name": "InvocationModelErrors",
                "statistic": "Sum",
                "threshold": a.model_errors,
                "comparison_operator": "GreaterThanOrEqualToThreshold",
                **metric,
            },
        }
        return {
            key: aws.cloudwatch.MetricAlarm(
                f"{name}-alarm-{key}",
                name=a.names.get(key, f"{args.endpoint_name}-{key}"),
                **spec,
                **common,
                opts=child(self),
            )
            for key, spec in specs.items()
        }

    def _endpoint(self, name: str, args: EndpointArgs) -> aws.sagemaker.Endpoint:
        rollout = args.rollout
        deployment = None
        if not any(v.serverless_memory_mb for v in args.variants):
            routing: dict[str, Any] = {"type": rollout.strategy, "wait_interval_in_seconds": rollout.wait_seconds}
            if rollout.strategy == "CANARY":
                routing["canary_size"] = {"type": "CAPACITY_PERCENT", "value": rollout.canary_percent}
            elif rollout.strategy == "LINEAR":
                routing["linear_step_size"] = {"type": "CAPACITY_PERCENT", "value": rollout.linear_step_percent}
            deployment = {
                "blue_green_update_policy": {
                    "traffic_routing_configuration": routing,
                    "termination_wait_in_seconds": rollout.termination_wait_seconds,
                    "maximum_execution_timeout_in_seconds": rollout.maximum_execution_timeout_seconds,
                },
            }
            if args.rollback_on_alarms:
                deployment["auto_rollback_configuration"] = {
                    "alarms": [{"alarm_name": alarm.name} for alarm in self.alarms.values()]
                }
        timeout = f"{math.ceil(rollout.timeout_seconds() / 60)}m"
        return aws.sagemaker.Endpoint(
            f"{name}-endpoint",
            name=args.endpoint_name,
            endpoint_config_name=self.config.name,
            deployment_config=deployment,
            tags=dict(args.tags),
            opts=child(
                self,
                depends_on=list(self.alarms.values()),
                custom_timeouts=pulumi.CustomTimeouts(create=timeout, update=timeout),
            ),
        )

    def _autoscaling(self, name: str, args: EndpointArgs) -> None:
        scaling = args.autoscaling
        assert scaling is not None
        for variant in args.variants:
            target = aws.appautoscaling.Target(
                f"{name}-scaling-{variant.name}",
                service_namespace="sagemaker",
                resource_id=f"endpoint/{args.endpoint_name}/variant/{variant.name}",
                scalable_dimension="sagemaker:variant:DesiredInstanceCount",
                min_capacity=scaling.min_capacity,
                max_capacity=scaling.max_capacity,
                tags=dict(args.tags),
                # Never race a configuration rollover: scale only an endpoint that exists.
                opts=child(self, depends_on=[self.endpoint]),
            )
            aws.appautoscaling.Policy(
                f"{name}-scaling-policy-{variant.name}",
                name=f"{args.endpoint_name}-{variant.name}-invocations",
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                resource_id=target.resource_id,
                scalable_dimension=target.scalable_dimension,
                target_tracking_scaling_policy_configuration={
                    "target_value": scaling.target_invocations_per_instance,
                    "predefined_metric_specification": {
                        "predefined_metric_type": "SageMakerVariantInvocationsPerInstance"
                    },
                    "scale_in_cooldown": scaling.scale_in_cooldown_seconds,
                    "scale_out_cooldown": scaling.scale_out_cooldown_seconds,
                },
                opts=child(self, depends_on=[target]),
            )


def _stat(metric: dict[str, Any], metric_name: str) -> dict[str, Any]:
    return {
        "namespace": metric["namespace"],
        "metric_name": metric_name,
        "dimensions": metric["dimensions"],
        "period": metric["period"],
        "stat": "Sum",
    }


def _capture(capture: DataCaptureArgs, uri: str | None, key: str | None) -> dict[str, Any]:
    modes = ["Input", "Output"] if capture.capture == "InputAndOutput" else [capture.capture]
    return {
        "enable_capture": True,
        "initial_sampling_percentage": capture.sampling_percentage,
        "destination_s3_uri": uri,
        "kms_key_id": key,
        "capture_options": [{"capture_mode": mode} for mode in modes],
        "capture_content_type_header": {
            "csv_content_types": ["text/csv"],
            "json_content_types": ["application/json"],
        },
    }
