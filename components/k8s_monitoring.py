"""Prometheus monitoring of a model served on Kubernetes: a ServiceMonitor and alert rules.

Both are Prometheus Operator custom resources (monitoring.coreos.com/v1). The rules use
the serving container's own request counter and latency histogram, with the same
thresholds as the SageMaker endpoint alarms (p99 latency, 5xx share).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from ._policy import child


@dataclass(frozen=True, kw_only=True)
class PrometheusMonitoringArgs:
    namespace: str
    app_name: str
    """The workload's app.kubernetes.io/name label (the Service selects on it)."""
    port_name: str = "http"
    """Named Service port to scrape."""
    path: str = "/metrics"
    scrape_interval_seconds: int = 30
    requests_metric: str = "http_requests_total"
    """Request counter with a `status` label holding the HTTP status code."""
    latency_metric: str = "http_request_duration_seconds"
    """Latency histogram in seconds (the `_bucket` series is used)."""
    latency_p99_ms: int = 500
    error_5xx_percent: float = 1.0
    for_minutes: int = 5
    """How long a condition must hold before the alert fires."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Labels for both objects (e.g. the `release` label your Prometheus selects rules by)."""


class PrometheusMonitoring(pulumi.ComponentResource):
    service_monitor: k8s.apiextensions.CustomResource
    rules: k8s.apiextensions.CustomResource

    def __init__(self, name: str, args: PrometheusMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlstack:monitoring:PrometheusMonitoring", name, None, opts)
        labels = {**args.labels, "app.kubernetes.io/name": args.app_name, "app.kubernetes.io/managed-by": "mlstack"}
        self.service_monitor = k8s.apiextensions.CustomResource(
            f"{name}-service-monitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata={"name": args.app_name, "namespace": args.namespace, "labels": labels},
            spec={
                "selector": {"matchLabels": {"app.kubernetes.io/name": args.app_name}},
                "namespaceSelector": {"matchNames": [args.namespace]},
                "endpoints": [
                    {"port": args.port_name, "path": args.path, "interval": f"{args.scrape_interval_seconds}s"}
                ],
            },
            opts=child(self),
        )
        self.rules = k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={"name": f"{args.app_name}-serving", "namespace": args.namespace, "labels": labels},
            spec={"groups": [{"name": f"{args.app_name}.serving", "rules": alert_rules(args)}]},
            opts=child(self),
        )
        self.register_outputs({})


def alert_rules(args: PrometheusMonitoringArgs) -> list[dict[str, object]]:
    """PromQL alerts: latency p99, 5xx share, and no traffic at all."""
    selector = f'namespace="{args.namespace}",service="{args.app_name}"'
    window = "5m"
    requests = f"sum(rate({args.requests_metric}{{{selector}}}[{window}]))"
    errors = f'sum(rate({args.requests_metric}{{{selector},status=~"5.."}}[{window}]))'
    p99 = f"histogram_quantile(0.99, sum by (le) (rate({args.latency_metric}_bucket{{{selector}}}[{window}])))"
    duration = f"{args.for_minutes}m"
    common = {"model": args.app_name}
    return [
        {
            "alert": "ModelLatencyP99High",
            "expr": f"{p99} > {args.latency_p99_ms / 1000:g}",
            "for": duration,
            "labels": {**common, "severity": "warning"},
            "annotations": {"summary": f"{args.app_name}: p99 latency above {args.latency_p99_ms} ms"},
        },
        {
            "alert": "ModelErrorRateHigh",
            "expr": f"100 * {errors} / clamp_min({requests}, 1e-9) > {args.error_5xx_percent:g}",
            "for": duration,
            "labels": {**common, "severity": "critical"},
            "annotations": {"summary": f"{args.app_name}: more than {args.error_5xx_percent:g}% of requests fail"},
        },
        {
            "alert": "ModelNoTraffic",
            "expr": f"absent({args.requests_metric}{{{selector}}}) or {requests} == 0",
            "for": "30m",
            "labels": {**common, "severity": "warning"},
            "annotations": {"summary": f"{args.app_name}: no requests for 30 minutes"},
        },
    ]
