"""Feature-store rules: a compliant group, one mutation per requirement, unknowns, odd shapes, the example."""

from __future__ import annotations

from typing import Any

import pytest

from mlstack.policies.rules import by_name
from mlstack.policies.testing import DELETE, UNKNOWN, Resource, mutate, run_resource_policy

ONLINE = by_name("feature-group-online-store-encrypted")
OFFLINE = by_name("feature-group-offline-store-encrypted")
TYPE = "aws:sagemaker/featureGroup:FeatureGroup"
KEY = "arn:aws:kms:eu-west-1:333333333333:key/k"
GROUP: dict[str, Any] = {
    "featureGroupName": "card-fraud-prod-transactions",
    "onlineStoreConfig": {"enableOnlineStore": True, "securityConfig": {"kmsKeyId": KEY}},
    "offlineStoreConfig": {"s3StorageConfig": {"s3Uri": "s3://b/feature-store", "kmsKeyId": KEY}},
}


def _messages(policy: Any, props: dict[str, Any]) -> list[str]:
    return run_resource_policy(policy, [Resource(TYPE, props)]).messages()


def test_compliant_group_passes_both() -> None:
    assert _messages(ONLINE, GROUP) == [] and _messages(OFFLINE, GROUP) == []


@pytest.mark.parametrize(
    ("policy", "path", "value", "message"),
    [
        (
            ONLINE,
            "onlineStoreConfig.securityConfig.kmsKeyId",
            DELETE,
            "the online store is not encrypted with our KMS key (onlineStoreConfig.securityConfig.kmsKeyId)",
        ),
        (
            ONLINE,
            "onlineStoreConfig.securityConfig",
            DELETE,
            "the online store is not encrypted with our KMS key (onlineStoreConfig.securityConfig.kmsKeyId)",
        ),
        (
            OFFLINE,
            "offlineStoreConfig.s3StorageConfig.kmsKeyId",
            "",
            "the offline store is not encrypted with our KMS key (offlineStoreConfig.s3StorageConfig.kmsKeyId)",
        ),
    ],
)
def test_each_missing_key_is_reported(policy: Any, path: str, value: Any, message: str) -> None:
    assert _messages(policy, mutate(GROUP, path, value)) == [message]


def test_stores_that_do_not_exist_need_no_key() -> None:
    no_online = mutate(GROUP, "onlineStoreConfig", {"enableOnlineStore": False})
    assert _messages(ONLINE, no_online) == []
    assert _messages(ONLINE, mutate(GROUP, "onlineStoreConfig", DELETE)) == []
    assert _messages(OFFLINE, mutate(GROUP, "offlineStoreConfig", DELETE)) == []


@pytest.mark.parametrize(
    ("policy", "path"),
    [
        (ONLINE, "onlineStoreConfig.securityConfig.kmsKeyId"),
        (ONLINE, "onlineStoreConfig.enableOnlineStore"),
        (OFFLINE, "offlineStoreConfig.s3StorageConfig.kmsKeyId"),
    ],
)
def test_unknown_values_are_not_evaluated(policy: Any, path: str) -> None:
    report = run_resource_policy(policy, [Resource(TYPE, mutate(GROUP, path, UNKNOWN))])
    assert report.violations == [] and len(report.not_evaluated) == 1


@pytest.mark.parametrize(
    "props",
    [
        {},
        {"onlineStoreConfig": None, "offlineStoreConfig": None},
        {"onlineStoreConfig": [], "offlineStoreConfig": "s3://x"},
        {"onlineStoreConfig": {"enableOnlineStore": "true", "securityConfig": ["k"]}},
        {"offlineStoreConfig": {"s3StorageConfig": {"kmsKeyId": 42}}},
    ],
)
def test_odd_shapes_do_not_raise(props: dict[str, Any]) -> None:
    for policy in (ONLINE, OFFLINE):
        run_resource_policy(policy, [Resource(TYPE, props)])


def test_odd_shapes_still_fail_closed() -> None:
    assert _messages(ONLINE, {"onlineStoreConfig": {"enableOnlineStore": "true"}}) != []
    assert _messages(OFFLINE, {"offlineStoreConfig": {"s3StorageConfig": {"kmsKeyId": 42}}}) != []


def test_other_types_are_ignored() -> None:
    assert run_resource_policy(ONLINE, [Resource("aws:s3/bucket:Bucket", {})]).messages() == []


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_the_example_passes(plans: Any, environment: str) -> None:
    resources = [Resource.from_plan(r.as_dict()) for r in plans(environment).resources]
    groups = [r for r in resources if r.type == TYPE]
    assert len(groups) == 2
    for policy in (ONLINE, OFFLINE):
        report = run_resource_policy(policy, resources)
        assert report.violations == [] and report.not_evaluated == []
