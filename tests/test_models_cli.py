"""`mlstack models snapshot|approve` against moto's server (real boto3 over HTTP on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3

from mlstack.plan.synth import synthesize
from tests.conftest import ROOT

GROUP = "card-fraud-prod-fraud-detector"


BASELINES = "s3://card-fraud-prod-artifacts-333333333333/baselines/fraud-detector/data-quality/run-1"


def _register(client, status: str) -> str:  # type: ignore[no-untyped-def]
    return client.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [
                {
                    "Image": "123.dkr.ecr.eu-west-1.amazonaws.com/xgb:1",
                    "ModelDataUrl": "s3://card-fraud-artifacts/models/run-1/output/model.tar.gz",
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        DriftCheckBaselines={
            "ModelDataQuality": {
                # where the mlstack training pipeline writes them (pipelines/layout.py)
                "Constraints": {"ContentType": "application/json", "S3Uri": f"{BASELINES}/constraints.json"},
                "Statistics": {"ContentType": "application/json", "S3Uri": f"{BASELINES}/statistics.json"},
            }
        },
    )["ModelPackageArn"]


def _mlstack(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlstack", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ),
    )


def test_approve_then_snapshot_then_plan_deploys_the_approved_version(aws: str, tmp_path: Path) -> None:
    client = boto3.client("sagemaker", region_name="eu-west-1")
    client.create_model_package_group(ModelPackageGroupName=GROUP)
    client.create_model_package_group(ModelPackageGroupName="card-fraud-prod-merchant-risk")
    _register(client, "Approved")
    _register(client, "PendingManualApproval")
    approved = _mlstack(
        "models", "approve", "fraud-detector", "--env", "prod", "--version", "2", "--reason", "AUC 0.94"
    )
    assert approved.returncode == 0, approved.stderr
    arn = client.list_model_packages(ModelPackageGroupName=GROUP, SortBy="CreationTime", SortOrder="Ascending")[
        "ModelPackageSummaryList"
    ][1]["ModelPackageArn"]
    package = client.describe_model_package(ModelPackageName=arn)
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ApprovalDescription"] == "AUC 0.94"
    _register(client, "Approved")  # merchant-risk's group is empty: give it nothing, keep fraud-detector's
    snapshot = tmp_path / "registry.json"
    written = _mlstack("models", "snapshot", "prod", "-o", str(snapshot))
    assert written.returncode == 0, written.stderr
    body = json.loads(snapshot.read_text())
    assert [v["version"] for v in body["groups"][GROUP]] == [1, 2, 3]
    body["groups"]["card-fraud-prod-merchant-risk"] = body["groups"][GROUP]  # a version for the k8s model too
    snapshot.write_text(json.dumps(body))
    plan = synthesize("prod", registry_snapshot=snapshot)
    assert plan.outputs["model_versions"]["fraud-detector"]["version"] == 3
    assert plan.outputs["model_versions"]["fraud-detector"]["source"] == "snapshot"


def test_approve_refuses_an_unknown_version_and_reports_aws_errors_cleanly(aws: str) -> None:
    missing_group = _mlstack("models", "approve", "fraud-detector", "--env", "prod", "--version", "1", "--reason", "x")
    assert missing_group.returncode == 1 and missing_group.stderr.startswith("AWS error:")
    assert "Traceback" not in missing_group.stderr
    client = boto3.client("sagemaker", region_name="eu-west-1")
    client.create_model_package_group(ModelPackageGroupName=GROUP)
    _register(client, "PendingManualApproval")
    unknown = _mlstack("models", "approve", "fraud-detector", "--env", "prod", "--version", "7", "--reason", "x")
    assert unknown.returncode == 2 and "has no version 7 (versions: 1)" in unknown.stderr


def test_approve_needs_a_reason_and_a_known_model(aws: str) -> None:
    no_reason = _mlstack("models", "approve", "fraud-detector", "--env", "prod", "--version", "1", "--reason", " ")
    assert no_reason.returncode == 2 and "audit trail" in no_reason.stderr
    unknown = _mlstack("models", "approve", "fraud-detecter", "--env", "prod", "--version", "1", "--reason", "x")
    assert unknown.returncode == 2 and "no model 'fraud-detecter'" in unknown.stderr
