"""Wiring of monitoring: Model Monitor schedules, alarms and dashboards, Prometheus for Kubernetes.

Monitors compare live traffic with the baseline recorded with the *deployed* model
version (resolved in mlstack/serving.py), so a rollout also moves the baseline.
"""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path

import pulumi

from components.endpoint import Endpoint
from components.foundation import Foundation
from components.k8s_monitoring import PrometheusMonitoring, PrometheusMonitoringArgs
from components.k8s_serving import KubernetesServing
from components.monitoring import DataQualityMonitor, DataQualityMonitorArgs
from mlstack.naming import Names
from mlstack.serving import ServingChoice
from mlstack.spec import EnvironmentSpec, ModelSpec, SpecError
from pipelines import layout


@cache
def monitor_image(region: str) -> str:
    """The regional Model Monitor analyzer image, read from the SageMaker SDK's image table
    (a JSON file: no SDK import, no AWS call)."""
    spec = importlib.util.find_spec("sagemaker")
    assert spec is not None and spec.submodule_search_locations
    table = Path(next(iter(spec.submodule_search_locations))) / "core" / "image_uri_config" / "model-monitor.json"
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
) -> DataQualityMonitor | None:
    """Data-quality monitoring of a SageMaker endpoint against its deployed version's baseline."""
    monitoring = model.monitoring
    if not (monitoring.enabled and monitoring.data_quality.enabled):
        return None
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
            job_definition_name=names.sagemaker(f"{model.name}-data-quality"),
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
