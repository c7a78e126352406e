"""Alerting and a dashboard for one SageMaker endpoint: drift, dropped traffic, health.

What it creates, and why this shape:
- A KMS-encrypted SNS topic (NotificationTopic) that CloudWatch publishes to; its ARN is an
  output so the endpoint's rollback alarms can notify it too.
- The drift alarm, under the caller's deterministic name: the retraining rule
  (`training.drift_event_pattern`) matches exactly that name entering ALARM.
- An invocations-dropped alarm on a CloudWatch anomaly-detection band.
- A dashboard whose body is deterministic JSON (sorted keys, fixed layout).

Metrics used (AWS documentation and observed publishing; the first is the least certain):
- Model Monitor data quality, with `publish_cloudwatch_metrics=Enabled` on the job and
  `emit_metrics: Enabled` in the baseline constraints: namespace
  `aws/sagemaker/Endpoints/data-metrics`, metric `feature_baseline_drift_<feature>` (the
  distance between the baseline and the captured distribution; `<feature>` is the column
  name in the baseline statistics, `_c0`... for header-less CSV), dimensions `Endpoint` and
  `MonitoringSchedule`. One datapoint per monitoring run.
- `AWS/SageMaker`, dimensions `EndpointName` + `VariantName`: Invocations, InvocationsPerInstance,
  Invocation4XXErrors, Invocation5XXErrors, InvocationModelErrors, ModelLatency (microseconds).
- `AWS/Sagemaker/ModelBuildingPipeline` (lower-case "m" in Sagemaker), dimension `PipelineName`:
  ExecutionStarted, ExecutionSucceeded, ExecutionFailed.
Data-capture volume is not a CloudWatch metric (captured files land in S3), so the dashboard
has no widget for it; a text widget says where to look instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from ._policy import child
from .notification_topic import NotificationTopic, NotificationTopicArgs

DRIFT_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
DRIFT_METRIC_PREFIX = "feature_baseline_drift_"
ENDPOINT_NAMESPACE = "AWS/SageMaker"
PIPELINE_NAMESPACE = "AWS/Sagemaker/ModelBuildingPipeline"
# CloudWatch counts at most 10 metrics per alarm, however many expressions combine them.
MAX_METRICS_PER_ALARM = 10
# Seconds between Model Monitor runs, for each cadence `monitoring.CADENCES` accepts.
CADENCE_SECONDS = {"hourly": 3600, "every_6_hours": 21600, "every_12_hours": 43200, "daily": 86400}


@dataclass(frozen=True, kw_only=True)
class DriftMetric:
    """One metric that already aggregates every feature's drift (mlstack's monitor publishes one)."""

    namespace: str
    metric_name: str
    dimensions: Mapping[str, str]
    feature_metric_name: str | None = None
    """Per-feature metric in the same namespace (extra dimension `Feature`), graphed on the dashboard."""


@dataclass(frozen=True, kw_only=True)
class ModelAlertingArgs:
    endpoint_name: str
    """Name of the monitored SageMaker endpoint."""
    variant_name: str
    """Production variant whose invocation metrics are watched and graphed."""
    monitoring_schedule_name: str
    """Model Monitor data-quality schedule publishing the drift metrics."""
    pipeline_name: str
    """SageMaker pipeline (retraining) whose executions the dashboard shows."""
    region: str
    """Region of the endpoint and its metrics (dashboard widgets need it)."""
    account_id: pulumi.Input[str]
    """Account allowed to publish to the alerts topic (confused-deputy guard)."""
    kms_key_arn: pulumi.Input[str]
    """Encrypts the topic; the key policy must let cloudwatch.amazonaws.com use it."""
    topic_name: str
    """Physical name of the alerts SNS topic."""
    drift_alarm_name: str
    """Physical name of the drift alarm; the retraining rule listens for exactly this name."""
    features: Sequence[str] = ()
    """Feature (column) names as Model Monitor names them in the baseline statistics (Model Monitor only)."""
    drift_metric: DriftMetric | None = None
    """Alarm on this aggregated drift metric instead of Model Monitor's per-feature metrics."""
    dashboard_name: str
    """Physical name of the CloudWatch dashboard."""
    subscribers: Sequence[tuple[str, str]] = ()
    """(protocol, endpoint) pairs subscribed to the alerts topic."""
    drift_threshold: float = 0.1
    """Alarm when any feature's baseline drift distance exceeds this (Model Monitor's default)."""
    cadence: str = "hourly"
    """Model Monitor cadence (as in DataQualityMonitorArgs); the drift alarm's period."""
    invocations_alarm_name: str | None = None
    """Physical name of the invocations-dropped alarm; default `<endpoint>-invocations-dropped`."""
    invocations_period_seconds: int = 300
    """Period of the invocations-dropped alarm."""
    invocations_evaluation_periods: int = 3
    """Consecutive low periods before the invocations-dropped alarm fires."""
    anomaly_band_width: float = 2.0
    """Standard deviations of the anomaly-detection band (wider = fewer alarms)."""
    extra_alarm_arns: Sequence[pulumi.Input[str]] = ()
    """Other alarms (e.g. the endpoint's rollback alarms) listed in the alarm-status widget."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every taggable resource."""


def drift_chunks(features: Sequence[str]) -> list[list[str]]:
    """Features in caller order, 10 per alarm: appending a feature touches only the last chunk."""
    return [list(features[i : i + MAX_METRICS_PER_ALARM]) for i in range(0, len(features), MAX_METRICS_PER_ALARM)]


class ModelAlerting(pulumi.ComponentResource):
    topic: NotificationTopic
    topic_arn: pulumi.Output[str]
    drift_parts: list[aws.cloudwatch.MetricAlarm]
    drift_alarm: aws.cloudwatch.CompositeAlarm
    invocations_alarm: aws.cloudwatch.MetricAlarm
    dashboard: aws.cloudwatch.Dashboard

    def __init__(self, name: str, args: ModelAlertingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlstack:monitoring:ModelAlerting", name, None, opts)
        if args.cadence not in CADENCE_SECONDS:
            raise ValueError(f"cadence must be one of {', '.join(CADENCE_SECONDS)}")
        if args.drift_metric is None and (not args.features or len(set(args.features)) != len(args.features)):
            raise ValueError("features must be a non-empty list of distinct names (or give drift_metric)")
        self.topic = NotificationTopic(
            f"{name}-alerts",
            NotificationTopicArgs(
                topic_name=args.topic_name,
                kms_key_arn=args.kms_key_arn,
                account_id=args.account_id,
                publishers=["cloudwatch.amazonaws.com"],
                subscribers=args.subscribers,
                tags=args.tags,
            ),
            opts=child(self),
        )
        self.topic_arn = self.topic.arn
        self.drift_parts, self.drift_alarm = self._drift(name, args)
        self.invocations_alarm = self._invocations(name, args)
        self.dashboard = self._dashboard(name, args)
        self.register_outputs(
            {
                "topic_arn": self.topic_arn,
                "drift_alarm_name": self.drift_alarm.alarm_name,
                "drift_alarm_arn": self.drift_alarm.arn,
                "invocations_alarm_arn": self.invocations_alarm.arn,
                "dashboard_name": self.dashboard.dashboard_name,
            }
        )

    def _drift(
        self, name: str, args: ModelAlertingArgs
    ) -> tuple[list[aws.cloudwatch.MetricAlarm], aws.cloudwatch.CompositeAlarm]:
        # The 10-metric limit is per alarm, so one alarm cannot MAX more features even through
        # nested expressions. Each chunk of 10 gets a metric alarm (MAX over its features) and a
        # composite alarm under the caller's name ORs them. The composite is used even for one
        # chunk: crossing 10 features then adds a part instead of swapping a metric alarm for a
        # composite of the same name (which would collide during create-before-delete).
        #
        # Cool-down: the period is the monitor cadence and missing data is ignored, so a part
        # keeps its state between runs (and while the endpoint is idle). One drift episode is one
        # OK->ALARM transition of the composite, however many parts fire: one retraining start.
        # It returns to OK only after a run with no drift on any feature.
        period = CADENCE_SECONDS[args.cadence]
        dims = {"Endpoint": args.endpoint_name, "MonitoringSchedule": args.monitoring_schedule_name}
        parts = []
        # (what a part watches, its metrics as (label, namespace, name, dimensions)): Model Monitor
        # publishes one metric per feature, 10 per part; mlstack's monitor one maximum for all.
        source = args.drift_metric
        groups: list[tuple[list[str], list[tuple[str, str, str, Mapping[str, str]]]]] = (
            [
                (chunk, [(f, DRIFT_NAMESPACE, f"{DRIFT_METRIC_PREFIX}{f}", dims) for f in chunk])
                for chunk in drift_chunks(args.features)
            ]
            if source is None
            else [(["all features"], [(source.metric_name, source.namespace, source.metric_name, source.dimensions)])]
        )
        for index, (chunk, metrics) in enumerate(groups):
            queries: list[dict[str, Any]] = [
                {
                    "id": f"f{i}",
                    "label": label,
                    "return_data": False,
                    "metric": {
                        "namespace": namespace,
                        "metric_name": metric,
                        "dimensions": dict(dimensions),
                        "period": period,
                        "stat": "Maximum",  # one datapoint per run; Maximum is safe if a run repeats
                    },
                }
                for i, (label, namespace, metric, dimensions) in enumerate(metrics)
            ]
            ids = ", ".join(q["id"] for q in queries)
            queries.append({"id": "drift", "expression": f"MAX([{ids}])", "label": "max drift", "return_data": True})
            parts.append(
                aws.cloudwatch.MetricAlarm(
                    f"{name}-drift-part-{index}",
                    name=f"{args.drift_alarm_name}-part-{index}",
                    alarm_description=f"max baseline drift of {', '.join(chunk)} on {args.endpoint_name}",
                    metric_queries=queries,
                    threshold=args.drift_threshold,
                    comparison_operator="GreaterThanThreshold",
                    evaluation_periods=1,
                    datapoints_to_alarm=1,
                    treat_missing_data="ignore",
                    # Parts do not notify: the composite does, once per episode.
                    tags=dict(args.tags),
                    opts=child(self),
                )
            )
        composite = aws.cloudwatch.CompositeAlarm(
            f"{name}-drift",
            alarm_name=args.drift_alarm_name,
            alarm_description=f"feature drift on {args.endpoint_name} above {args.drift_threshold}; starts retraining",
            alarm_rule=" OR ".join(f'ALARM("{args.drift_alarm_name}-part-{i}")' for i in range(len(parts))),
            actions_enabled=True,
            alarm_actions=[self.topic_arn],
            ok_actions=[self.topic_arn],
            tags=dict(args.tags),
            # The rule names the parts as plain strings: they must exist first.
            opts=child(self, depends_on=list(parts)),
        )
        return parts, composite

    def _invocations(self, name: str, args: ModelAlertingArgs) -> aws.cloudwatch.MetricAlarm:
        # "Zero invocations for N periods during business hours" needs a schedule a plain alarm
        # does not have; an anomaly-detection band learns the daily and weekly seasonality, so a
        # drop at 10:00 on a Tuesday alarms while the quiet night does not. FILL(m1, 0) turns
        # periods without datapoints (SageMaker may publish none when idle) into zeros so the
        # model learns the quiet hours and a total outage still lands below the band.
        name_ = args.invocations_alarm_name or f"{args.endpoint_name}-invocations-dropped"
        return aws.cloudwatch.MetricAlarm(
            f"{name}-invocations-dropped",
            name=name_,
            alarm_description=f"invocations of {args.endpoint_name} below their expected band",
            metric_queries=[
                {
                    "id": "m1",
                    "return_data": False,
                    "metric": {
                        "namespace": ENDPOINT_NAMESPACE,
                        "metric_name": "Invocations",
                        "dimensions": {"EndpointName": args.endpoint_name, "VariantName": args.variant_name},
                        "period": args.invocations_period_seconds,
                        "stat": "Sum",
                    },
                },
                {"id": "e1", "expression": "FILL(m1, 0)", "label": "Invocations", "return_data": True},
                {
                    "id": "ad1",
                    "expression": f"ANOMALY_DETECTION_BAND(e1, {args.anomaly_band_width:g})",
                    "label": "Invocations (expected)",
                    "return_data": True,
                },
            ],
            threshold_metric_id="ad1",
            comparison_operator="LessThanLowerThreshold",
            evaluation_periods=args.invocations_evaluation_periods,
            datapoints_to_alarm=args.invocations_evaluation_periods,
            # Still no data after FILL means no datapoint at all: no traffic, which is the drop.
            treat_missing_data="breaching",
            alarm_actions=[self.topic_arn],
            ok_actions=[self.topic_arn],
            tags=dict(args.tags),
            opts=child(self),
        )

    def _dashboard(self, name: str, args: ModelAlertingArgs) -> aws.cloudwatch.Dashboard:
        own = [self.drift_alarm.arn, self.invocations_alarm.arn]
        body = pulumi.Output.all(*own, *args.extra_alarm_arns).apply(
            lambda arns: dashboard_body(args, [str(a) for a in arns])
        )
        return aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.dashboard_name,
            dashboard_body=body,
            opts=child(self),  # dashboards take no tags
        )


def dashboard_body(args: ModelAlertingArgs, alarm_arns: Sequence[str]) -> str:
    """The dashboard JSON: a two-column grid, in a fixed order, keys sorted."""
    ep = ["EndpointName", args.endpoint_name, "VariantName", args.variant_name]
    pipe = ["PipelineName", args.pipeline_name]
    mon = ["Endpoint", args.endpoint_name, "MonitoringSchedule", args.monitoring_schedule_name]

    def metric(title: str, metrics: list[list[Any]], stat: str = "Sum", **extra: Any) -> dict[str, Any]:
        props = {"title": title, "region": args.region, "metrics": metrics, "stat": stat, "period": 300}
        return {"type": "metric", "properties": {**props, **extra}}

    latency = [
        [ENDPOINT_NAMESPACE, "ModelLatency", *ep, {"stat": p, "label": f"ModelLatency {p} (µs)"}]
        for p in ("p50", "p90", "p99")
    ]
    drift: list[Any] = [[DRIFT_NAMESPACE, f"{DRIFT_METRIC_PREFIX}{f}", *mon, {"label": f}] for f in args.features]
    source = args.drift_metric
    if source is not None:
        dims = [part for item in sorted(source.dimensions.items()) for part in item]
        drift = [[source.namespace, source.metric_name, *dims, {"label": "max over features"}]]
        if source.feature_metric_name:
            filters = " ".join(f'{k}="{v}"' for k, v in sorted(source.dimensions.items()))
            keys = ",".join([*sorted(source.dimensions), "Feature"])
            search = (
                f"SEARCH('{{{source.namespace},{keys}}} MetricName=\"{source.feature_metric_name}\" {filters}', "
                f"'Maximum', {CADENCE_SECONDS[args.cadence]})"
            )
            drift.append([{"expression": search, "label": "per feature", "id": "features"}])
    widgets: list[dict[str, Any]] = [
        metric("Invocations", [[ENDPOINT_NAMESPACE, "Invocations", *ep]]),
        metric("Model latency (microseconds)", latency, stat="p99", yAxis={"left": {"label": "µs"}}),
        metric(
            "Errors: 4xx, 5xx, model",
            [
                [ENDPOINT_NAMESPACE, "Invocation4XXErrors", *ep],
                [ENDPOINT_NAMESPACE, "Invocation5XXErrors", *ep],
                [ENDPOINT_NAMESPACE, "InvocationModelErrors", *ep],
            ],
        ),
        metric("Invocations per instance", [[ENDPOINT_NAMESPACE, "InvocationsPerInstance", *ep]]),
        metric(
            f"Feature baseline drift (threshold {args.drift_threshold:g})",
            drift,
            stat="Maximum",
            period=CADENCE_SECONDS[args.cadence],
            annotations={"horizontal": [{"label": "drift threshold", "value": args.drift_threshold}]},
        ),
        metric(
            f"Pipeline {args.pipeline_name} executions (last day)",
            [[PIPELINE_NAMESPACE, m, *pipe] for m in ("ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed")],
            period=86400,
            view="singleValue",
        ),
        {"type": "alarm", "properties": {"title": "Alarms", "alarms": sorted(alarm_arns)}},
        {
            "type": "text",
            "properties": {
                "markdown": f"Data-capture volume is not a CloudWatch metric: see the capture prefix in S3 for "
                f"`{args.endpoint_name}`."
            },
        },
    ]
    for index, widget in enumerate(widgets):
        widget.update(x=(index % 2) * 12, y=(index // 2) * 6, width=12, height=6)
    return json.dumps({"widgets": widgets}, sort_keys=True)
