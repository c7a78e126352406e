"""Which model version an endpoint deploys: live registry (moto over HTTP), snapshot, stand-in."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest

from mlstack.registry.versions import (
    LiveRegistry,
    ResolvedVersion,
    SnapshotError,
    SnapshotRegistry,
    VersionResolutionError,
    details_of,
    resolve,
    snapshot_from_live,
    stand_in,
)

REGION, ACCOUNT = "eu-west-1", "123456789012"  # moto's default account
GROUP = "card-fraud-prod-fraud-detector"
IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
BUCKET = "card-fraud-prod-artifacts-123456789012"


def _uris(run: str) -> dict[str, str]:
    baseline = f"s3://{BUCKET}/baselines/fraud-detector/data-quality/{run}"
    return {
        "model": f"s3://{BUCKET}/models/fraud-detector/{run}/output/model.tar.gz",
        "constraints": f"{baseline}/constraints.json",
        "statistics": f"{baseline}/statistics.json",
    }


def _registry(statuses: list[str], group: str = GROUP) -> Any:
    """A group whose versions 1..n end up in `statuses`, registered Pending then approved/rejected, as in life."""
    client = boto3.client("sagemaker", region_name=REGION)
    client.create_model_package_group(ModelPackageGroupName=group)
    for index, status in enumerate(statuses, start=1):
        uris = _uris(f"run-{index}")
        arn = client.create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [{"Image": IMAGE, "ModelDataUrl": uris["model"]}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            DriftCheckBaselines={
                "ModelDataQuality": {
                    "Constraints": {"ContentType": "application/json", "S3Uri": uris["constraints"]},
                    "Statistics": {"ContentType": "application/json", "S3Uri": uris["statistics"]},
                }
            },
        )["ModelPackageArn"]
        if status != "PendingManualApproval":
            client.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)
    return client


MIXED = ["Approved", "Approved", "Rejected", "PendingManualApproval"]  # latest Approved: 2
UNAPPROVED = ["Rejected", "PendingManualApproval", "PendingManualApproval"]


def _resolve(source: Any, group: str = GROUP, **kwargs: Any) -> ResolvedVersion | None:
    args = {"pinned": None, "require_approved": False, "when_unapproved": "fail", **kwargs}
    return resolve(source, group, **args)


# --- live registry (moto) ------------------------------------------------------------
def test_latest_approved_among_mixed_states_with_its_artifact_and_baseline(aws: str) -> None:
    client = _registry(MIXED)
    got = _resolve(LiveRegistry(client), require_approved=True)
    uris = _uris("run-2")
    assert got == ResolvedVersion(
        group=GROUP,
        version=2,
        arn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/2",
        approval_status="Approved",
        source="registry",
        model_data_url=uris["model"],
        image=IMAGE,
        baseline_constraints_uri=uris["constraints"],  # moto keeps DriftCheckBaselines: no Stubber needed
        baseline_statistics_uri=uris["statistics"],
    )


def test_pinned_versions(aws: str) -> None:
    live = LiveRegistry(_registry(MIXED))
    older = _resolve(live, pinned=1, require_approved=True)
    assert older is not None and (older.version, older.model_data_url) == (1, _uris("run-1")["model"])
    pending = _resolve(live, pinned=4)  # dev: an explicit pin may deploy a candidate, with a warning
    assert pending is not None and pending.version == 4
    assert pending.warning == f"deploying version 4 of '{GROUP}', which is PendingManualApproval (pinned)"
    with pytest.raises(VersionResolutionError) as raised:
        _resolve(live, pinned=4, require_approved=True, model="fraud-detector", environment="prod")
    assert str(raised.value) == (
        f"version 4 of model package group '{GROUP}' is PendingManualApproval and only Approved versions may be "
        "deployed here; approve it with `mlstack models approve fraud-detector --env prod --version 4`"
    )
    with pytest.raises(VersionResolutionError, match=r"version 3 of .* is Rejected: pin another"):
        _resolve(live, pinned=3)
    with pytest.raises(VersionResolutionError) as raised:
        _resolve(live, pinned=9)
    assert str(raised.value) == f"model package group '{GROUP}' has no version 9 (versions: 1, 2, 3, 4)"


def test_no_approved_version_fail_latest_skip(aws: str) -> None:
    live = LiveRegistry(_registry(UNAPPROVED))
    with pytest.raises(VersionResolutionError) as raised:
        _resolve(live, model="fraud-detector", environment="prod")
    assert str(raised.value) == (
        f"no Approved version in model package group '{GROUP}'; approve one with "
        "`mlstack models approve fraud-detector --env prod --version 3` (pending: 2, 3; rejected: 1)"
    )
    with pytest.raises(VersionResolutionError, match=r"update-model-package --model-package-arn arn:aws:\S+/3 "):
        _resolve(live)  # without model/environment: the AWS CLI command for the newest pending ARN

    latest = _resolve(live, when_unapproved="latest")
    assert latest is not None and (latest.version, latest.approval_status) == (3, "PendingManualApproval")
    assert latest.warning == (
        f"no Approved version in model package group '{GROUP}': deploying the newest, version 3 "
        "(PendingManualApproval), because when_unapproved is latest"
    )
    told: list[str] = []
    assert (
        _resolve(live, when_unapproved="skip", model="fraud-detector", environment="prod", on_skip=told.append) is None
    )
    assert told == [f"{raised.value}; the endpoint is skipped (when_unapproved: skip)"]
    with pytest.raises(VersionResolutionError):  # approval required: fail, whatever the spec says
        _resolve(live, when_unapproved="skip", require_approved=True)


def test_only_rejected_or_no_versions_cannot_fall_back(aws: str) -> None:
    client = _registry(["Rejected", "Rejected"])
    with pytest.raises(VersionResolutionError) as raised:
        _resolve(LiveRegistry(client), when_unapproved="latest")
    assert str(raised.value) == (
        f"no Approved version in model package group '{GROUP}' (rejected: 1, 2): retrain for a new one"
    )
    _registry([], group="empty")
    with pytest.raises(VersionResolutionError) as raised:
        _resolve(LiveRegistry(client), "empty", when_unapproved="latest")
    assert (
        str(raised.value)
        == "model package group 'empty' has no versions yet: has its training pipeline registered one?"
    )


def test_unknown_group(aws: str) -> None:
    live = LiveRegistry(boto3.client("sagemaker", region_name=REGION))
    message = (
        f"model package group 'nope' does not exist in account {ACCOUNT}, region {REGION}: "
        "has its training pipeline run yet?"
    )
    for pinned in (None, 1):
        with pytest.raises(VersionResolutionError) as raised:
            _resolve(live, "nope", pinned=pinned)
        assert str(raised.value) == message
    told: list[str] = []
    assert _resolve(live, "nope", when_unapproved="skip", on_skip=told.append) is None  # first `up` in dev
    assert told == [f"{message}; the endpoint is skipped (when_unapproved: skip)"]


def test_pagination_reads_every_page(aws: str) -> None:
    client = _registry(["Approved"] * 5 + ["PendingManualApproval"])
    calls: list[str] = []
    client.meta.events.register("after-call.sagemaker.ListModelPackages", lambda **_: calls.append("list"))
    live = LiveRegistry(client, page_size=2)  # moto honours MaxResults/NextToken (its own page is 100)
    got = _resolve(live)
    assert got is not None and got.version == 5
    assert len(calls) == 3  # 5 Approved, 2 a page
    assert [e.version for e in live.versions(GROUP)] == [6, 5, 4, 3, 2, 1]  # CreationTime, Descending


def test_model_metrics_stand_in_for_missing_drift_check_baselines() -> None:
    # Shaped like DescribeModelPackage in the API reference; older packages may lack DriftCheckBaselines.
    quality = {"Constraints": {"S3Uri": "s3://b/c.json"}, "Statistics": {"S3Uri": "s3://b/s.json"}}
    got = details_of({"ModelMetrics": {"ModelDataQuality": quality}, "InferenceSpecification": {"Containers": []}})
    assert (got.model_data_url, got.baseline_constraints_uri, got.baseline_statistics_uri) == (
        None,
        "s3://b/c.json",
        "s3://b/s.json",
    )


# --- snapshot --------------------------------------------------------------------------
def test_snapshot_makes_the_same_decisions_as_the_live_registry(aws: str, tmp_path: Path) -> None:
    client = _registry(MIXED)
    _registry(UNAPPROVED, group="other")
    _registry([], group="empty")
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(snapshot_from_live(client, [GROUP, "other", "empty", "nope"])))
    snapshot, live = SnapshotRegistry.load(path), LiveRegistry(client)
    assert set(snapshot.groups) == {GROUP, "other", "empty"}  # unknown groups are left out
    cases = [
        {"pinned": pinned, "require_approved": required, "when_unapproved": policy}
        for pinned in (None, 1, 3, 4, 9)
        for required in (False, True)
        for policy in ("fail", "latest", "skip")
    ]
    for group in (GROUP, "other", "empty"):
        for case in cases:
            outcomes = []
            for source in (live, snapshot):
                try:
                    got = resolve(source, group, **case)
                    outcomes.append(got and dataclasses.replace(got, source="registry"))
                except VersionResolutionError as exc:
                    outcomes.append(str(exc))
            assert outcomes[0] == outcomes[1], (group, case)
    with pytest.raises(VersionResolutionError) as raised:
        _resolve(snapshot, "nope")
    assert str(raised.value) == (
        f"model package group 'nope' does not exist in registry snapshot '{path}': has its training pipeline run yet? "
        "(if it has, take a new snapshot with `mlstack models snapshot`)"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "registry snapshot '{path}' not found; write one with `mlstack models snapshot`"),
        ("{", "registry snapshot '{path}' is not valid JSON (line 1, column 2: "),
        ('{"group": {}}', 'must be {{"groups": {{"<model package group>": [<version>, ...]}}}}'),
        ('{"groups": {"g": [{"version": 1, "arn": "arn:x", "status": "approved"}]}}',
         "'{path}': groups['g'][0].status must be one of Approved, PendingManualApproval, Rejected (got 'approved')"),
        ('{"groups": {"g": [{"version": "1", "arn": "arn:x", "status": "Approved"}]}}',
         "groups['g'][0].version must be an integer >= 1 (got '1')"),
        ('{"groups": {"g": [{"version": 1, "arn": "arn:x", "status": "Approved", "stauts": 1}]}}',
         "groups['g'][0] has unknown keys stauts (known: "),
        ('{"groups": {"g": [{"version": 1, "arn": "arn:x", "status": "Approved", "image": 3}]}}',
         "groups['g'][0].image must be a string or null (got 3)"),
    ],
)  # fmt: skip
def test_a_bad_snapshot_file_says_what_is_wrong(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "registry.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SnapshotError) as raised:
        SnapshotRegistry.load(path)
    assert message.format(path=path) in str(raised.value)


# --- offline paths never touch AWS -----------------------------------------------------
def test_snapshot_and_stand_in_create_no_boto3_client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the offline path created a boto3 client")

    monkeypatch.setattr(boto3, "client", refuse)
    monkeypatch.setattr(boto3.session.Session, "client", refuse)
    monkeypatch.setattr(botocore.session.Session, "create_client", refuse)
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/"
    items = [{"version": v, "arn": f"{arn}{v}", "status": s} for v, s in enumerate(MIXED, start=1)]
    path = tmp_path / "registry.json"
    path.write_text(json.dumps({"groups": {GROUP: items, "other": [dict(items[3], version=1)]}}))
    snapshot = SnapshotRegistry.load(path)
    got = _resolve(snapshot, require_approved=True)
    assert got is not None and (got.version, got.source, got.model_data_url) == (2, "snapshot", None)
    latest = _resolve(snapshot, "other", when_unapproved="latest")
    assert latest is not None and latest.warning is not None
    assert _resolve(snapshot, "other", when_unapproved="skip") is None
    with pytest.raises(VersionResolutionError):
        _resolve(snapshot, "nope")

    stand = stand_in(GROUP, REGION, ACCOUNT, bucket=BUCKET, model="fraud-detector")
    assert stand == ResolvedVersion(
        group=GROUP,
        version=1,
        arn=f"{arn}1",
        approval_status="Approved",
        source="stand-in",
        model_data_url=f"s3://{BUCKET}/models/fraud-detector/stand-in/output/model.tar.gz",
        baseline_constraints_uri=f"s3://{BUCKET}/baselines/fraud-detector/data-quality/stand-in/constraints.json",
        baseline_statistics_uri=f"s3://{BUCKET}/baselines/fraud-detector/data-quality/stand-in/statistics.json",
    )
    assert stand_in(GROUP, REGION, ACCOUNT, bucket=BUCKET, model="fraud-detector", version=7).arn == f"{arn}7"
