"""`mlstack models ...` against moto's server (real boto3 over HTTP on 127.0.0.1).

Each environment of the example lives in its own account (dev 111…, staging 222…, prod 333…);
moto keeps accounts apart by the credentials of STS AssumeRole, so the tests act as a caller
of the account each command must run in.
"""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from mlstack.plan.synth import synthesize
from mlstack.registry import audit, lifecycle
from tests.conftest import ROOT

PROD, STAGING = "333333333333", "222222222222"
GROUP = "card-fraud-prod-fraud-detector"
STAGING_GROUP = "card-fraud-staging-fraud-detector"
BUCKET = "card-fraud-prod-artifacts-333333333333"
BASELINES = f"s3://{BUCKET}/baselines/fraud-detector/data-quality/run-1"


def client(service: str) -> Any:
    """A client with the credentials the environment has now (boto3.client() keeps its first ones)."""
    return _client(service, os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_ENDPOINT_URL"))


@functools.cache
def _client(
    service: str, access_key: str | None, endpoint: str | None
) -> Any:  # one per identity: clients are slow to make
    return boto3.Session().client(service, region_name="eu-west-1")


def credentials(account: str, who: str = "alice") -> dict[str, str]:
    """Credentials of a role session in `account` (moto serves each account's own state)."""
    sts = client("sts")
    issued = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/ml-approver", RoleSessionName=who)["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": issued["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": issued["SecretAccessKey"],
        "AWS_SESSION_TOKEN": issued["SessionToken"],
    }


@pytest.fixture
def prod(aws: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Act in the prod account, with its artifact bucket and the fraud model's group."""
    issued = credentials(PROD)
    for key, value in issued.items():
        monkeypatch.setenv(key, value)
    client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    sagemaker().create_model_package_group(ModelPackageGroupName=GROUP)
    return issued


def sagemaker() -> Any:
    return client("sagemaker")


def register(
    status: str, *, auc: float | None = 0.95, group: str = GROUP, metadata: dict[str, str] | None = None
) -> str:
    """A version as the training pipeline registers it, with its evaluation.json."""
    extra: dict[str, Any] = {}
    if auc is not None:
        number = len(sagemaker().list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]) + 1
        key = f"pipelines/fraud-detector/runs/run-{number}/evaluation/evaluation.json"
        report = {"metrics": {"auc": {"value": auc}, "f1": {"value": 0.8}}}
        client("s3").put_object(Bucket=BUCKET, Key=key, Body=json.dumps(report))
        statistics = {"ContentType": "application/json", "S3Uri": f"s3://{BUCKET}/{key}"}
        extra["ModelMetrics"] = {"ModelQuality": {"Statistics": statistics}}
    if metadata:
        extra["CustomerMetadataProperties"] = metadata
    return sagemaker().create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [
                {
                    "Image": "123.dkr.ecr.eu-west-1.amazonaws.com/xgb:1",
                    "ModelDataUrl": f"s3://{BUCKET}/models/fraud-detector/run-1/output/model.tar.gz",
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        DriftCheckBaselines={
            "ModelDataQuality": {
                "Constraints": {"ContentType": "application/json", "S3Uri": f"{BASELINES}/constraints.json"},
                "Statistics": {"ContentType": "application/json", "S3Uri": f"{BASELINES}/statistics.json"},
            }
        },
        **extra,
    )["ModelPackageArn"]


def package(version: int, group: str = GROUP) -> dict[str, Any]:
    arn = next(
        s["ModelPackageArn"]
        for s in sagemaker().list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
        if s["ModelPackageVersion"] == version
    )
    return sagemaker().describe_model_package(ModelPackageName=arn)


def models(cli, *args: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    return cli("models", *args, cwd=ROOT)


# --- approve / reject -------------------------------------------------------------------------
def test_approve_records_who_when_and_why_and_keeps_existing_properties(prod: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    register("PendingManualApproval", metadata={"mlstack:lineage": "s3://b/lineage.json", "team": "risk"})
    code, out, err = models(
        cli, "approve", "fraud-detector", "--env", "prod", "--version", "1", "--reason", "AUC 0.95, reviewed"
    )
    assert code == 0, err
    assert "approved version 1 as arn:aws:sts::333333333333:assumed-role/ml-approver/alice: AUC 0.95" in out
    approved = package(1)
    assert approved["ModelApprovalStatus"] == "Approved"
    assert approved["ApprovalDescription"] == "AUC 0.95, reviewed"
    properties = approved["CustomerMetadataProperties"]
    assert properties["mlstack:lineage"] == "s3://b/lineage.json" and properties["team"] == "risk"  # kept
    assert properties[audit.DECIDED_BY] == "arn:aws:sts::333333333333:assumed-role/ml-approver/alice"
    assert properties[audit.DECISION] == "Approved" and properties[audit.DECIDED_AT].endswith("Z")

    again = models(cli, "approve", "fraud-detector", "--env", "prod", "--version", "1", "--reason", "again")
    assert again[0] == 0 and "version 1 is already approved; nothing changed" in again[1]
    assert package(1)["ApprovalDescription"] == "AUC 0.95, reviewed"


def test_the_update_sends_the_whole_property_map() -> None:
    """UpdateModelPackage gets every existing property back (moto replaces the map; AWS merges)."""
    api = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x").client("sagemaker", region_name="eu-west-1")
    version = lifecycle.Version(
        1,
        "arn:aws:sagemaker:eu-west-1:1:model-package/g/1",
        "PendingManualApproval",
        None,
        metadata={"team": "risk", "mlstack:lineage": "s3://b/l.json"},
    )
    who = audit.Caller("arn:aws:sts::1:assumed-role/r/bob,ops", "1", "AID")
    with Stubber(api) as stub:
        stub.add_response(
            "update_model_package",
            {"ModelPackageArn": version.arn},
            {
                "ModelPackageArn": version.arn,
                "ModelApprovalStatus": "Rejected",
                "ApprovalDescription": "drifted",
                "CustomerMetadataProperties": {
                    "team": "risk",
                    "mlstack:lineage": "s3://b/l.json",
                    audit.DECISION: "Rejected",
                    audit.DECIDED_BY: "arn:aws:sts::1:assumed-role/r/bob_ops",  # a comma is not allowed there
                    audit.DECIDED_AT: ANY,
                },
            },
        )
        outcome = lifecycle.decide(api, version, "Rejected", "drifted", who, gate=None, force=False)
    assert outcome.changed


def test_reject_then_approve_needs_force(prod: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    register("PendingManualApproval")
    assert (
        models(cli, "reject", "fraud-detector", "--env", "prod", "--version", "1", "--reason", "recall dropped")[0] == 0
    )
    assert package(1)["ModelApprovalStatus"] == "Rejected"
    code, _, err = models(cli, "approve", "fraud-detector", "--env", "prod", "--version", "1", "--reason", "fine now")
    assert code == 2
    assert "not approving: version 1 was rejected (recall dropped). If it must serve anyway, add --force" in err
    assert package(1)["ModelApprovalStatus"] == "Rejected"  # nothing written
    forced = models(
        cli, "approve", "fraud-detector", "--env", "prod", "--version", "1", "--reason", "retested", "--force"
    )
    assert forced[0] == 0
    assert package(1)["CustomerMetadataProperties"][audit.FORCED] == "true"


def test_a_version_the_gate_failed_needs_force(prod: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    register("PendingManualApproval", auc=0.7)  # the example's gate: auc >= 0.9
    code, _, err = models(cli, "approve", "fraud-detector", "--env", "prod", "--version", "1", "--reason", "ok")
    assert code == 2
    assert "it failed the quality gate (auc = 0.7; the gate is auc GreaterThanOrEqualTo 0.9)" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--version", "7", "--reason", "x"), "card-fraud-prod-fraud-detector has no version 7 (versions: 1)"),
        (("--version", "1", "--reason", " "), "give a --reason: it is the audit trail of the decision"),
    ],
)
def test_approve_refuses_bad_input(prod: dict[str, str], cli, args: tuple[str, ...], message: str) -> None:  # type: ignore[no-untyped-def]
    register("PendingManualApproval")
    code, _, err = models(cli, "approve", "fraud-detector", "--env", "prod", *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_unknown_model_and_environment(prod: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = models(cli, "approve", "fraud-detecter", "--env", "prod", "--version", "1", "--reason", "x")
    assert code == 2 and "no model 'fraud-detecter' in the spec of prod (models: fraud-detector, merchant-risk)" in err
    code, _, err = models(cli, "list", "qa")
    assert code == 2 and "qa" in err and "Traceback" not in err


def test_a_caller_of_another_account_is_refused_before_anything_is_written(
    prod: dict[str, str],
    cli,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    register("PendingManualApproval")
    for key, value in credentials(STAGING).items():
        monkeypatch.setenv(key, value)
    code, _, err = models(cli, "approve", "fraud-detector", "--env", "prod", "--version", "1", "--reason", "x")
    assert code == 2
    assert "the credentials are for account 222222222222" in err and "prod is account 333333333333" in err
    for key, value in prod.items():
        monkeypatch.setenv(key, value)
    assert package(1)["ModelApprovalStatus"] == "PendingManualApproval"


def test_an_unknown_group_is_a_clear_error(aws: str, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    for key, value in credentials(PROD).items():
        monkeypatch.setenv(key, value)
    code, _, err = models(cli, "approve", "fraud-detector", "--env", "prod", "--version", "1", "--reason", "x")
    assert code == 2 and "no model package group card-fraud-prod-fraud-detector (has the stack been deployed?)" in err


# --- list / show ------------------------------------------------------------------------------
def test_list_shows_metrics_decisions_and_what_serves(prod: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    register("Approved")
    served = register("PendingManualApproval", auc=0.97)
    api = sagemaker()
    api.create_model(
        ModelName="fraud-v2",
        ExecutionRoleArn=f"arn:aws:iam::{PROD}:role/x",
        PrimaryContainer={"ModelPackageName": served},
    )
    api.create_endpoint_config(
        EndpointConfigName="cfg-1",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "fraud-v2",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    api.create_endpoint(EndpointName="card-fraud-prod-fraud-detector", EndpointConfigName="cfg-1")
    code, out, err = models(cli, "list", "prod", "fraud-detector", "--json")
    assert code == 0, err
    rows = json.loads(out)["fraud-detector"]
    assert [(r["version"], r["status"], r["metrics"]["auc"], r["serving"]) for r in rows] == [
        (1, "Approved", 0.95, []),
        (2, "PendingManualApproval", 0.97, ["card-fraud-prod-fraud-detector"]),
    ]
    assert rows[0]["gate_passed"] is True
    code, table, _ = models(cli, "list", "prod", "fraud-detector")
    assert code == 0 and "gate: auc GreaterThanOrEqualTo 0.9" in table and "auc 0.97" in table


def test_list_pages_through_more_than_a_hundred_versions(prod: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    for _ in range(105):
        register("PendingManualApproval", auc=None)
    code, out, err = models(cli, "list", "prod", "fraud-detector", "--json", "--limit", "0")
    assert code == 0, err
    assert [r["version"] for r in json.loads(out)["fraud-detector"]] == list(range(1, 106))
    code, _, err = models(cli, "approve", "fraud-detector", "--env", "prod", "--version", "104", "--reason", "x")
    assert code == 0, err


def test_show_prints_the_audit_trail_and_the_lineage(prod: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    lineage = {
        "pipeline_execution_arn": "arn:aws:sagemaker:eu-west-1:333333333333:pipeline/p/execution/e1",
        "data": {"sources": ["s3://card-fraud-data/tx/"], "rows": 1200},
    }
    key = "pipelines/fraud-detector/runs/e1/lineage/lineage.json"
    client("s3").put_object(Bucket=BUCKET, Key=key, Body=json.dumps(lineage))
    register("PendingManualApproval", metadata={audit.LINEAGE: f"s3://{BUCKET}/{key}"})
    code, out, err = models(cli, "show", "fraud-detector", "1", "--env", "prod", "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["lineage"] == lineage and shown["metrics"] == {"auc": 0.95, "f1": 0.8}
    code, table, _ = models(cli, "show", "fraud-detector", "1", "--env", "prod")
    assert code == 0 and "lineage data.rows" in table and "s3://card-fraud-data/tx/" in table


# --- promote ------------------------------------------------------------------------------------
def test_promote_twice_creates_one_target_version(
    prod: dict[str, str], cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    staging = credentials(STAGING, who="carol")
    profiles = tmp_path / "credentials"
    profiles.write_text(
        "".join(
            f"[{name}]\naws_access_key_id = {c['AWS_ACCESS_KEY_ID']}\naws_secret_access_key = "
            f"{c['AWS_SECRET_ACCESS_KEY']}\naws_session_token = {c['AWS_SESSION_TOKEN']}\n"
            for name, c in (("staging", staging), ("prod", prod))
        )
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(profiles))
    for key, value in staging.items():  # set up the source in the staging account
        monkeypatch.setenv(key, value)
    sagemaker().create_model_package_group(ModelPackageGroupName=STAGING_GROUP)
    register("Approved", auc=None, group=STAGING_GROUP, metadata={audit.LINEAGE: "s3://b/lineage.json"})
    register("PendingManualApproval", auc=None, group=STAGING_GROUP)
    for key in prod:
        monkeypatch.delenv(key)
    args = ["promote", "fraud-detector", "--from", "staging", "--to", "prod", "--reason", "passed the staging soak"]
    args += ["--profile", "prod", "--source-profile", "staging"]
    code, out, err = models(cli, *args, "--version", "1")
    assert code == 0, err
    assert "promoted version 1 to card-fraud-prod-fraud-detector version 1 (PendingManualApproval)" in out
    code, out, err = models(cli, *args, "--version", "1")
    assert code == 0 and "already promoted: it is card-fraud-prod-fraud-detector version 1" in out
    code, _, err = models(cli, *args, "--version", "2")
    assert code == 2 and "version 2 is PendingManualApproval, not Approved" in err
    for key, value in prod.items():
        monkeypatch.setenv(key, value)
    versions = sagemaker().list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    assert len(versions) == 1
    promoted = package(1)
    properties = promoted["CustomerMetadataProperties"]
    assert properties[audit.PROMOTED_FROM].endswith(":222222222222:model-package/card-fraud-staging-fraud-detector/1")
    assert properties[audit.PROMOTED_FROM_ACCOUNT] == STAGING
    assert properties[audit.PROMOTED_BY] == "arn:aws:sts::333333333333:assumed-role/ml-approver/alice"
    assert properties[audit.LINEAGE] == "s3://b/lineage.json"  # provenance travels
    assert promoted["ModelApprovalStatus"] == "PendingManualApproval"
    assert promoted["ModelPackageDescription"] == "passed the staging soak"
    container = promoted["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"].endswith("/models/fraud-detector/run-1/output/model.tar.gz")  # the same artifact
    assert promoted["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]["S3Uri"].startswith(BASELINES)


def test_promote_refuses_the_same_environment(prod: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = models(
        cli, "promote", "fraud-detector", "--version", "1", "--from", "prod", "--to", "prod", "--reason", "x"
    )
    assert code == 2 and "--from and --to are the same environment" in err


# --- history ------------------------------------------------------------------------------------
def test_history_reads_the_event_log(prod: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    logs = client("logs")
    group = "/aws/events/card-fraud-prod-fraud-detector-registry"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="events")
    detail_type = "SageMaker Model Package State Change"
    events = [
        {
            "time": "2026-11-30T10:00:00Z",
            "detail-type": detail_type,
            "detail": {"ModelPackageVersion": 1, "ModelApprovalStatus": "PendingManualApproval"},
        },
        {
            "time": "2026-11-30T11:00:00Z",
            "detail-type": detail_type,
            "detail": {
                "ModelPackageVersion": 1,
                "ModelApprovalStatus": "Approved",
                "ApprovalDescription": "AUC 0.95",
                "CustomerMetadataProperties": {audit.DECISION: "Approved", audit.DECIDED_BY: "arn:aws:sts::3:x/alice"},
            },
        },
        {
            "time": "2026-11-30T12:00:00Z",
            "detail-type": "SageMaker Endpoint State Change",
            "detail": {
                "EndpointName": "card-fraud-prod-fraud-detector",
                "EndpointStatus": "IN_SERVICE",
                "EndpointConfigName": "cfg-a1d8",
            },
        },
    ]
    now = int(time.time() * 1000)  # CloudWatch Logs refuses events older than 14 days
    logs.put_log_events(
        logGroupName=group,
        logStreamName="events",
        logEvents=[{"timestamp": now + i, "message": json.dumps(e)} for i, e in enumerate(events)],
    )
    code, out, err = models(cli, "history", "fraud-detector", "--env", "prod", "--json")
    assert code == 0, err
    timeline = json.loads(out)
    assert timeline["source"] == f"event log {group}"
    assert [(e["what"], e["version"], e["detail"]) for e in timeline["events"]] == [
        ("status", 1, "PendingManualApproval"),
        ("approved", 1, "by arn:aws:sts::3:x/alice: AUC 0.95"),
        ("deployment", None, "endpoint card-fraud-prod-fraud-detector in_service (configuration cfg-a1d8)"),
    ]


def test_history_falls_back_to_the_packages_and_says_so(prod: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    register("PendingManualApproval")
    assert models(cli, "approve", "fraud-detector", "--env", "prod", "--version", "1", "--reason", "AUC 0.95")[0] == 0
    code, out, err = models(cli, "history", "fraud-detector", "--env", "prod", "--json")
    assert code == 0, err
    timeline = json.loads(out)
    assert "does not exist yet" in timeline["source"]
    assert [(e["what"], e["version"]) for e in timeline["events"]] == [("registered", 1), ("approved", 1)]


# --- snapshot (offline plans) -------------------------------------------------------------------
def test_approve_then_snapshot_then_plan_deploys_the_approved_version(
    prod: dict[str, str], cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    sagemaker().create_model_package_group(ModelPackageGroupName="card-fraud-prod-merchant-risk")
    register("Approved")
    register("PendingManualApproval")
    assert models(cli, "approve", "fraud-detector", "--env", "prod", "--version", "2", "--reason", "AUC 0.94")[0] == 0
    register("Approved")
    snapshot = tmp_path / "registry.json"
    code, _, err = models(cli, "snapshot", "prod", "-o", str(snapshot))
    assert code == 0, err
    body = json.loads(snapshot.read_text())
    assert [v["version"] for v in body["groups"][GROUP]] == [1, 2, 3]
    body["groups"]["card-fraud-prod-merchant-risk"] = body["groups"][GROUP]  # a version for the k8s model too
    snapshot.write_text(json.dumps(body))
    plan = synthesize("prod", registry_snapshot=snapshot)
    assert plan.outputs["model_versions"]["fraud-detector"]["version"] == 3
    assert plan.outputs["model_versions"]["fraud-detector"]["source"] == "snapshot"


def test_aws_errors_are_one_line_and_exit_1(aws: str, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    code, _, err = models(cli, "list", "prod")
    assert code == 1 and err.startswith("AWS error:") and "Traceback" not in err


def test_promote_without_read_access_names_share_with_accounts(
    prod: dict[str, str],
    cli,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    """moto does not enforce the group's resource policy: AWS's refusal is played by a stand-in."""
    from botocore.exceptions import ClientError

    real = lifecycle.summaries

    def refused(api: Any, group: str) -> list[dict[str, Any]]:
        if group.startswith("arn:aws:sagemaker:eu-west-1:222222222222:model-package-group/"):
            error = {
                "Error": {"Code": "AccessDeniedException", "Message": "not authorized to perform ListModelPackages"}
            }
            raise ClientError(error, "ListModelPackages")
        return real(api, group)

    monkeypatch.setattr(lifecycle, "summaries", refused)
    args = ["promote", "fraud-detector", "--version", "1", "--from", "staging", "--to", "prod", "--reason", "x"]
    code, _, err = models(cli, *args)
    assert code == 2
    assert "account 333333333333 may not read arn:aws:sagemaker:eu-west-1:222222222222:model-package-group/" in err
    # The example's staging spec shares fraud-detector with prod, so the advice is to deploy staging.
    assert "it is listed in the model's registry.share_with_accounts" in err
    assert sagemaker().list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"] == []
