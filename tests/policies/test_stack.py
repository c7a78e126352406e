"""Stack rules: a compliant stack, one change per requirement, unknowns, odd shapes, the example."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlstack.policies.rules import by_name, stack
from mlstack.policies.testing import UNKNOWN, Resource, run_pack, run_stack_policy
from tests.policies.test_sagemaker_jobs import DEFINITION, mutate, pipeline

MONITORED = by_name("endpoint-monitored")
PIPELINE = "aws:sagemaker/pipeline:Pipeline"
PACKAGED = by_name("endpoint-deploys-model-package")
TRAINED = by_name("model-has-training-pipeline")
TRIGGERED = by_name("model-has-retraining-trigger")
PACKAGE = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/g/3"
ARN = "arn:aws:sagemaker:eu-west-1:333333333333"
_5XX = {"namespace": "AWS/SageMaker", "metricName": "Invocation5XXErrors", "dimensions": {"EndpointName": "fd"}}
_CALLS = {**_5XX, "metricName": "Invocations"}
COMPLIANT: dict[str, tuple[str, dict[str, Any]]] = {
    "endpoint": ("aws:sagemaker/endpoint:Endpoint", {"name": "fd", "endpointConfigName": "fd-config-1"}),
    "config": (
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        {"name": "fd-config-1", "productionVariants": [{"variantName": "AllTraffic", "modelName": "fd-model-1"}]},
    ),
    "model": ("aws:sagemaker/model:Model", {"name": "fd-model-1", "primaryContainer": {"modelPackageName": PACKAGE}}),
    "dq": (
        "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition",
        {"name": "fd-dq", "dataQualityJobInput": {"endpointInput": {"endpointName": "fd"}}},
    ),
    "monitor": (
        "aws:sagemaker/monitoringSchedule:MonitoringSchedule",
        {"name": "fd-monitor", "monitoringScheduleConfig": {"monitoringJobDefinitionName": "fd-dq"}},
    ),
    "latency": (
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        {"namespace": "AWS/SageMaker", "metricName": "ModelLatency", "dimensions": {"EndpointName": "fd"}},
    ),
    "errors": (
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        {
            "metricQueries": [
                {"id": "e", "metric": _5XX},
                {"id": "c", "metric": _CALLS},
                {"id": "r", "expression": "e/c"},
            ]
        },
    ),
    "group": ("aws:sagemaker/modelPackageGroup:ModelPackageGroup", {"modelPackageGroupName": "g"}),
    "pipeline": (pipeline().type, {**pipeline().props, "pipelineName": "fd-training"}),
    "retrain": ("aws:scheduler/schedule:Schedule", {"name": "r", "target": {"arn": f"{ARN}:pipeline/fd-training"}}),
}


def resources(**changes: dict[str, Any] | tuple[str, dict[str, Any]] | None) -> list[Resource]:
    """The compliant stack with some resources' props replaced, added (type, props) or removed (None)."""
    entries = {**COMPLIANT}
    for name, change in changes.items():
        if change is None:
            entries.pop(name)
        else:
            entries[name] = change if isinstance(change, tuple) else (entries[name][0], change)
    return [Resource(type_, props, name=name) for name, (type_, props) in entries.items()]


def _messages(policy: Any, stack_resources: list[Resource], config: dict[str, Any] | None = None) -> list[str]:
    return run_stack_policy(policy, stack_resources, config).messages()


def test_the_compliant_stack_passes() -> None:
    report = run_pack(stack.POLICIES, resources())
    assert report.violations == [] and report.not_evaluated == [] and report.evaluated == 4


def _props(name: str, path: str, value: Any) -> dict[str, Any]:
    return mutate(COMPLIANT[name][1], path, value)


@pytest.mark.parametrize(
    ("policy", "changes", "message"),
    [
        (MONITORED, {"monitor": None}, "endpoint fd has no monitoring schedule watching it"),
        (MONITORED, {"dq": _props("dq", "dataQualityJobInput.endpointInput.endpointName", "other")},
         "endpoint fd has no monitoring schedule watching it"),
        (MONITORED, {"latency": None}, "endpoint fd has no AWS/SageMaker alarm on ModelLatency"),
        (MONITORED, {"errors": _props("errors", "metricQueries.0.metric.namespace", "Custom")},
         "endpoint fd has no AWS/SageMaker alarm on Invocation5XXErrors"),
        (MONITORED, {"latency": _props("latency", "dimensions.EndpointName", "fd-old")},
         "endpoint fd has no AWS/SageMaker alarm on ModelLatency"),
        (PACKAGED, {"model": _props("model", "primaryContainer", {"image": "img", "modelDataUrl": "s3://b/m.tgz"})},
         "model fd-model-1 primaryContainer deploys a raw image or model artifact, not a registered model package "
         "(modelPackageName)"),
        (PACKAGED, {"model": _props("model", "primaryContainer.image", "img")},
         "model fd-model-1 primaryContainer overrides its model package with image"),
        (PACKAGED, {"model": {"name": "fd-model-1"}},
         "model fd-model-1 has no container naming a model package (primaryContainer.modelPackageName)"),
        (PACKAGED, {"model": _props("model", "name", "fd-model-2")},
         "variant AllTraffic of endpoint configuration fd-config-1 serves model fd-model-1, which this stack does "
         "not define"),
        (TRAINED, {"group": {"modelPackageGroupName": "other"}},
         "model package group other has no pipeline that registers versions into it"),
        (TRIGGERED, {"retrain": None},
         "pipeline fd-training has no retraining trigger (schedule or EventBridge rule target)"),
        (TRIGGERED, {"retrain": _props("retrain", "state", "DISABLED")},
         "pipeline fd-training has no retraining trigger (schedule or EventBridge rule target)"),
    ],
)  # fmt: skip
def test_each_requirement(policy: Any, changes: dict[str, Any], message: str) -> None:
    assert _messages(policy, resources(**changes)) == [message]


def test_violations_point_at_the_offending_resource() -> None:
    stack_resources = resources(model={"name": "fd-model-1", "containers": [{"image": "img"}]}, monitor=None)
    model_urn = next(r.urn for r in stack_resources if r.name == "model")
    report = run_stack_policy(PACKAGED, stack_resources)
    assert [(v.urn, v.message) for v in report.violations] == [
        (model_urn, "model fd-model-1 containers[0] deploys a raw image or model artifact, not a registered model "
                    "package (modelPackageName)"),
    ]  # fmt: skip
    assert run_stack_policy(MONITORED, stack_resources).violations[0].urn.endswith("::endpoint")


def test_alternative_shapes_that_comply() -> None:
    inline = {"monitoringScheduleConfig": {"monitoringJobDefinition": {"monitoringInputs": [
        {"endpointInput": {"endpointName": "fd"}}]}}}  # fmt: skip
    assert _messages(MONITORED, resources(dq=None, monitor=inline)) == []
    # mlstack's drift monitor: its window step reads the endpoint's capture prefix.
    window = {"Name": "PrepareWindow", "Type": "Lambda", "Arguments": {"CaptureS3Uri": "s3://b/data-capture/m/fd/"}}
    drift_monitor = (PIPELINE, {"pipelineName": "fd-monitor", "pipelineDefinition": json.dumps({"Steps": [window]})})
    assert _messages(MONITORED, resources(dq=None, monitor=None, drift_monitor=drift_monitor)) == []
    other = json.dumps({"Steps": [{**window, "Arguments": {"CaptureS3Uri": "s3://b/data-capture/m/other/"}}]})
    assert _messages(
        MONITORED, resources(dq=None, monitor=None, drift_monitor=(PIPELINE, {"pipelineDefinition": other}))
    ) == ["endpoint fd has no monitoring schedule watching it"]
    in_containers = {"name": "fd-model-1", "containers": [{"modelPackageName": PACKAGE}]}
    assert _messages(PACKAGED, resources(model=in_containers)) == []
    group_arn = mutate(DEFINITION, "Steps.2.Arguments.IfSteps.1.Arguments.ModelPackageGroupName", f"{ARN}:x/g")
    as_arn = {**COMPLIANT["pipeline"][1], "pipelineDefinition": pipeline(group_arn).props["pipelineDefinition"]}
    assert _messages(TRAINED, resources(pipeline=as_arn)) == []
    rule_target = ("aws:cloudwatch/eventTarget:EventTarget", {"rule": "drift", "arn": f"{ARN}:pipeline/FD-Training"})
    assert _messages(TRIGGERED, resources(retrain=None, drift=rule_target)) == []


def test_nothing_to_check_without_endpoints_groups_or_pipelines() -> None:
    only_alarms = [r for r in resources() if r.name in {"latency", "errors", "retrain"}]
    assert run_pack(stack.POLICIES, only_alarms).violations == []


def test_required_metrics_are_configurable() -> None:
    config = {"endpoint-monitored": {"requiredMetrics": ["ModelLatency", "InvocationModelErrors"]}}
    assert _messages(MONITORED, resources(), config) == [
        "endpoint fd has no AWS/SageMaker alarm on InvocationModelErrors"
    ]


@pytest.mark.parametrize(
    ("policy", "changes"),
    [
        (MONITORED, {"endpoint": _props("endpoint", "name", UNKNOWN)}),
        (MONITORED, {"dq": _props("dq", "dataQualityJobInput.endpointInput.endpointName", UNKNOWN)}),
        (MONITORED, {"latency": _props("latency", "dimensions", UNKNOWN)}),
        (PACKAGED, {"model": _props("model", "name", UNKNOWN)}),
        (PACKAGED, {"model": _props("model", "primaryContainer.modelPackageName", UNKNOWN)}),
        (TRAINED, {"pipeline": {"pipelineName": "fd-training", "pipelineDefinition": UNKNOWN}}),
        (TRIGGERED, {"retrain": _props("retrain", "target.arn", UNKNOWN)}),
    ],
)
def test_unknown_values_that_decide_are_not_evaluated(policy: Any, changes: dict[str, Any]) -> None:
    report = run_stack_policy(policy, resources(**changes))
    assert report.violations == [] and len(report.not_evaluated) == 1


def test_unknown_values_that_do_not_decide_are_skipped() -> None:
    sns = ("aws:cloudwatch/eventTarget:EventTarget", {"rule": "approvals", "arn": UNKNOWN})
    other_alarm = ("aws:cloudwatch/metricAlarm:MetricAlarm", {"namespace": UNKNOWN})
    other_dq = (COMPLIANT["dq"][0], {"name": UNKNOWN})
    report = run_pack(stack.POLICIES, resources(notify=sns, other_alarm=other_alarm, other_dq=other_dq))
    assert report.violations == [] and report.not_evaluated == []


@pytest.mark.parametrize(
    "props",
    [
        {},
        {"name": ["x"], "productionVariants": "v", "primaryContainer": [], "containers": {"image": 1}},
        {"monitoringScheduleConfig": [], "dataQualityJobInput": "fd", "metricQueries": [None, {"metric": 3}]},
        {"dimensions": [], "namespace": "AWS/SageMaker", "metricName": {"a": 1}, "target": "arn"},
        {"pipelineName": 5, "pipelineDefinition": '{"Steps": [{"Type": "RegisterModel", "Arguments": []}]}'},
        {"state": None, "arn": ["arn:aws:sagemaker:r:1:pipeline/x"], "modelPackageGroupName": None},
    ],
)
def test_odd_shapes_do_not_raise(props: dict[str, Any]) -> None:
    odd = [Resource(type_, props, name=f"odd-{name}") for name, (type_, _) in COMPLIANT.items()]
    run_pack(stack.POLICIES, [*resources(), *odd])


def test_continuous_training_rules_are_advisory_and_low() -> None:
    report = run_stack_policy(TRIGGERED, resources(retrain=None))
    assert [(v.level, v.severity) for v in report.violations] == [("advisory", "low")]
    assert run_stack_policy(TRAINED, resources(group={"modelPackageGroupName": "x"})).violations[0].level == "advisory"


def test_the_example_passes_in_prod(plans: Any) -> None:
    """No endpoints yet; both groups are fed by a pipeline, both pipelines are scheduled."""
    example = [Resource.from_plan(r.as_dict()) for r in plans("prod").resources]
    report = run_pack(stack.POLICIES, example)
    assert report.violations == [] and report.not_evaluated == [] and report.evaluated == 4
    # Each rule did look: without the schedules, and without the drift rule merchant-risk's nightly
    # batch drift starts, that pipeline has no trigger left (fraud-detector keeps its drift rule).
    unscheduled = [
        r
        for r in example
        if r.type != "aws:scheduler/schedule:Schedule" and not r.name.startswith("merchant-risk-training-drift")
    ]
    assert _messages(TRIGGERED, unscheduled) == [
        "pipeline card-fraud-prod-merchant-risk-training has no retraining trigger "
        "(schedule or EventBridge rule target)"
    ]
