"""The DriftMonitor component on its own (as a platform team would use it), under mocks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlstack import shared_package_dir
from mlstack.components.drift_monitor import DriftMonitor, DriftMonitorArgs
from mlstack.plan.synth import record
from mlstack.policies.rules.tagging import is_taggable

ACCOUNT = "123456789012"
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/abc"
STEPS = shared_package_dir("pipelines") / "steps"


def _args(**overrides: object) -> DriftMonitorArgs:
    values: dict[str, object] = {
        "pipeline_name": "demo-dev-scorer-monitor",
        "definition": json.dumps({"Version": "2020-12-01", "Steps": []}),
        "model_name": "scorer",
        "account_id": ACCOUNT,
        "region": "eu-west-1",
        "bucket_name": "demo-dev-artifacts",
        "bucket_arn": "arn:aws:s3:::demo-dev-artifacts",
        "kms_key_arn": KEY,
        "job_role_name": "demo-dev-scorer-monitor-job",
        "pipeline_role_name": "demo-dev-scorer-monitor-pipeline",
        "functions_role_prefix": "demo-dev-scorer-monitor",
        "scheduler_role_name": "demo-dev-scorer-monitor-schedule",
        "schedule_name": "demo-dev-scorer-monitor",
        "metrics_namespace": "mlstack/demo",
        "monitor_script": STEPS / "monitor.py",
        "lambda_script": STEPS / "monitor_lambda.py",
        "tags": {"owner": "ml@example.com"},
    }
    values.update(overrides)
    return DriftMonitorArgs(**values)  # type: ignore[arg-type]


def _run(args: DriftMonitorArgs):  # type: ignore[no-untyped-def]
    resources, _ = record(lambda: DriftMonitor("scorer-monitor", args))
    return resources


def test_children_are_parented_named_after_the_component_and_tagged() -> None:
    resources = _run(_args())
    component = next(r for r in resources if r.type == "mlstack:monitoring:DriftMonitor")
    children = [r for r in resources if r is not component]
    assert children and all(r.parent == component.urn for r in children)
    assert all(r.name.startswith("scorer-monitor-") for r in children)
    for resource in children:
        if is_taggable(resource.type):  # as the required-tags rule decides, from the provider SDK
            assert resource.inputs.get("tags", {}).get("owner") == "ml@example.com", resource.name
    # Without a topic there is no failed-run alarm; with one there is.
    assert not [r for r in resources if r.type == "aws:cloudwatch/metricAlarm:MetricAlarm"]
    with_topic = _run(_args(alarm_topic_arn="arn:aws:sns:eu-west-1:1:t", failed_alarm_name="scorer-monitor-failed"))
    assert [r.name for r in with_topic if r.type == "aws:cloudwatch/metricAlarm:MetricAlarm"] == [
        "scorer-monitor-failed"
    ]


def test_the_mlflow_statement_only_with_a_tracking_server() -> None:
    def publish_actions(resources) -> set[str]:  # type: ignore[no-untyped-def]
        policy = next(r for r in resources if r.name == "scorer-monitor-publish-policy")
        return {
            a
            for s in json.loads(policy.inputs["policy"])["Statement"]
            for a in [s["Action"]]
            for a in (a if isinstance(a, list) else [a])
        }

    assert not {a for a in publish_actions(_run(_args())) if a.startswith("sagemaker-mlflow:")}
    server = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:mlflow-tracking-server/demo"
    assert "sagemaker-mlflow:LogBatch" in publish_actions(_run(_args(tracking_server_arn=server)))


def test_a_bad_cadence_is_refused() -> None:
    with pytest.raises(ValueError, match="cadence must be one of hourly, every_6_hours, every_12_hours, daily"):
        DriftMonitor("x", _args(cadence="weekly"))


def test_the_lambda_code_is_the_bundled_handler_file() -> None:
    functions = [r for r in _run(_args()) if r.type == "aws:lambda/function:Function"]
    assert sorted(f.inputs["handler"] for f in functions) == [
        "monitor_lambda.prepare_window",
        "monitor_lambda.publish_metrics",
    ]
    # The handlers import the MLflow REST client from beside them: both files in each archive.
    for function in functions:
        archive = function.inputs["code"].assets
        assert sorted(archive) == ["mlflow_rest.py", "monitor_lambda.py"]
        assert all(Path(asset.path) == STEPS / name for name, asset in archive.items())
    assert (STEPS / "monitor_lambda.py").is_file() and (STEPS / "mlflow_rest.py").is_file()
