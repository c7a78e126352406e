"""PrometheusMonitoring under mocks: the ServiceMonitor and the alert rules, validated against the
Prometheus Operator's published CRD schemas (tests/fixtures/crds/, strict: tests/crd_schemas.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlstack.components.k8s_monitoring import PrometheusMonitoring, PrometheusMonitoringArgs
from mlstack.plan.synth import record
from tests import crd_schemas


def _objects() -> dict[str, dict]:
    args = PrometheusMonitoringArgs(
        namespace="merchant-risk",
        app_name="merchant-risk",
        latency_p99_ms=250,
        error_5xx_percent=0.5,
        labels={"release": "kube-prometheus"},
    )
    resources, _ = record(lambda: PrometheusMonitoring("risk", args))
    return {r.inputs["kind"]: r.inputs for r in resources if r.custom}


@pytest.mark.parametrize("kind", ["ServiceMonitor", "PrometheusRule"])
def test_manifests_validate_against_the_prometheus_operator_crds(kind: str) -> None:
    assert crd_schemas.errors(_objects()[kind]) == []


def _mutated(manifest: dict[str, Any], path: str, to: str) -> dict[str, Any]:
    """A deep copy of `manifest` with the key at `path` (dot-separated, list indices) renamed to `to`."""
    copy = json.loads(json.dumps(manifest))
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node = copy
    for part in parents:
        node = node[part]
    node[to] = node.pop(last)
    return copy


@pytest.mark.parametrize(
    ("kind", "path", "typo"),
    [
        ("ServiceMonitor", "spec.endpoints.0.interval", "intervall"),
        ("ServiceMonitor", "spec.namespaceSelector", "namespaceSelectors"),
        ("ServiceMonitor", "spec.selector.matchLabels", "matchLabel"),
        ("PrometheusRule", "spec.groups.0.rules.0.for", "fro"),
        ("PrometheusRule", "spec.groups", "group"),
        ("PrometheusRule", "metadata.labels", "label"),
    ],
)
def test_one_misspelt_field_fails_the_crd(kind: str, path: str, typo: str) -> None:
    """The real manifest passes; the same manifest with one key misspelt fails, at that key."""
    problems = crd_schemas.errors(_mutated(_objects()[kind], path, typo))
    assert len(problems) == 1 and f"'{typo}' was unexpected" in problems[0], problems


def test_service_monitor_scrapes_the_serving_port() -> None:
    monitor = _objects()["ServiceMonitor"]
    assert monitor["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "merchant-risk"}}
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus"


def test_alert_thresholds_come_from_the_args() -> None:
    rules = {r["alert"]: r for r in _objects()["PrometheusRule"]["spec"]["groups"][0]["rules"]}
    assert set(rules) == {"ModelLatencyP99High", "ModelErrorRateHigh", "ModelNoTraffic"}
    assert rules["ModelLatencyP99High"]["expr"].endswith("> 0.25")
    assert "histogram_quantile(0.99" in rules["ModelLatencyP99High"]["expr"]
    assert rules["ModelErrorRateHigh"]["expr"].endswith("> 0.5")
    assert 'status=~"5.."' in rules["ModelErrorRateHigh"]["expr"]


def test_a_broken_rule_fails_the_schema() -> None:
    rule = _objects()["PrometheusRule"]
    rule["spec"]["groups"][0]["rules"][0]["for"] = "five minutes"
    (problem,) = crd_schemas.errors(rule)
    assert problem.startswith("$.spec.groups[0].rules[0].for: 'five minutes' does not match"), problem
