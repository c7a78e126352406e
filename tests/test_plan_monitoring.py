"""Monitoring in the offline plan of the example: alarms, dashboard, drift -> retraining, and the
Model Monitor engine (`monitoring.engine: model-monitor`, for accounts that still have the service).
mlstack's own drift monitor (the default engine) is tested in test_plan_drift_monitor.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlstack.plan.synth import synthesize
from mlstack.spec import SpecError
from tests.conftest import EXAMPLE

MONITORING = "    monitoring:\n      data_quality:\n        cadence: hourly\n"


def model_monitor_spec(directory: Path, extra: str = "") -> Path:
    """The example with the fraud detector on the Model Monitor engine (plus `extra` under data_quality)."""
    text = EXAMPLE.read_text()
    assert MONITORING in text
    text = text.replace(
        MONITORING, MONITORING.replace("    monitoring:\n", "    monitoring:\n      engine: model-monitor\n") + extra, 1
    )
    spec = directory / "mlstack.yaml"
    spec.write_text(text)
    shutil.copy(EXAMPLE.with_name("mlstack.lock.json"), directory / "mlstack.lock.json")
    return spec


@pytest.fixture(scope="module")
def model_monitor(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return synthesize("prod", spec=model_monitor_spec(tmp_path_factory.mktemp("model-monitor")))


def test_data_quality_schedule_watches_the_endpoint_against_the_deployed_baseline(model_monitor) -> None:
    plan = model_monitor
    job = plan.get("fraud-detector-data-quality-job").inputs
    assert job["dataQualityJobInput"]["endpointInput"]["endpointName"] == "card-fraud-prod-fraud-detector"
    baseline = job["dataQualityBaselineConfig"]
    assert baseline["constraintsResource"]["s3Uri"] == (
        "s3://card-fraud-prod-artifacts-333333333333/baselines/fraud-detector/data-quality/stand-in/constraints.json"
    )
    assert job["jobResources"]["clusterConfig"]["volumeKmsKeyId"].startswith("arn:aws:kms:eu-west-1:333333333333:key/")
    assert job["dataQualityJobOutputConfig"]["kmsKeyId"].startswith("arn:aws:kms:")
    assert job["networkConfig"]["enableNetworkIsolation"] is True
    assert job["networkConfig"]["enableInterContainerTrafficEncryption"] is True
    assert job["networkConfig"]["vpcConfig"]["subnets"] == ["subnet-0a1b2c3d4e5f60718", "subnet-0b2c3d4e5f6071829"]
    assert job["dataQualityAppSpecification"]["imageUri"].endswith("/sagemaker-model-monitor-analyzer:latest")
    schedule = plan.get("fraud-detector-data-quality-schedule").inputs["monitoringScheduleConfig"]
    assert schedule["scheduleConfig"] == {"scheduleExpression": "cron(0 * ? * * *)"}  # hourly, as the spec says
    assert schedule["monitoringType"] == "DataQuality"


def test_model_quality_monitor_uses_ground_truth(model_monitor) -> None:
    job = model_monitor.get("fraud-detector-model-quality-job")
    assert job.type == "aws-native:sagemaker:ModelQualityJobDefinition"
    text = json.dumps(job.inputs)
    assert "s3://card-fraud-labels/chargebacks/" in text
    assert "BinaryClassification" in text


def test_alarm_thresholds_come_from_the_spec(plans) -> None:
    plan = plans("prod")
    drift = plan.get("fraud-detector-alerting-drift-part-0").inputs
    assert drift["threshold"] == 0.1
    assert drift["treatMissingData"] == "ignore"
    latency = plan.get("fraud-detector-serving-alarm-latency-p99").inputs
    assert latency["threshold"] == 200_000  # 200 ms in microseconds
    rate = plan.get("fraud-detector-serving-alarm-error-5xx-rate").inputs
    assert rate["threshold"] == 0.5


def test_drift_alarm_starts_the_retraining_pipeline(plans) -> None:
    plan = plans("prod")
    composite = plan.get("fraud-detector-alerting-drift").inputs
    rule = json.loads(plan.get("fraud-detector-training-drift-rule").inputs["eventPattern"])
    assert rule["detail"]["alarmName"] == [composite["alarmName"]] == ["card-fraud-prod-fraud-detector-data-drift"]
    target = plan.get("fraud-detector-training-drift-target").inputs
    assert target["arn"].endswith(":pipeline/card-fraud-prod-fraud-detector-training")


def test_dashboard_body_is_valid_json_about_this_model(plans) -> None:
    body = json.loads(plans("prod").get("fraud-detector-alerting-dashboard").inputs["dashboardBody"])
    assert len(body["widgets"]) >= 6
    text = json.dumps(body)
    assert "card-fraud-prod-fraud-detector" in text and "card-fraud-prod-fraud-detector-training" in text


def test_monitoring_absent_where_the_spec_disables_it(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace(
        "    monitoring:\n      data_quality:\n        cadence: hourly\n",
        "    monitoring:\n      enabled: false\n      data_quality:\n        cadence: hourly\n",
        1,
    )
    spec = tmp_path / "mlstack.yaml"
    spec.write_text(text)
    shutil.copy(EXAMPLE.with_name("mlstack.lock.json"), tmp_path / "mlstack.lock.json")
    plan = synthesize("dev", spec=spec)
    names = {r.name for r in plan.resources}
    assert not {n for n in names if n.startswith(("fraud-detector-data-quality", "fraud-detector-alerting"))}
    assert "fraud-detector-training-drift-rule" not in names
    assert "fraud-detector-serving-endpoint" in names  # serving stays; only watching is off


def test_every_alarm_notifies_the_encrypted_alerts_topic(plans) -> None:
    plan = plans("prod")
    topic = plan.get("fraud-detector-alerting-alerts-topic").inputs
    assert topic["kmsMasterKeyId"].startswith("arn:aws:kms:eu-west-1:333333333333:key/")
    topic_arn = "arn:aws:sns:eu-west-1:333333333333:card-fraud-prod-fraud-detector-alerts"
    for name in ("latency-p99", "error-5xx-rate", "model-errors"):
        assert plan.get(f"fraud-detector-serving-alarm-{name}").inputs["alarmActions"] == [topic_arn]
    assert plan.get("fraud-detector-alerting-drift").inputs["alarmActions"] == [topic_arn]
    body = plan.get("fraud-detector-alerting-dashboard").inputs["dashboardBody"]
    assert "arn:aws:cloudwatch:eu-west-1:333333333333:alarm:card-fraud-prod-fraud-detector-latency-p99" in body


def test_a_changed_monitor_gets_a_new_job_definition_name_not_a_name_clash(tmp_path: Path, model_monitor) -> None:
    spec = model_monitor_spec(tmp_path, "        instance_type: ml.m5.xlarge\n")
    before, after = model_monitor, synthesize("prod", spec=spec)
    old, new = before.get("fraud-detector-data-quality-job"), after.get("fraud-detector-data-quality-job")
    assert old.urn == new.urn and old.inputs["name"] != new.inputs["name"]
    assert len(new.inputs["name"]) <= 63
    schedule = after.get("fraud-detector-data-quality-schedule").inputs["monitoringScheduleConfig"]
    assert schedule["monitoringJobDefinitionName"] == new.inputs["name"]


def test_explainability_monitors_against_the_given_shap_baseline(tmp_path: Path) -> None:
    def plan_with(extra: str):  # type: ignore[no-untyped-def]
        return synthesize(
            "prod", spec=model_monitor_spec(tmp_path, f"      explainability:\n        enabled: true\n{extra}")
        )

    with pytest.raises(SpecError) as caught:
        plan_with("")
    assert [p.message for p in caught.value.problems] == ["explainability monitoring needs shap_baseline_s3_uri"]
    plan = plan_with("        shap_baseline_s3_uri: s3://card-fraud-data/shap/baseline.csv\n")
    config = json.loads(plan.get("fraud-detector-explainability-analysis-config").inputs["content"])
    assert config["methods"]["shap"]["baseline"] == "s3://card-fraud-data/shap/baseline.csv"
    assert config["headers"] == ["amount", "currency", "tx_count_1h", "amount_sum_24h", "distance_from_home_km"]


def test_the_model_monitor_engine_is_warned_about_where_it_is_set(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import ROOT

    spec = model_monitor_spec(tmp_path)
    code, out, err = cli("validate", "--spec", str(spec), cwd=ROOT)
    assert code == 0, err
    line = next(n for n, text in enumerate(spec.read_text().splitlines(), start=1) if "engine: model-monitor" in text)
    assert (
        f"{spec}:{line}:7: models[0].monitoring.engine: warning: Amazon SageMaker Model Monitor is no longer open"
        in err
    )
    assert "ok prod" in out
