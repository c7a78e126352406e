"""Wiring of monitoring: Model Monitor schedules, alarms and dashboards, Prometheus for Kubernetes.

Monitors compare live traffic with the baseline recorded with the *deployed* model
version (resolved in mlstack/serving.py), so a rollout also moves the baseline.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from functools import cache
from pathlib import Path

import pulumi

from mlstack import shared_package_dir
from mlstack.components.alerting import DriftMetric, ModelAlerting, ModelAlertingArgs
from mlstack.components.drift_monitor import DriftMonitor, DriftMonitorArgs
from mlstack.components.endpoint import Endpoint
from mlstack.components.foundation import Foundation
from mlstack.components.k8s_monitoring import PrometheusMonitoring, PrometheusMonitoringArgs
from mlstack.components.k8s_serving import KubernetesServing
from mlstack.components.monitoring import DataQualityMonitor, DataQualityMonitorArgs
from mlstack.pipelines import layout
from mlstack.pipelines.inputs import Vpc
from mlstack.pipelines.monitor_inputs import MonitorPipelineInputs
from mlstack.registry.versions import ResolvedVersion
from mlstack.spec import EnvironmentSpec, ModelSpec, SpecError
from mlstack.spec.naming import Names, fit
from mlstack.wiring.pipeline_cache import definition_soon
from mlstack.wiring.serving import ROLLBACK_ALARMS, ServingChoice
from mlstack.wiring.training import has_drift_alarm

STEPS_DIR = shared_package_dir("pipelines") / "steps"
# What mlstack's monitor publishes (pipelines/steps/monitor.py): the alarm watches the maximum.
MAX_DRIFT_METRIC = "MaxFeatureDriftPSI"
FEATURE_DRIFT_METRIC = "FeatureDriftPSI"


@cache
def monitor_image(region: str) -> str:
    """The regional Model Monitor analyzer image, read from the SageMaker SDK's image table
    (a JSON file: no SDK import, no AWS call)."""
    table = _image_tables() / "model-monitor.json"
    version = json.loads(table.read_text())["versions"][""]
    account = version["registries"][region]
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{suffix}/{version['repository']}:latest"


def build_monitor(
    env: EnvironmentSpec,
    names: Names,
    tags: dict[str, str],
    foundation: Foundation,
    *,
    model: ModelSpec,
    choice: ServingChoice,
    endpoint: Endpoint,
    alerting: ModelAlerting | None = None,
) -> DataQualityMonitor | DriftMonitor | None:
    """Drift monitoring of a SageMaker endpoint against its deployed version's baseline.

    Engine `mlstack` (default): our monitoring pipeline (DriftMonitor). Engine `model-monitor`:
    a SageMaker Model Monitor data-quality schedule (closed to new AWS customers).
    """
    monitoring = model.monitoring
    if not (monitoring.enabled and monitoring.data_quality.enabled):
        return None
    if monitoring.engine == "mlstack":
        return build_drift_monitor(
            env, names, tags, foundation, model=model, choice=choice, endpoint=endpoint, alerting=alerting
        )
    version = choice.primary
    if not (version.baseline_constraints_uri and version.baseline_statistics_uri):
        raise SpecError(
            [
                env.problem(
                    ("models", env.spec.models.index(model), "monitoring", "data_quality"),
                    f"version {version.version} of {version.group} has no data-quality baseline "
                    "(DriftCheckBaselines.ModelDataQuality); register it with the mlstack pipeline, or disable "
                    "data_quality monitoring",
                )
            ]
        )
    data_quality = monitoring.data_quality
    bucket = names.artifact_bucket()
    return DataQualityMonitor(
        f"{model.name}-data-quality",
        DataQualityMonitorArgs(
            job_definition_prefix=fit(names.sagemaker(f"{model.name}-dq"), 52),
            schedule_name=names.sagemaker(f"{model.name}-data-quality"),
            endpoint_name=endpoint.endpoint.name,
            role_arn=foundation.role.arn,
            analyzer_image_uri=monitor_image(names.region),
            baseline_constraints_uri=version.baseline_constraints_uri,
            baseline_statistics_uri=version.baseline_statistics_uri,
            reports_s3_uri=f"{layout.monitoring_reports_prefix(bucket, model.name)}/data-quality",
            kms_key_arn=foundation.key.arn,
            cadence=data_quality.cadence,
            instance_type=data_quality.instance_type,
            max_runtime_seconds=data_quality.max_runtime_seconds,
            vpc_subnet_ids=env.spec.subnet_ids,
            vpc_security_group_ids=env.spec.security_group_ids,
            tags=tags,
        ),
        pulumi.ResourceOptions(depends_on=[endpoint.endpoint]),
    )


def build_prometheus(
    model: ModelSpec, tags: dict[str, str], serving: KubernetesServing, provider: pulumi.ProviderResource
) -> PrometheusMonitoring | None:
    """ServiceMonitor and alert rules for a Kubernetes-served model, where the spec enables them."""
    monitoring = model.monitoring
    if not (monitoring.enabled and monitoring.prometheus.enabled) or model.serving is None:
        return None
    prometheus, alarms = monitoring.prometheus, monitoring.alarms
    assert model.serving.kubernetes is not None
    return PrometheusMonitoring(
        f"{model.name}-prometheus",
        PrometheusMonitoringArgs(
            namespace=model.serving.kubernetes.namespace,
            app_name=model.name,
            path=prometheus.path,
            scrape_interval_seconds=prometheus.scrape_interval_seconds,
            requests_metric=prometheus.requests_metric,
            latency_metric=prometheus.latency_metric,
            latency_p99_ms=alarms.latency_p99_ms,
            error_5xx_percent=alarms.error_5xx_percent,
            labels={k: v for k, v in tags.items() if k in ("project", "environment", "managed-by")},
        ),
        pulumi.ResourceOptions(provider=provider, depends_on=[serving]),
    )


@cache
def clarify_image(region: str) -> str:
    """The regional SageMaker Clarify image, from the SDK's image table (no import, no AWS call)."""
    table = json.loads((_image_tables() / "clarify.json").read_text())["processing"]["versions"]
    latest = max(table, key=lambda v: tuple(int(p) for p in v.split(".")))
    entry = table[latest]
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{entry['registries'][region]}.dkr.ecr.{region}.{suffix}/{entry['repository']}:{latest}"


def _image_tables() -> Path:
    spec = importlib.util.find_spec("sagemaker")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "core" / "image_uri_config"


def monitored_features(env: EnvironmentSpec, model: ModelSpec) -> list[str]:
    """The model's input columns, in the order the baseline has them (the feature group's, minus keys and label)."""
    group = env.spec.feature_group(model.data.feature_groups[0]) if model.data.feature_groups else None
    if group is None:
        return []
    skip = {group.record_identifier, group.event_time, model.data.target, *model.data.exclude}
    # The preprocessing step keeps every other feature (the spec has each text one categorical or excluded).
    return [f.name for f in group.features if f.name not in skip]


def build_alerting(
    env: EnvironmentSpec,
    names: Names,
    tags: dict[str, str],
    foundation: Foundation,
    *,
    model: ModelSpec,
) -> ModelAlerting | None:
    """Alerts topic, the drift alarm retraining listens for, the traffic-anomaly alarm and the dashboard."""
    if not has_drift_alarm(model):
        return None
    if model.monitoring.engine == "mlstack":
        drift = DriftMetric(
            namespace=names.metrics_namespace(),
            metric_name=MAX_DRIFT_METRIC,
            dimensions={"Model": model.name},
            feature_metric_name=FEATURE_DRIFT_METRIC,
        )
        return ModelAlerting(f"{model.name}-alerting", _alerting_args(env, names, tags, foundation, model, (), drift))
    features = monitored_features(env, model)
    if not features:
        index = env.spec.models.index(model)
        raise SpecError(
            [env.problem(("models", index, "data"), "no feature besides the keys and the label to watch for drift")]
        )
    return ModelAlerting(f"{model.name}-alerting", _alerting_args(env, names, tags, foundation, model, features, None))


def _alerting_args(
    env: EnvironmentSpec,
    names: Names,
    tags: dict[str, str],
    foundation: Foundation,
    model: ModelSpec,
    features: list[str] | tuple[str, ...],
    drift: DriftMetric | None,
) -> ModelAlertingArgs:
    serving = model.serving
    assert serving is not None
    alarms = model.monitoring.alarms
    return ModelAlertingArgs(
        endpoint_name=names.endpoint(model.name),
        variant_name=serving.variants[0].name if serving.variants else "primary",
        monitoring_schedule_name=names.sagemaker(f"{model.name}-data-quality"),
        pipeline_name=names.pipeline(model.name),
        region=names.region,
        account_id=env.account_id,
        kms_key_arn=foundation.key.arn,
        topic_name=names.topic(f"{model.name}-alerts"),
        drift_alarm_name=names.drift_alarm(model.name),
        features=features,
        drift_metric=drift,
        dashboard_name=names.sagemaker(model.name),
        subscribers=[(s.protocol, s.endpoint) for s in env.spec.alerts.subscribers],
        drift_threshold=alarms.drift_threshold,
        cadence=model.monitoring.data_quality.cadence,
        invocations_alarm_name=names.alarm(model.name, "invocations-dropped"),
        # The endpoint's rollback alarms, by their deterministic ARNs (the endpoint is built after this).
        extra_alarm_arns=[
            f"arn:aws:cloudwatch:{names.region}:{env.account_id}:alarm:{names.alarm(model.name, key)}"
            for key in ROLLBACK_ALARMS
        ],
        tags=tags,
    )


def build_quality_monitors(
    env: EnvironmentSpec,
    names: Names,
    tags: dict[str, str],
    foundation: Foundation,
    *,
    model: ModelSpec,
    endpoint: Endpoint,
) -> list[pulumi.ComponentResource]:
    """Model quality, bias and explainability monitors (engine model-monitor), where the spec enables them.

    Under engine `mlstack` the drift monitor's job computes model quality and bias itself.
    """
    monitoring = model.monitoring
    if not monitoring.enabled or monitoring.engine != "model-monitor":
        return []
    # Here, not at the top: these are aws-native resources, and importing pulumi_aws_native
    # costs ~0.4 s that a plan without Model Monitor should not pay.
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

    bucket = names.artifact_bucket()
    reports = layout.monitoring_reports_prefix(bucket, model.name)
    opts = pulumi.ResourceOptions(depends_on=[endpoint.endpoint])
    headers = monitored_features(env, model)
    created: list[pulumi.ComponentResource] = []

    shared = {
        "role_arn": foundation.role.arn,
        "role_name": foundation.role.name,  # the monitors grant it read access to their ground truth
        "kms_key_arn": foundation.key.arn,
        "vpc_subnet_ids": env.spec.subnet_ids,
        "vpc_security_group_ids": env.spec.security_group_ids,
        "tags": tags,
    }

    def common(kind: str) -> dict[str, object]:
        """The arguments every monitor kind shares; names and reports prefix follow the kind."""
        return {
            "job_definition_name": fit(names.sagemaker(f"{model.name}-{kind}"), 52),
            "schedule_name": names.sagemaker(f"{model.name}-{kind}"),
            "reports_s3_uri": f"{reports}/{kind}",
            **shared,
        }

    quality = monitoring.model_quality
    if quality.enabled and quality.ground_truth_s3_uri:
        created.append(
            ModelQualityMonitor(
                f"{model.name}-model-quality",
                ModelQualityMonitorArgs(  # type: ignore[arg-type]
                    endpoint=EndpointInputArgs(
                        endpoint_name=endpoint.endpoint.name,
                        inference_attribute=quality.inference_attribute,
                        probability_attribute=quality.probability_attribute,
                        probability_threshold_attribute=quality.probability_threshold,
                    ),
                    image_uri=monitor_image(names.region),
                    cadence=quality.cadence,
                    problem_type=model.problem_type,
                    ground_truth_s3_uri=quality.ground_truth_s3_uri,
                    **common("model-quality"),
                ),
                opts,
            )
        )
    bias = monitoring.bias
    if bias.enabled and bias.facet and bias.ground_truth_s3_uri:
        created.append(
            BiasMonitor(
                f"{model.name}-bias",
                BiasMonitorArgs(  # type: ignore[arg-type]
                    endpoint=EndpointInputArgs(endpoint_name=endpoint.endpoint.name),
                    image_uri=clarify_image(names.region),
                    cadence=bias.cadence,
                    ground_truth_s3_uri=bias.ground_truth_s3_uri,
                    analysis_config=AnalysisConfigLocation(
                        bucket=foundation.bucket.name, key=f"monitoring/{model.name}/clarify/bias.json"
                    ),
                    headers=headers,
                    label=model.data.target,
                    label_values_or_threshold=[1],
                    facets=[FacetArgs(name_or_index=bias.facet, value_or_threshold=tuple(bias.facet_values))],
                    **common("bias"),
                ),
                opts,
            )
        )
    explainability = monitoring.explainability
    if explainability.enabled and explainability.shap_baseline_s3_uri and headers:
        created.append(
            ExplainabilityMonitor(
                f"{model.name}-explainability",
                ExplainabilityMonitorArgs(  # type: ignore[arg-type]
                    endpoint=EndpointInputArgs(endpoint_name=endpoint.endpoint.name),
                    image_uri=clarify_image(names.region),
                    cadence=explainability.cadence,
                    analysis_config=AnalysisConfigLocation(
                        bucket=foundation.bucket.name, key=f"monitoring/{model.name}/clarify/explainability.json"
                    ),
                    headers=headers,
                    shap_baseline=explainability.shap_baseline_s3_uri,
                    **common("explainability"),
                ),
                opts,
            )
        )
    return created


def training_baseline(env: EnvironmentSpec, version: ResolvedVersion, at: tuple[str | int, ...], or_else: str) -> str:
    """The prefix of `version`'s baseline dataset, which mlstack's drift monitor compares with.
    A version registered without the mlstack pipeline has none: a located problem at `at`."""
    baseline = layout.baseline_dataset_prefix(version.baseline_constraints_uri or "")
    if baseline is None:
        raise SpecError(
            [
                env.problem(
                    at,
                    f"version {version.version} of {version.group} records no baseline of the mlstack pipeline "
                    "(DriftCheckBaselines.ModelDataQuality under baselines/<model>/data-quality/<execution>/); "
                    f"register it with the mlstack training pipeline, or {or_else}",
                )
            ]
        )
    return baseline


def build_drift_monitor(
    env: EnvironmentSpec,
    names: Names,
    tags: dict[str, str],
    foundation: Foundation,
    *,
    model: ModelSpec,
    choice: ServingChoice,
    endpoint: Endpoint,
    alerting: ModelAlerting | None,
) -> DriftMonitor:
    """mlstack's own drift monitor: a scheduled pipeline over the endpoint's data capture."""
    index = env.spec.models.index(model)
    baseline = training_baseline(
        env, choice.primary, ("models", index, "monitoring", "data_quality"), "disable data_quality monitoring"
    )
    monitoring = model.monitoring
    bucket = names.artifact_bucket()
    quality, bias = monitoring.model_quality, monitoring.bias
    ground_truth = (quality.ground_truth_s3_uri if quality.enabled else None) or (
        bias.ground_truth_s3_uri if bias.enabled else None
    )
    mlflow = names.mlflow_server_arn() if env.spec.mlflow.enabled else None
    functions = names.monitor_functions(model.name)
    job_role = names.role(f"{model.name}-monitor-job")
    network = env.spec.network
    placeholder = MonitorPipelineInputs(
        pipeline_name=names.monitor_pipeline(model.name),
        model_name=model.name,
        region=names.region,
        bucket=bucket,
        role_arn=f"arn:aws:iam::{env.account_id}:role/{job_role}",
        kms_key_arn="arn:aws:kms:pending",
        problem_type=model.problem_type,
        capture_s3_uri=f"{layout.data_capture_prefix(bucket, model.name)}/{names.endpoint(model.name)}/",
        baseline_s3_uri=baseline,
        prepare_function_arn=f"arn:aws:lambda:{names.region}:{env.account_id}:function:{functions}-prepare",
        publish_function_arn=f"arn:aws:lambda:{names.region}:{env.account_id}:function:{functions}-publish",
        metrics_namespace=names.metrics_namespace(),
        cadence=monitoring.data_quality.cadence,
        ground_truth_s3_uri=ground_truth,
        drift_threshold=monitoring.alarms.drift_threshold,
        probability_threshold=quality.probability_threshold,
        facet=bias.facet if bias.enabled else None,
        facet_values=tuple(str(v) for v in bias.facet_values) if bias.enabled else (),
        tracking_server_arn=mlflow,
        instance_type=monitoring.data_quality.instance_type,
        max_runtime_seconds=monitoring.data_quality.max_runtime_seconds,
        vpc=Vpc(subnet_ids=network.subnet_ids, security_group_ids=network.security_group_ids) if network else None,
        tags=tags,
    )
    definition = foundation.key.arn.apply(lambda key: definition_soon(replace(placeholder, kms_key_arn=key)))
    return DriftMonitor(
        f"{model.name}-drift-monitor",
        DriftMonitorArgs(
            pipeline_name=placeholder.pipeline_name,
            definition=definition,
            model_name=model.name,
            account_id=env.account_id,
            region=names.region,
            bucket_name=foundation.bucket.name,
            bucket_arn=foundation.bucket.arn,
            kms_key_arn=foundation.key.arn,
            job_role_name=job_role,
            pipeline_role_name=names.role(f"{model.name}-monitor-pipeline"),
            functions_role_prefix=functions,
            scheduler_role_name=names.role(f"{model.name}-monitor-schedule"),
            schedule_name=names.monitor_schedule(model.name),
            cadence=monitoring.data_quality.cadence,
            metrics_namespace=names.metrics_namespace(),
            monitor_script=STEPS_DIR / "monitor.py",
            lambda_script=STEPS_DIR / "monitor_lambda.py",
            baseline_read_prefixes=[baseline.removeprefix(f"s3://{bucket}/")],
            ground_truth_s3_uri=ground_truth,
            tracking_server_arn=mlflow,
            alarm_topic_arn=alerting.topic_arn if alerting else None,
            failed_alarm_name=names.alarm(model.name, "monitor-failed"),
            vpc_subnet_ids=env.spec.subnet_ids,
            vpc_security_group_ids=env.spec.security_group_ids,
            tags=tags,
        ),
        pulumi.ResourceOptions(depends_on=[endpoint.endpoint]),
    )
