"""The ModelAlerting component under mocks: topic, drift alarm, dropped traffic, dashboard."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from mlstack.components.alerting import CADENCE_SECONDS, ModelAlerting, ModelAlertingArgs
from mlstack.components.monitoring import CADENCES
from mlstack.components.training import drift_event_pattern
from mlstack.plan.synth import RecordedResource, record
from mlstack.policies.rules.tagging import is_taggable

KEY = "arn:aws:kms:eu-west-1:123456789012:key/k"
TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:demo-prod-scorer-alerts"
TAGS = {"owner": "ml@example.com"}
FEATURES = ["age", "income", "tenure"]

# Enough of the CloudWatch dashboard body structure to catch layout and typing mistakes.
_POSITION = {
    "x": {"type": "integer", "minimum": 0, "maximum": 23},
    "y": {"type": "integer", "minimum": 0},
    "width": {"type": "integer", "minimum": 1, "maximum": 24},
    "height": {"type": "integer", "minimum": 1, "maximum": 1000},
}
DASHBOARD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["widgets"],
    "additionalProperties": False,
    "properties": {
        "widgets": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["type", "x", "y", "width", "height", "properties"],
                "properties": {"type": {"enum": ["metric", "alarm", "text"]}, **_POSITION},
                "allOf": [
                    {
                        "if": {"properties": {"type": {"const": "metric"}}},
                        "then": {
                            "properties": {
                                "properties": {
                                    "type": "object",
                                    "required": ["metrics", "region", "title"],
                                    "properties": {
                                        "title": {"type": "string", "minLength": 1},
                                        "region": {"type": "string", "pattern": "^[a-z]{2}(-[a-z]+)+-[0-9]$"},
                                        "metrics": {
                                            "type": "array",
                                            "minItems": 1,
                                            "items": {
                                                "type": "array",
                                                "minItems": 2,
                                                "prefixItems": [{"type": "string"}],
                                            },
                                        },
                                    },
                                }
                            }
                        },
                    },
                    {
                        "if": {"properties": {"type": {"const": "alarm"}}},
                        "then": {
                            "properties": {
                                "properties": {
                                    "type": "object",
                                    "required": ["alarms", "title"],
                                    "properties": {"alarms": {"type": "array", "minItems": 1, "maxItems": 100}},
                                }
                            }
                        },
                    },
                    {
                        "if": {"properties": {"type": {"const": "text"}}},
                        "then": {"properties": {"properties": {"type": "object", "required": ["markdown"]}}},
                    },
                ],
            },
        }
    },
}


def _args(**overrides: object) -> ModelAlertingArgs:
    values: dict[str, object] = {
        "endpoint_name": "demo-prod-scorer",
        "variant_name": "primary",
        "monitoring_schedule_name": "demo-prod-scorer-data-quality",
        "pipeline_name": "demo-prod-scorer-training",
        "region": "eu-west-1",
        "account_id": "123456789012",
        "kms_key_arn": KEY,
        "topic_name": "demo-prod-scorer-alerts",
        "drift_alarm_name": "demo-prod-scorer-drift",
        "features": FEATURES,
        "dashboard_name": "demo-prod-scorer",
        "subscribers": [("email", "oncall@example.com"), ("https", "https://hooks.example.com/x")],
        "extra_alarm_arns": ["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:demo-prod-scorer-latency-p99"],
        "tags": TAGS,
    }
    values.update(overrides)
    return ModelAlertingArgs(**values)  # type: ignore[arg-type]


def _run(args: ModelAlertingArgs) -> dict[str, RecordedResource]:
    resources, _ = record(lambda: ModelAlerting("scorer", args))
    return {r.name: r for r in resources}


@pytest.fixture(scope="module")
def plan() -> dict[str, RecordedResource]:
    return _run(_args())


def _by_type(plan: dict[str, RecordedResource], type_: str) -> list[RecordedResource]:
    return [r for r in plan.values() if r.type == type_]


def test_component_type_and_children_are_parented(plan: dict[str, RecordedResource]) -> None:
    component, topic = plan["scorer"], plan["scorer-alerts"]
    assert component.type == "mlstack:monitoring:ModelAlerting"
    assert topic.parent == component.urn
    for resource in plan.values():
        if resource not in (component, topic):
            assert resource.parent in (component.urn, topic.urn), resource.name


def test_topic_is_kms_encrypted_cloudwatch_publishes_and_subscribers_are_wired(
    plan: dict[str, RecordedResource],
) -> None:
    topic = plan["scorer-alerts-topic"]
    assert topic.inputs["kmsMasterKeyId"] == KEY
    assert topic.inputs["name"] == "demo-prod-scorer-alerts"
    policy = json.loads(plan["scorer-alerts-policy"].inputs["policy"])
    assert policy["Statement"][0]["Principal"] == {"Service": ["cloudwatch.amazonaws.com"]}
    subs = sorted(
        (s.inputs["protocol"], s.inputs["endpoint"])
        for s in _by_type(plan, "aws:sns/topicSubscription:TopicSubscription")
    )
    assert subs == [("email", "oncall@example.com"), ("https", "https://hooks.example.com/x")]


def test_drift_alarm_has_the_given_name_and_notifies_on_both_transitions(plan: dict[str, RecordedResource]) -> None:
    drift = plan["scorer-drift"]
    assert drift.type == "aws:cloudwatch/compositeAlarm:CompositeAlarm"
    assert drift.inputs["alarmName"] == "demo-prod-scorer-drift"
    assert drift.inputs["alarmRule"] == 'ALARM("demo-prod-scorer-drift-part-0")'
    for key in ("alarmActions", "okActions"):
        assert drift.inputs[key] == [TOPIC_ARN]
    # The retraining rule matches this very name.
    assert json.loads(drift_event_pattern("demo-prod-scorer-drift"))["detail"]["alarmName"] == [
        drift.inputs["alarmName"]
    ]


def test_drift_part_takes_max_of_every_feature_metric(plan: dict[str, RecordedResource]) -> None:
    part = plan["scorer-drift-part-0"]
    assert part.inputs["name"] == "demo-prod-scorer-drift-part-0"
    assert part.inputs["threshold"] == 0.1
    assert part.inputs["comparisonOperator"] == "GreaterThanThreshold"
    assert part.inputs["evaluationPeriods"] == 1
    assert part.inputs["treatMissingData"] == "ignore"
    assert "alarmActions" not in part.inputs or not part.inputs["alarmActions"]
    queries = part.inputs["metricQueries"]
    metrics = [q for q in queries if "metric" in q]
    assert [m["metric"]["metricName"] for m in metrics] == [f"feature_baseline_drift_{f}" for f in FEATURES]
    for m in metrics:
        assert m["metric"]["namespace"] == "aws/sagemaker/Endpoints/data-metrics"
        assert m["metric"]["dimensions"] == {
            "Endpoint": "demo-prod-scorer",
            "MonitoringSchedule": "demo-prod-scorer-data-quality",
        }
        assert m["metric"]["period"] == 3600
        assert m["returnData"] is False
    (expression,) = [q for q in queries if q.get("returnData")]
    assert expression["expression"] == "MAX([f0, f1, f2])"


def test_daily_cadence_sets_the_period_and_cadences_match_the_monitor() -> None:
    assert set(CADENCE_SECONDS) == set(CADENCES)
    part = _run(_args(cadence="daily"))["scorer-drift-part-0"]
    assert {q["metric"]["period"] for q in part.inputs["metricQueries"] if "metric" in q} == {86400}
    with pytest.raises(ValueError, match="cadence"):
        _run(_args(cadence="weekly"))


def test_more_than_ten_features_are_chunked_into_parts_ored_by_the_composite() -> None:
    features = [f"x{i}" for i in range(23)]
    plan = _run(_args(features=features))
    parts = sorted(_by_type(plan, "aws:cloudwatch/metricAlarm:MetricAlarm"), key=lambda r: r.name)
    parts = [p for p in parts if "drift-part" in p.name]
    assert [p.name for p in parts] == [f"scorer-drift-part-{i}" for i in range(3)]
    seen: list[str] = []
    for part in parts:
        metrics = [q for q in part.inputs["metricQueries"] if "metric" in q]
        assert len(metrics) <= 10
        seen += [m["metric"]["metricName"].removeprefix("feature_baseline_drift_") for m in metrics]
    assert seen == features
    rule = plan["scorer-drift"].inputs["alarmRule"]
    assert rule == " OR ".join(f'ALARM("demo-prod-scorer-drift-part-{i}")' for i in range(3))
    assert {p.urn for p in parts} <= set(plan["scorer-drift"].dependencies)


def test_invocations_dropped_uses_an_anomaly_band_below_the_lower_threshold(plan: dict[str, RecordedResource]) -> None:
    alarm = plan["scorer-invocations-dropped"]
    assert alarm.inputs["name"] == "demo-prod-scorer-invocations-dropped"
    assert alarm.inputs["comparisonOperator"] == "LessThanLowerThreshold"
    assert alarm.inputs["thresholdMetricId"] == "ad1"
    queries = {q["id"]: q for q in alarm.inputs["metricQueries"]}
    assert queries["ad1"]["expression"] == "ANOMALY_DETECTION_BAND(e1, 2)"
    assert queries["e1"]["expression"] == "FILL(m1, 0)"
    m1 = queries["m1"]["metric"]
    assert (m1["namespace"], m1["metricName"], m1["stat"]) == ("AWS/SageMaker", "Invocations", "Sum")
    assert m1["dimensions"] == {"EndpointName": "demo-prod-scorer", "VariantName": "primary"}
    assert "threshold" not in alarm.inputs
    assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] == [TOPIC_ARN]


def _body(plan: dict[str, RecordedResource]) -> dict[str, Any]:
    dashboard = plan["scorer-dashboard"]
    assert dashboard.inputs["dashboardName"] == "demo-prod-scorer"
    raw = dashboard.inputs["dashboardBody"]
    body = json.loads(raw)
    assert raw == json.dumps(body, sort_keys=True)  # deterministic: keys sorted
    return body


def test_dashboard_body_validates_against_the_schema(plan: dict[str, RecordedResource]) -> None:
    body = _body(plan)
    jsonschema.validate(body, DASHBOARD_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"widgets": [{**body["widgets"][0], "x": 30}]}, DASHBOARD_SCHEMA)
    assert _run(_args())["scorer-dashboard"].inputs["dashboardBody"] == plan["scorer-dashboard"].inputs["dashboardBody"]


def test_every_widget_references_the_right_endpoint_pipeline_and_alarms(plan: dict[str, RecordedResource]) -> None:
    widgets = _body(plan)["widgets"]
    titles = {w["properties"].get("title"): w for w in widgets}
    for widget in widgets:
        if widget["type"] == "metric":
            assert widget["properties"]["region"] == "eu-west-1"
            for line in widget["properties"]["metrics"]:
                dims = dict(zip(line[2::2], line[3::2], strict=False))
                if line[0] == "AWS/SageMaker":
                    assert dims == {"EndpointName": "demo-prod-scorer", "VariantName": "primary"}
                elif line[0] == "aws/sagemaker/Endpoints/data-metrics":
                    assert dims["Endpoint"] == "demo-prod-scorer"
                    assert dims["MonitoringSchedule"] == "demo-prod-scorer-data-quality"
                else:
                    assert line[0] == "AWS/Sagemaker/ModelBuildingPipeline"
                    assert dims == {"PipelineName": "demo-prod-scorer-training"}
    latency = titles["Model latency (microseconds)"]["properties"]["metrics"]
    assert [m[-1]["stat"] for m in latency] == ["p50", "p90", "p99"]
    assert all("µs" in m[-1]["label"] for m in latency)
    pipeline = next(w for w in widgets if "Pipeline" in str(w["properties"].get("title")))
    assert [m[1] for m in pipeline["properties"]["metrics"]] == [
        "ExecutionStarted",
        "ExecutionSucceeded",
        "ExecutionFailed",
    ]
    drift = next(w for w in widgets if "drift" in str(w["properties"].get("title")))
    assert [m[1] for m in drift["properties"]["metrics"]] == [f"feature_baseline_drift_{f}" for f in FEATURES]
    (alarms,) = [w for w in widgets if w["type"] == "alarm"]
    listed = alarms["properties"]["alarms"]
    assert any(a.endswith("demo-prod-scorer-latency-p99") for a in listed)
    assert any("demo-prod-scorer-drift" in a for a in listed)
    assert any("demo-prod-scorer-invocations-dropped" in a for a in listed)
    assert not any(
        "capture" in str(m).lower() for w in widgets if w["type"] == "metric" for m in w["properties"]["metrics"]
    )


def test_every_taggable_resource_is_tagged(plan: dict[str, RecordedResource]) -> None:
    taggable = [r for r in plan.values() if r.custom and is_taggable(r.type)]
    assert len(taggable) >= 4
    for resource in taggable:
        assert resource.inputs.get("tags") == TAGS, resource.name


def test_invalid_features_are_refused() -> None:
    for features in ([], ["a", "a"]):
        with pytest.raises(ValueError, match="features"):
            _run(_args(features=features))
