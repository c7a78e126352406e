"""Stack rules: relations between resources (monitoring, provenance, continuous training).

Resources are matched by the physical names in their props (endpoint name, model name,
group name, pipeline name/ARN), never by URN. One resource's unknown value only stops a
rule when the answer depends on it: evidence is gathered first, and an unknown piece is
raised (reported as "not evaluated") only if nothing known already satisfies the check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    Severity,
    StackValidationArgs,
)
from pulumi_policy.proxy import UnknownValueError

from ._base import Meta, as_list, get, stack_rule
from .sagemaker_jobs import (
    DATA_QUALITY_JOB,
    MONITORING_SCHEDULE,
    PIPELINE,
    pipeline_definition,
    pipeline_steps,
    present,
    resolve,
)
from .sagemaker_serving import ENDPOINT, ENDPOINT_CONFIG, MODEL

METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
PACKAGE_GROUP = "aws:sagemaker/modelPackageGroup:ModelPackageGroup"
SCHEDULE = "aws:scheduler/schedule:Schedule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
DEFAULT_REQUIRED_METRICS = ["ModelLatency", "Invocation5XXErrors"]


class _Evidence:
    """Values read from many resources; an unknown one matters only if a lookup misses."""

    def __init__(self) -> None:
        self.values: set[Any] = set()
        self.unknown: UnknownValueError | None = None

    def add(self, read: Callable[[], Iterable[Any]]) -> None:
        try:
            self.values.update(read())
        except UnknownValueError as unknown:
            self.unknown = self.unknown or unknown

    def has(self, value: Any) -> bool:
        if value in self.values:
            return True
        if self.unknown is not None:
            raise self.unknown
        return False


def _of(args: StackValidationArgs, type_: str) -> Iterator[PolicyResource]:
    return (r for r in args.resources if r.resource_type == type_)


def _name(resource: PolicyResource, key: str) -> str:
    value = get(resource.props, key)
    return value if isinstance(value, str) and value else resource.name


# --- endpoint-monitored -------------------------------------------------------------------
def _watched_endpoints(args: StackValidationArgs) -> _Evidence:
    jobs: dict[str, list[Any]] = {}
    evidence = _Evidence()
    for job in _of(args, DATA_QUALITY_JOB):

        def read_job(job: PolicyResource = job) -> list[Any]:
            name = get(job.props, "name")
            if isinstance(name, str):
                jobs.setdefault(name, []).append(get(job.props, "dataQualityJobInput", "endpointInput", "endpointName"))
            return []

        evidence.add(read_job)
    for schedule in _of(args, MONITORING_SCHEDULE):

        def read_schedule(schedule: PolicyResource = schedule) -> list[Any]:
            config = get(schedule.props, "monitoringScheduleConfig")
            inputs = as_list(get(config, "monitoringJobDefinition", "monitoringInputs"))
            job_name = get(config, "monitoringJobDefinitionName")
            named = jobs.get(job_name, []) if isinstance(job_name, str) else []
            found = [*(get(i, "endpointInput", "endpointName") for i in inputs), *named]
            return [name for name in found if isinstance(name, str)]

        evidence.add(read_schedule)
    for pipeline in _of(args, PIPELINE):

        def read_pipeline(pipeline: PolicyResource = pipeline) -> list[Any]:
            # mlstack's drift monitor: a step that reads an endpoint's capture (…/data-capture/<model>/<endpoint>/).
            steps = pipeline_steps(pipeline_definition(pipeline.props))
            uris = [get(s, "Arguments", "CaptureS3Uri") for s in steps if s.get("Type") == "Lambda"]
            return [uri.rstrip("/").rsplit("/", 1)[-1] for uri in uris if isinstance(uri, str) and uri.rstrip("/")]

        evidence.add(read_pipeline)
    return evidence


def _alarmed_metrics(args: StackValidationArgs) -> _Evidence:
    """(endpoint name, metric name) of every AWS/SageMaker metric an alarm watches, math included."""
    evidence = _Evidence()
    for alarm in _of(args, METRIC_ALARM):

        def read(alarm: PolicyResource = alarm) -> list[tuple[Any, Any]]:
            metrics = [alarm.props, *(get(q, "metric") for q in as_list(get(alarm.props, "metricQueries")))]
            pairs = [
                (get(m, "dimensions", "EndpointName"), get(m, "metricName"))
                for m in metrics
                if get(m, "namespace") == "AWS/SageMaker"
            ]
            return [(e, n) for e, n in pairs if isinstance(e, str) and isinstance(n, str)]

        evidence.add(read)
    return evidence


def _endpoint_monitored(args: StackValidationArgs, report: ReportViolation) -> None:
    endpoints = list(_of(args, ENDPOINT))
    if not endpoints:
        return
    required = [str(m) for m in as_list(args.get_config().get("requiredMetrics", DEFAULT_REQUIRED_METRICS))]
    watched, alarmed = _watched_endpoints(args), _alarmed_metrics(args)
    for endpoint in endpoints:
        name = _name(endpoint, "name")
        if not watched.has(name):
            report(f"endpoint {name} has no monitoring schedule watching it", endpoint.urn)
        missing = [metric for metric in required if not alarmed.has((name, metric))]
        if missing:
            report(f"endpoint {name} has no AWS/SageMaker alarm on {', '.join(missing)}", endpoint.urn)


# --- endpoint-deploys-model-package -----------------------------------------------------------
def _package_problems(props: Any) -> Iterator[str]:
    containers = [("primaryContainer", get(props, "primaryContainer"))]
    containers += [(f"containers[{i}]", c) for i, c in enumerate(as_list(get(props, "containers")))]
    containers = [(label, c) for label, c in containers if isinstance(c, Mapping)]
    if not containers:
        yield "has no container naming a model package (primaryContainer.modelPackageName)"
    for label, container in containers:
        if not present(get(container, "modelPackageName")):
            yield f"{label} deploys a raw image or model artifact, not a registered model package (modelPackageName)"
            continue
        raw = [key for key in ("image", "modelDataUrl", "modelDataSource") if get(container, key)]
        if raw:
            yield f"{label} overrides its model package with {', '.join(raw)}"


def _deploys_model_package(args: StackValidationArgs, report: ReportViolation) -> None:
    models: dict[Any, PolicyResource] = {}
    known = _Evidence()
    for model in _of(args, MODEL):

        def read(model: PolicyResource = model) -> list[Any]:
            name = get(model.props, "name")
            if not isinstance(name, str):
                return []
            models[name] = model
            return [name]

        known.add(read)
    checked: set[str] = set()
    for config in _of(args, ENDPOINT_CONFIG):
        for index, variant in enumerate(as_list(get(config.props, "productionVariants")), start=1):
            model_name = get(variant, "modelName")
            if not isinstance(model_name, str) or model_name in checked:
                continue
            checked.add(model_name)
            model = models.get(model_name)
            if model is None:
                known.has(model_name)  # raises if an unknown model name could have matched
                label = get(variant, "variantName") or f"#{index}"
                report(
                    f"variant {label} of endpoint configuration {_name(config, 'name')} serves model "
                    f"{model_name}, which this stack does not define",
                    config.urn,
                )
                continue
            for problem in _package_problems(model.props):
                report(f"model {model_name} {problem}", model.urn)


# --- continuous training -------------------------------------------------------------------
def _registered_groups(args: StackValidationArgs) -> _Evidence:
    evidence = _Evidence()
    for pipeline in _of(args, PIPELINE):

        def read(pipeline: PolicyResource = pipeline) -> list[str]:
            definition = pipeline_definition(pipeline.props)
            groups = [
                resolve(get(step, "Arguments", "ModelPackageGroupName"), definition)
                for step in pipeline_steps(definition)
                if step.get("Type") == "RegisterModel"
            ]
            # A group ARN ends in "model-package-group/<name>".
            return [g.rsplit("/", 1)[-1] for g in groups if isinstance(g, str)]

        evidence.add(read)
    return evidence


def _has_training_pipeline(args: StackValidationArgs, report: ReportViolation) -> None:
    groups = list(_of(args, PACKAGE_GROUP))
    registered = _registered_groups(args) if groups else _Evidence()
    for group in groups:
        name = _name(group, "modelPackageGroupName")
        if not registered.has(name):
            report(f"model package group {name} has no pipeline that registers versions into it", group.urn)


def _pipeline_triggers(args: StackValidationArgs) -> _Evidence:
    """Lower-cased names of the pipelines a schedule or an EventBridge rule starts."""
    evidence = _Evidence()
    for resource in (*_of(args, SCHEDULE), *_of(args, EVENT_TARGET)):

        def read(resource: PolicyResource = resource) -> list[str]:
            if resource.resource_type == SCHEDULE:
                if str(get(resource.props, "state") or "").upper() == "DISABLED":
                    return []
                arn = get(resource.props, "target", "arn")
            else:
                arn = get(resource.props, "arn")
            return [arn.lower().split(":pipeline/", 1)[1]] if isinstance(arn, str) and ":pipeline/" in arn else []

        evidence.add(read)
    return evidence


def _trains(pipeline: PolicyResource) -> bool:
    """A pipeline that registers model versions (a monitoring pipeline does not); unreadable counts."""
    definition = pipeline_definition(pipeline.props)
    return definition is None or any(s.get("Type") == "RegisterModel" for s in pipeline_steps(definition))


def _has_retraining_trigger(args: StackValidationArgs, report: ReportViolation) -> None:
    pipelines = [p for p in _of(args, PIPELINE) if _trains(p)]
    triggers = _pipeline_triggers(args) if pipelines else _Evidence()
    for pipeline in pipelines:
        name = _name(pipeline, "pipelineName")
        if not triggers.has(name.lower()):  # SageMaker lower-cases names in pipeline ARNs
            report(f"pipeline {name} has no retraining trigger (schedule or EventBridge rule target)", pipeline.urn)


def _advisory(policy: Any) -> Any:
    policy.enforcement_level = EnforcementLevel.ADVISORY
    return policy


POLICIES = [
    stack_rule(
        "endpoint-monitored",
        Meta(
            description="Every SageMaker endpoint has a drift monitor reading its captured data (mlstack's "
            "monitoring pipeline, whose window step names the endpoint's capture prefix, or a Model Monitor "
            "schedule through a data quality job definition or an inline job) and AWS/SageMaker alarms on its "
            "key metrics. Meant for staging and prod.",
            severity=Severity.MEDIUM,
            fix="Enable monitoring.data_quality and monitoring.alarms for the model in mlstack.yaml; the "
            "monitor's capture prefix (or a schedule's endpointInput.endpointName) and the alarms' EndpointName "
            "dimension must name the endpoint.",
            config={
                "requiredMetrics": {
                    "type": "array",
                    "items": {"type": "string"},
                    "default": DEFAULT_REQUIRED_METRICS,
                    "description": "AWS/SageMaker metrics each endpoint needs an alarm on (metric math counts).",
                }
            },
        ),
        _endpoint_monitored,
    ),
    stack_rule(
        "endpoint-deploys-model-package",
        Meta(
            description="Endpoints serve only registered model versions: every model behind a production "
            "variant names a model package, never a raw image or model artifact. Meant for staging and prod.",
            severity=Severity.HIGH,
            fix="Deploy from the model registry (serving.when_unapproved and approvals in mlstack.yaml): the "
            "Model's containers set modelPackageName only.",
        ),
        _deploys_model_package,
    ),
    _advisory(
        stack_rule(
            "model-has-training-pipeline",
            Meta(
                description="Advisory: every model package group is fed by a pipeline whose RegisterModel step "
                "registers into it, so models are retrained, not uploaded by hand. All tiers.",
                severity=Severity.LOW,
                fix="Give the model a training section in mlstack.yaml; its pipeline registers into the group.",
            ),
            _has_training_pipeline,
        )
    ),
    _advisory(
        stack_rule(
            "model-has-retraining-trigger",
            Meta(
                description="Advisory: every pipeline is started by an EventBridge Scheduler schedule or an "
                "EventBridge rule (e.g. a drift alarm), so retraining does not depend on someone "
                "remembering. All tiers.",
                severity=Severity.LOW,
                fix="Set training.schedule for the model in mlstack.yaml (or a drift trigger).",
            ),
            _has_retraining_trigger,
        )
    ),
]
