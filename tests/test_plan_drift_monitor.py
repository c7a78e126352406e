"""mlstack's own drift monitor in the example's prod plan (the default engine): no Model Monitor,
a scheduled monitoring pipeline, and the drift -> alarm -> retraining chain with the permissions
each link needs, read from the plan's own policy documents."""

from __future__ import annotations

import json
from typing import Any

import pytest

PREFIX = "card-fraud-prod"
BUCKET = "card-fraud-prod-artifacts-333333333333"
ACCOUNT = "333333333333"
NAMESPACE = "mlstack/card-fraud"
MODEL_MONITOR_TYPES = {
    "aws:sagemaker/monitoringSchedule:MonitoringSchedule",
    "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition",
    "aws-native:sagemaker:ModelQualityJobDefinition",
    "aws-native:sagemaker:ModelBiasJobDefinition",
    "aws-native:sagemaker:ModelExplainabilityJobDefinition",
}


@pytest.fixture(scope="module")
def prod(plans):  # type: ignore[no-untyped-def]
    return plans("prod")


def _statements(plan: Any, role_name: str) -> list[dict[str, Any]]:
    """Every statement of every inline policy of the role named `role_name` (logical name)."""
    role = plan.get(f"::{role_name}")
    policies = [r for r in plan.of_type("aws:iam/rolePolicy:RolePolicy") if r.inputs["role"] == role.inputs["name"]]
    return [s for p in policies for s in json.loads(p.inputs["policy"])["Statement"]]


def _allows(statements: list[dict[str, Any]], action: str, resource: str) -> list[dict[str, Any]]:
    from fnmatch import fnmatchcase

    def listed(value: Any) -> list[str]:
        return value if isinstance(value, list) else [value]

    return [
        s
        for s in statements
        if s["Effect"] == "Allow"
        and any(fnmatchcase(action, a) for a in listed(s["Action"]))
        and any(fnmatchcase(resource, r) for r in listed(s["Resource"]))
    ]


def _definition(plan: Any) -> dict[str, Any]:
    return json.loads(plan.get("::fraud-detector-drift-monitor-pipeline").inputs["pipelineDefinition"])


def _step(definition: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in definition["Steps"] if s["Name"] == name)


def test_no_model_monitor_resource_in_any_environment(plans) -> None:  # type: ignore[no-untyped-def]
    for environment in ("dev", "staging", "prod"):
        assert not {r.type for r in plans(environment).resources} & MODEL_MONITOR_TYPES, environment


def test_the_monitor_job_is_isolated_encrypted_and_in_the_vpc(prod) -> None:  # type: ignore[no-untyped-def]
    job = _step(_definition(prod), "Monitor")["Arguments"]
    assert job["NetworkConfig"]["EnableNetworkIsolation"] is True
    assert job["NetworkConfig"]["VpcConfig"]["Subnets"] == ["subnet-0a1b2c3d4e5f60718", "subnet-0b2c3d4e5f6071829"]
    key = prod.get("::foundation-kms-key").inputs
    key_arn = prod.outputs["kms_key_arn"]
    assert key and job["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == key_arn
    assert job["ProcessingOutputConfig"]["KmsKeyId"] == key_arn
    assert job["AppSpecification"]["ImageUri"].endswith("/sagemaker-scikit-learn:1.2-1-cpu-py3")
    assert job["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-fraud-detector-monitor-job"
    inputs = {i["InputName"]: i["S3Input"] for i in job["ProcessingInputs"]}
    assert inputs["capture"]["S3DataType"] == "ManifestFile"
    assert inputs["ground-truth"]["S3Uri"] == "s3://card-fraud-labels/chargebacks/"
    # The deployed version's baseline dataset (the offline stand-in's run), as the parameter's default.
    parameter = next(p for p in _definition(prod)["Parameters"] if p["Name"] == "BaselineS3Uri")
    assert parameter["DefaultValue"] == f"s3://{BUCKET}/pipelines/fraud-detector/runs/stand-in/baseline"
    assert {t["Key"] for t in job["Tags"]} >= {"project", "environment", "owner", "managed-by"}


def test_the_window_reads_the_endpoint_capture_and_the_publisher_the_project_namespace(prod) -> None:  # type: ignore[no-untyped-def]
    definition = _definition(prod)
    prepare = _step(definition, "PrepareWindow")
    assert prepare["Arguments"]["CaptureS3Uri"] == f"s3://{BUCKET}/data-capture/fraud-detector/{PREFIX}-fraud-detector/"
    capture = prod.get("::fraud-detector-serving-config").inputs["dataCaptureConfig"]["destinationS3Uri"]
    assert prepare["Arguments"]["CaptureS3Uri"].startswith(capture)  # where the endpoint writes
    publish = _step(definition, "PublishMetrics")
    assert publish["Arguments"]["Namespace"] == NAMESPACE
    functions = {r.inputs["name"]: r for r in prod.of_type("aws:lambda/function:Function")}
    for step in (prepare, publish):
        assert step["FunctionArn"].rsplit(":", 1)[-1] in functions


def test_drift_alarm_watches_what_the_monitor_publishes_and_starts_retraining(prod) -> None:  # type: ignore[no-untyped-def]
    part = prod.get("::fraud-detector-alerting-drift-part-0").inputs
    metric = part["metricQueries"][0]["metric"]
    assert (metric["namespace"], metric["metricName"], metric["dimensions"]) == (
        NAMESPACE,
        "MaxFeatureDriftPSI",
        {"Model": "fraud-detector"},
    )
    # The publisher may write exactly that namespace; nothing else may be needed.
    statements = _statements(prod, "fraud-detector-drift-monitor-publish-role")
    (put,) = _allows(statements, "cloudwatch:PutMetricData", "*")
    assert put["Condition"] == {"StringEquals": {"cloudwatch:namespace": NAMESPACE}}
    composite = prod.get("::fraud-detector-alerting-drift").inputs["alarmName"]
    rule = json.loads(prod.get("::fraud-detector-training-drift-rule").inputs["eventPattern"])
    assert rule["detail"]["alarmName"] == [composite]


def test_each_consumer_may_do_what_it_needs(prod) -> None:  # type: ignore[no-untyped-def]
    runs = f"arn:aws:s3:::{BUCKET}/monitoring/fraud-detector/runs/x/report/metrics.json"
    job = _statements(prod, "fraud-detector-drift-monitor-job-role")
    for action, resource in (
        ("s3:GetObject", f"arn:aws:s3:::{BUCKET}/data-capture/fraud-detector/ep/AllTraffic/2026/12/01/05/a.jsonl"),
        ("s3:GetObject", f"arn:aws:s3:::{BUCKET}/pipelines/fraud-detector/runs/stand-in/baseline/baseline.csv"),
        ("s3:GetObject", "arn:aws:s3:::card-fraud-labels/chargebacks/2026/12/01/labels.jsonl"),
        ("s3:PutObject", runs),
    ):
        assert _allows(job, action, resource), (action, resource)
    assert not _allows(job, "s3:PutObject", f"arn:aws:s3:::{BUCKET}/models/fraud-detector/model.tar.gz")
    pipeline = _statements(prod, "fraud-detector-drift-monitor-pipeline-role")
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-fraud-detector-monitor-job"
    assert _allows(pipeline, "iam:PassRole", role_arn)
    for function in ("prepare", "publish"):
        arn = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{PREFIX}-fraud-detector-monitor-{function}"
        assert _allows(pipeline, "lambda:InvokeFunction", arn), function
    assert _allows(pipeline, "sagemaker:CreateProcessingJob", f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:processing-job/x")
    scheduler = _statements(prod, "fraud-detector-drift-monitor-scheduler-role")
    pipeline_arn = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:pipeline/{PREFIX}-fraud-detector-monitor"
    assert _allows(scheduler, "sagemaker:StartPipelineExecution", pipeline_arn)
    schedule = prod.get("::fraud-detector-drift-monitor-schedule").inputs
    assert schedule["target"]["arn"] == pipeline_arn and schedule["scheduleExpression"] == "cron(15 * * * ? *)"
    assert _allows(scheduler, "kms:Decrypt", schedule["kmsKeyArn"])
    prepare = _statements(prod, "fraud-detector-drift-monitor-prepare-role")
    assert _allows(prepare, "s3:ListBucket", f"arn:aws:s3:::{BUCKET}")
    assert _allows(prepare, "s3:PutObject", f"arn:aws:s3:::{BUCKET}/monitoring/fraud-detector/runs/x/capture.manifest")
    publish = _statements(prod, "fraud-detector-drift-monitor-publish-role")
    mlflow = prod.outputs["mlflow_tracking_server_arn"]
    assert _allows(publish, "sagemaker-mlflow:LogBatch", mlflow)


def test_a_failed_monitoring_run_alarms(prod) -> None:  # type: ignore[no-untyped-def]
    alarm = prod.get("::fraud-detector-drift-monitor-failed").inputs
    assert (alarm["namespace"], alarm["metricName"]) == ("AWS/Sagemaker/ModelBuildingPipeline", "ExecutionFailed")
    assert alarm["dimensions"] == {"PipelineName": f"{PREFIX}-fraud-detector-monitor"}
    assert alarm["alarmActions"] == [f"arn:aws:sns:eu-west-1:{ACCOUNT}:{PREFIX}-fraud-detector-alerts"]


def test_what_the_monitor_publishes_fires_the_alarm(prod, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The Monitor step's own arguments from the plan, run locally on drifted capture: the datum the
    drift alarm watches is in metrics.json, above the alarm's threshold."""
    import numpy as np

    from mlstack.pipelines.steps import monitor

    job = _step(_definition(prod), "Monitor")["Arguments"]
    arguments = list(job["AppSpecification"]["ContainerArguments"])
    rng = np.random.default_rng(7)
    (tmp_path / "baseline").mkdir()
    baseline = rng.normal(0, 1, (400, 2))
    lines = ["amount,tx_count_1h", *(f"{a:.4f},{b:.4f}" for a, b in baseline)]
    (tmp_path / "baseline" / "baseline.csv").write_text("\n".join(lines) + "\n")
    capture = tmp_path / "capture" / "AllTraffic" / "2026" / "12" / "01" / "05"
    capture.mkdir(parents=True)
    records = [
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": f"{a + 3:.4f},{b:.4f}",
                    "encoding": "CSV",
                },
                "endpointOutput": {
                    "observedContentType": "text/csv",
                    "mode": "OUTPUT",
                    "data": "0.5",
                    "encoding": "CSV",
                },
            },
            "eventMetadata": {"eventId": f"e{i}", "inferenceTime": "2026-12-01T05:00:00Z"},
            "eventVersion": "0",
        }
        for i, (a, b) in enumerate(rng.normal(0, 1, (300, 2)))
    ]
    (capture / "a.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    dirs = ["--capture-dir", str(tmp_path / "capture"), "--baseline-dir", str(tmp_path / "baseline")]
    dirs += ["--ground-truth-dir", str(tmp_path / "none"), "--output-dir", str(tmp_path / "report")]
    assert monitor.main([*arguments, *dirs]) == 0
    datums = json.loads((tmp_path / "report" / "metrics.json").read_text())
    alarm = prod.get("::fraud-detector-alerting-drift-part-0").inputs
    watched = alarm["metricQueries"][0]["metric"]
    dimensions = [{"Name": k, "Value": v} for k, v in watched["dimensions"].items()]
    (datum,) = [d for d in datums if d["MetricName"] == watched["metricName"] and d["Dimensions"] == dimensions]
    assert datum["Value"] > alarm["threshold"]


def test_a_model_trained_from_s3_is_alerted_and_monitored_too(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Model Monitor's drift metrics needed the feature group's columns; mlstack's monitor does not."""
    import shutil

    from mlstack.plan.synth import synthesize
    from tests.conftest import EXAMPLE

    text = EXAMPLE.read_text().replace(
        "      feature_groups: [transactions]\n      target: is_fraud\n",
        "      s3_uri: s3://card-fraud-data/training/\n      target: is_fraud\n",
        1,
    )
    (tmp_path / "mlstack.yaml").write_text(text)
    shutil.copy(EXAMPLE.with_name("mlstack.lock.json"), tmp_path / "mlstack.lock.json")
    plan = synthesize("prod", spec=tmp_path / "mlstack.yaml")
    topic = f"arn:aws:sns:eu-west-1:{ACCOUNT}:{PREFIX}-fraud-detector-alerts"
    for name in ("latency-p99", "error-5xx-rate", "model-errors"):
        assert plan.get(f"::fraud-detector-serving-alarm-{name}").inputs["alarmActions"] == [topic]
    assert plan.get("::fraud-detector-alerting-drift").inputs["alarmActions"] == [topic]
    assert plan.get("::fraud-detector-drift-monitor-pipeline")
    rule = json.loads(plan.get("::fraud-detector-training-drift-rule").inputs["eventPattern"])
    assert rule["detail"]["alarmName"] == [f"{PREFIX}-fraud-detector-data-drift"]
