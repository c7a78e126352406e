"""PrometheusMonitoring under mocks: the ServiceMonitor and the alert rules, checked against a schema."""

from __future__ import annotations

import jsonschema

from mlstack.components.k8s_monitoring import PrometheusMonitoring, PrometheusMonitoringArgs
from mlstack.plan.synth import record

# The fields of the Prometheus Operator CRDs (monitoring.coreos.com/v1) this component sets.
_METADATA = {
    "type": "object",
    "required": ["name", "namespace"],
    "properties": {"name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"}},
}
SERVICE_MONITOR = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "endpoints"],
            "properties": {
                "selector": {"type": "object", "required": ["matchLabels"]},
                "namespaceSelector": {"type": "object"},
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string", "pattern": "^/"},
                            "interval": {"type": "string", "pattern": "^[0-9]+(s|m)$"},
                        },
                    },
                },
            },
        },
    },
}
PROMETHEUS_RULE = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "kind": {"const": "PrometheusRule"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "required": ["groups"],
            "properties": {
                "groups": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "rules"],
                        "properties": {
                            "rules": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["alert", "expr"],
                                    "properties": {
                                        "alert": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                                        "expr": {"type": "string", "minLength": 1},
                                        "for": {"type": "string", "pattern": "^[0-9]+(s|m|h)$"},
                                        "labels": {"type": "object"},
                                        "annotations": {"type": "object"},
                                    },
                                },
                            }
                        },
                    },
                }
            },
        },
    },
}


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


def test_manifests_validate() -> None:
    objects = _objects()
    jsonschema.validate(objects["ServiceMonitor"], SERVICE_MONITOR)
    jsonschema.validate(objects["PrometheusRule"], PROMETHEUS_RULE)


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
    try:
        jsonschema.validate(rule, PROMETHEUS_RULE)
    except jsonschema.ValidationError as error:
        assert "five minutes" in error.message
    else:
        raise AssertionError("the schema accepted an invalid duration")
