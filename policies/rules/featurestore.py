"""Feature Store: feature groups hold training and serving data, so both stores use our KMS key.

Without a key of ours, AWS encrypts with an AWS owned (online) or AWS managed (offline) key:
encrypted, but outside our key policy, rotation and audit trail.
"""

from __future__ import annotations

from collections.abc import Mapping

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from ._base import Meta, for_types, get, resource_rule, truthy
from .sagemaker_jobs import present

FEATURE_GROUP = "aws:sagemaker/featureGroup:FeatureGroup"


@for_types(FEATURE_GROUP)
def _online_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    online = get(args.props, "onlineStoreConfig")
    if truthy(get(online, "enableOnlineStore")) and not present(get(online, "securityConfig", "kmsKeyId")):
        report("the online store is not encrypted with our KMS key (onlineStoreConfig.securityConfig.kmsKeyId)")


@for_types(FEATURE_GROUP)
def _offline_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    offline = get(args.props, "offlineStoreConfig")
    if isinstance(offline, Mapping) and not present(get(offline, "s3StorageConfig", "kmsKeyId")):
        report("the offline store is not encrypted with our KMS key (offlineStoreConfig.s3StorageConfig.kmsKeyId)")


POLICIES = [
    resource_rule(
        "feature-group-online-store-encrypted",
        Meta(
            description="A feature group with an online store encrypts it with a customer managed KMS key. All tiers.",
            severity=Severity.HIGH,
            fix="Set onlineStoreConfig.securityConfig.kmsKeyId to the environment's KMS key (mlstack's "
            "FeatureStore component does). The key is fixed at creation: changing it replaces the group.",
        ),
        _online_encrypted,
    ),
    resource_rule(
        "feature-group-offline-store-encrypted",
        Meta(
            description="A feature group with an offline store encrypts its S3 data with a customer managed "
            "KMS key. All tiers.",
            severity=Severity.HIGH,
            fix="Set offlineStoreConfig.s3StorageConfig.kmsKeyId to the environment's KMS key (mlstack's "
            "FeatureStore component does). The key is fixed at creation: changing it replaces the group.",
        ),
        _offline_encrypted,
    ),
]
