"""Serving in the offline plan of the example: versions, hashed configs, rollout, scaling, Kubernetes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlstack.plan.synth import synthesize
from mlstack.spec import SpecError
from tests.conftest import EXAMPLE

GROUP_ARN = "arn:aws:sagemaker:eu-west-1:333333333333:model-package/card-fraud-prod-fraud-detector"


def _copy(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    text = EXAMPLE.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    spec = tmp_path / "mlstack.yaml"
    spec.write_text(text)
    shutil.copy(EXAMPLE.with_name("mlstack.lock.json"), tmp_path / "mlstack.lock.json")
    return spec


def test_prod_shows_the_resolved_version_and_a_canary_with_rollback(plans) -> None:
    plan = plans("prod")
    versions = plan.outputs["model_versions"]
    assert versions["fraud-detector"]["source"] == "stand-in"
    arn = versions["fraud-detector"]["arn"]
    assert arn == "arn:aws:sagemaker:eu-west-1:333333333333:model-package/card-fraud-prod-fraud-detector/1"
    model = plan.get("fraud-detector-serving-model-primary").inputs
    assert model["primaryContainer"] == {"modelPackageName": arn}
    assert model["enableNetworkIsolation"] is True
    assert model["vpcConfig"]["subnets"] == ["subnet-0a1b2c3d4e5f60718", "subnet-0b2c3d4e5f6071829"]
    config = plan.get("fraud-detector-serving-config").inputs
    assert config["productionVariants"] == [
        {
            "variantName": "primary",
            "modelName": model["name"],
            "instanceType": "ml.c5.xlarge",
            "initialInstanceCount": 2,
            "initialVariantWeight": 1,
        }
    ]
    assert config["dataCaptureConfig"]["initialSamplingPercentage"] == 100
    assert config["dataCaptureConfig"]["destinationS3Uri"] == (
        "s3://card-fraud-prod-artifacts-333333333333/data-capture/fraud-detector"
    )
    endpoint = plan.get("fraud-detector-serving-endpoint")
    assert endpoint.inputs["name"] == "card-fraud-prod-fraud-detector"
    assert endpoint.inputs["endpointConfigName"] == config["name"]
    policy = endpoint.inputs["deploymentConfig"]
    assert policy["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"]["type"] == "CANARY"
    assert {a["alarmName"] for a in policy["autoRollbackConfiguration"]["alarms"]} == {
        "card-fraud-prod-fraud-detector-latency-p99",
        "card-fraud-prod-fraud-detector-error-5xx-rate",
        "card-fraud-prod-fraud-detector-model-errors",
    }
    latency = plan.get("fraud-detector-serving-alarm-latency-p99").inputs
    assert latency["threshold"] == 200 * 1000  # the spec's 200 ms, in microseconds
    scaling = plan.get("fraud-detector-serving-scaling-primary")
    assert endpoint.urn in scaling.dependencies
    assert (scaling.inputs["minCapacity"], scaling.inputs["maxCapacity"]) == (2, 8)


def test_changing_the_instance_type_renames_the_config_not_the_endpoint(tmp_path: Path, plans) -> None:
    before = plans("prod")
    spec = _copy(tmp_path, ("          instance_type: ml.c5.xlarge", "          instance_type: ml.c5.2xlarge"))
    after = synthesize("prod", spec=spec)
    old, new = before.get("fraud-detector-serving-config"), after.get("fraud-detector-serving-config")
    assert old.urn == new.urn and old.inputs["name"] != new.inputs["name"]
    assert before.get("fraud-detector-serving-endpoint").urn == after.get("fraud-detector-serving-endpoint").urn
    unchanged = synthesize("prod")
    assert unchanged.get("fraud-detector-serving-config").inputs["name"] == old.inputs["name"]


def test_dev_deploys_all_at_once_without_scaling(plans) -> None:
    plan = plans("dev")
    routing = plan.get("fraud-detector-serving-endpoint").inputs["deploymentConfig"]["blueGreenUpdatePolicy"]
    assert routing["trafficRoutingConfiguration"]["type"] == "ALL_AT_ONCE"
    assert not [r for r in plan.resources if r.name.startswith("fraud-detector-serving-scaling")]


def test_kubernetes_served_model_renders_its_manifests(plans) -> None:
    plan = plans("prod")
    kinds = sorted(r.type for r in plan.resources if r.type.startswith("kubernetes:") and r.custom)
    assert "kubernetes:apps/v1:Deployment" in kinds and "kubernetes:core/v1:Service" in kinds
    deployment = next(r for r in plan.resources if r.type == "kubernetes:apps/v1:Deployment")
    assert deployment.inputs["metadata"]["namespace"] == "merchant-risk"
    init = json.dumps(deployment.inputs["spec"]["template"]["spec"]["initContainers"])
    assert "s3://card-fraud-prod-artifacts-333333333333/models/merchant-risk" in init
    assert not [r for r in plan.resources if r.name.startswith("merchant-risk-serving")]


def test_a_snapshot_without_approved_versions_fails_prod_with_a_located_error(tmp_path: Path) -> None:
    snapshot = tmp_path / "registry.json"
    snapshot.write_text(
        json.dumps(
            {
                "groups": {
                    "card-fraud-prod-fraud-detector": [
                        {
                            "version": 2,
                            "arn": f"{GROUP_ARN}/2",
                            "status": "PendingManualApproval",
                            "created": "2026-11-01T00:00:00Z",
                        }
                    ],
                    "card-fraud-prod-merchant-risk": [],
                }
            }
        )
    )
    with pytest.raises(SpecError) as caught:
        synthesize("prod", registry_snapshot=snapshot)
    (problem,) = [p for p in caught.value.problems if p.path == "models[0].serving"]
    assert "no Approved version in model package group 'card-fraud-prod-fraud-detector'" in problem.message
    assert "mlstack models approve" in problem.message
