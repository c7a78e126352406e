"""The engine-side logic of in-place feature additions, against moto and a Stubber.

moto's server (real boto3 over HTTP on 127.0.0.1) implements CreateFeatureGroup and
DescribeFeatureGroup but not UpdateFeatureGroup; the addition path therefore uses
botocore's Stubber with responses shaped like the SageMaker API reference
(DescribeFeatureGroup: FeatureDefinitions, LastUpdateStatus{Status, FailureReason}).
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from mlstack.components.feature_additions import FeatureAdditionsProvider, FeatureSchemaError, reconcile

ROLE = "arn:aws:iam::123456789012:role/fs"
GROUP = "demo-dev-events"


def _create_group(features: list[tuple[str, str]]) -> None:
    boto3.client("sagemaker").create_feature_group(
        FeatureGroupName=GROUP,
        RecordIdentifierFeatureName="id",
        EventTimeFeatureName="ts",
        FeatureDefinitions=[{"FeatureName": n, "FeatureType": t} for n, t in features],
        OnlineStoreConfig={"EnableOnlineStore": True},
        # moto needs an offline store config to create a group
        OfflineStoreConfig={"S3StorageConfig": {"S3Uri": "s3://demo-dev-artifacts/feature-store"}},
        RoleArn=ROLE,
    )


def _props(features: list[tuple[str, str]]) -> dict:
    return {
        "featureGroupName": GROUP,
        "features": [{"name": n, "type": t} for n, t in features],
        "region": "eu-west-1",
    }


BASE = [("id", "String"), ("ts", "String"), ("amount", "Fractional")]


def test_create_with_the_same_features_adds_nothing(aws: str) -> None:
    _create_group(BASE)
    result = FeatureAdditionsProvider().create(_props(BASE))
    assert result.id == GROUP
    assert result.outs["lastAdded"] == []


def test_a_removed_feature_is_refused_against_the_live_group(aws: str) -> None:
    _create_group(BASE)
    with pytest.raises(FeatureSchemaError) as caught:
        FeatureAdditionsProvider().update(GROUP, _props(BASE), _props(BASE[:2]))
    assert str(caught.value) == (
        "feature group 'demo-dev-events': feature 'amount' exists on the group but is no longer desired "
        "(features cannot be removed)"
    )


def test_a_retyped_feature_is_refused_against_the_live_group(aws: str) -> None:
    _create_group(BASE)
    with pytest.raises(FeatureSchemaError, match=r"feature 'amount' is Fractional on the group, desired String"):
        FeatureAdditionsProvider().update(GROUP, _props(BASE), _props([*BASE[:2], ("amount", "String")]))


def _description(features: list[tuple[str, str]], status: str | None = None, reason: str | None = None) -> dict:
    body: dict = {
        "FeatureGroupArn": f"arn:aws:sagemaker:eu-west-1:123456789012:feature-group/{GROUP}",
        "FeatureGroupName": GROUP,
        "RecordIdentifierFeatureName": "id",
        "EventTimeFeatureName": "ts",
        "FeatureDefinitions": [{"FeatureName": n, "FeatureType": t} for n, t in features],
        "CreationTime": "2026-11-01T00:00:00Z",
        "NextToken": "",
    }
    if status:
        body["LastUpdateStatus"] = {"Status": status, **({"FailureReason": reason} if reason else {})}
    return body


def _stubbed() -> tuple[object, Stubber]:
    client = boto3.client("sagemaker", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


def test_new_features_are_added_in_place_and_awaited() -> None:
    client, stub = _stubbed()
    wanted = [*BASE, ("merchant_risk", "Fractional")]
    stub.add_response("describe_feature_group", _description(BASE), {"FeatureGroupName": GROUP})
    stub.add_response(
        "update_feature_group",
        {"FeatureGroupArn": f"arn:aws:sagemaker:eu-west-1:123456789012:feature-group/{GROUP}"},
        {
            "FeatureGroupName": GROUP,
            "FeatureAdditions": [{"FeatureName": "merchant_risk", "FeatureType": "Fractional"}],
        },
    )
    stub.add_response("describe_feature_group", _description(wanted, "InProgress"), {"FeatureGroupName": GROUP})
    stub.add_response("describe_feature_group", _description(wanted, "Successful"), {"FeatureGroupName": GROUP})
    waits: list[float] = []
    with stub:
        added = reconcile(client, GROUP, wanted, poll_seconds=7, sleep=waits.append)
    stub.assert_no_pending_responses()
    assert added == [("merchant_risk", "Fractional")]
    assert waits == [7]


def test_more_than_100_additions_go_in_batches() -> None:
    client, stub = _stubbed()
    extra = [(f"f{i:03d}", "Integral") for i in range(150)]
    stub.add_response("describe_feature_group", _description(BASE), {"FeatureGroupName": GROUP})
    for batch in (extra[:100], extra[100:]):
        stub.add_response(
            "update_feature_group",
            {"FeatureGroupArn": "arn:aws:sagemaker:eu-west-1:123456789012:feature-group/x"},
            {"FeatureGroupName": GROUP, "FeatureAdditions": [{"FeatureName": n, "FeatureType": t} for n, t in batch]},
        )
        stub.add_response("describe_feature_group", _description(BASE, "Successful"), {"FeatureGroupName": GROUP})
    with stub:
        assert len(reconcile(client, GROUP, [*BASE, *extra], sleep=lambda _: None)) == 150
    stub.assert_no_pending_responses()


def test_a_failed_update_is_reported_with_its_reason() -> None:
    client, stub = _stubbed()
    stub.add_response(
        "describe_feature_group", _description(BASE, "Failed", "quota exceeded"), {"FeatureGroupName": GROUP}
    )
    with stub, pytest.raises(FeatureSchemaError, match="last update of feature group 'demo-dev-events' failed: quota"):
        reconcile(client, GROUP, BASE, sleep=lambda _: None)


def test_diff_additions_update_in_place_renames_replace_removals_fail() -> None:
    provider = FeatureAdditionsProvider()
    grown = provider.diff(GROUP, _props(BASE), _props([*BASE, ("x", "String")]))
    assert (grown.changes, grown.replaces) == (True, [])
    same = provider.diff(GROUP, _props(BASE), _props(BASE))
    assert same.changes is False
    renamed = provider.diff(GROUP, _props(BASE), {**_props(BASE), "featureGroupName": "other"})
    assert renamed.replaces == ["featureGroupName"]
    with pytest.raises(FeatureSchemaError, match="feature 'amount' exists on the group"):
        provider.diff(GROUP, _props(BASE), _props(BASE[:2]))


def test_delete_never_touches_aws() -> None:
    assert FeatureAdditionsProvider().delete(GROUP, _props(BASE)) is None
