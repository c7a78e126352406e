"""A SageMaker feature store: feature groups with encrypted online/offline stores.

Changes to a group's feature definitions never replace it: the FeatureGroup
ignores them after creation, and a FeatureAdditions resource adds new features in
place (see feature_additions.py). Removing or retyping is refused there and, with
a located error, earlier by mlstack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ._policy import child, document
from .feature_additions import FeatureAdditions


@dataclass(frozen=True, kw_only=True)
class FeatureGroupArgs:
    key: str
    """Stable short name; child resources are named after it (changing it replaces the group)."""
    name: str
    """Physical feature group name (1-64 characters)."""
    record_identifier: str
    event_time: str
    features: Sequence[tuple[str, str]]
    """(name, type) pairs; type is Integral, Fractional or String."""
    description: str = ""
    online_store: bool = True
    ttl: tuple[int, str] | None = None
    """Online record expiry as (value, unit), e.g. (30, "Days")."""
    offline_store: bool = True
    table_format: str = "Iceberg"
    throughput_mode: str = "OnDemand"


@dataclass(frozen=True, kw_only=True)
class FeatureStoreArgs:
    groups: Sequence[FeatureGroupArgs]
    role_arn: pulumi.Input[str]
    """Role the feature store assumes to write the offline store."""
    role_name: pulumi.Input[str]
    """Same role, by name: the component attaches the Glue catalog permissions it needs."""
    kms_key_arn: pulumi.Input[str]
    """Encrypts the online store and the offline store objects."""
    offline_store_s3_uri: pulumi.Input[str]
    """Prefix for offline stores, e.g. s3://bucket/feature-store."""
    region: pulumi.Input[str]
    account_id: pulumi.Input[str]
    tags: Mapping[str, str] = field(default_factory=dict)
    protect: bool = False
    """Protect and retain the groups (their stores hold the data)."""


class FeatureStore(pulumi.ComponentResource):
    groups: dict[str, aws.sagemaker.FeatureGroup]
    arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: FeatureStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlstack:featurestore:FeatureStore", name, None, opts)
        self.groups = {}
        catalog_access = None
        if any(g.offline_store for g in args.groups):
            catalog_access = self._grant_catalog_access(name, args)
        for group in args.groups:
            self.groups[group.key] = self._group(name, group, args, catalog_access)
        self.arns = {key: g.arn for key, g in self.groups.items()}
        self.register_outputs({"arns": self.arns})

    def offline_data_uri(self, key: str) -> pulumi.Output[str]:
        """Where SageMaker writes group `key`'s offline store (resolvedOutputS3Uri: the path embeds
        the creation time, so it is known only once the group exists)."""
        return self.groups[key].offline_store_config.apply(
            lambda config: config.s3_storage_config.resolved_output_s3_uri if config else None  # type: ignore[union-attr,return-value]
        )

    def _grant_catalog_access(self, name: str, args: FeatureStoreArgs) -> aws.iam.RolePolicy:
        arn = pulumi.Output.concat
        prefix = arn("arn:aws:glue:", args.region, ":", args.account_id)
        return aws.iam.RolePolicy(
            f"{name}-catalog-access",
            role=args.role_name,
            policy=document(
                {
                    # Offline stores register Glue tables in the feature store database.
                    "Sid": "RegisterOfflineStoreTables",
                    "Effect": "Allow",
                    "Action": [
                        "glue:GetTable",
                        "glue:CreateTable",
                        "glue:UpdateTable",
                        "glue:GetDatabase",
                        "glue:CreateDatabase",
                        "glue:GetPartitions",
                        "glue:BatchCreatePartition",
                    ],
                    "Resource": [
                        arn(prefix, ":catalog"),
                        arn(prefix, ":database/sagemaker_featurestore"),
                        arn(prefix, ":table/sagemaker_featurestore/*"),
                    ],
                }
            ),
            opts=child(self),
        )

    def _group(
        self, name: str, group: FeatureGroupArgs, args: FeatureStoreArgs, catalog_access: aws.iam.RolePolicy | None
    ) -> aws.sagemaker.FeatureGroup:
        online = None
        if group.online_store:
            online = {"enable_online_store": True, "security_config": {"kms_key_id": args.kms_key_arn}}
            if group.ttl:
                online["ttl_duration"] = {"value": group.ttl[0], "unit": group.ttl[1]}
        offline = None
        if group.offline_store:
            offline = {
                "s3_storage_config": {"s3_uri": args.offline_store_s3_uri, "kms_key_id": args.kms_key_arn},
                "table_format": group.table_format,
                "disable_glue_table_creation": False,
            }
        resource = aws.sagemaker.FeatureGroup(
            f"{name}-{group.key}",
            feature_group_name=group.name,
            description=group.description or None,
            record_identifier_feature_name=group.record_identifier,
            event_time_feature_name=group.event_time,
            feature_definitions=[{"feature_name": n, "feature_type": t} for n, t in group.features],
            online_store_config=online,
            offline_store_config=offline,
            throughput_config={"throughput_mode": group.throughput_mode},
            role_arn=args.role_arn,
            tags=dict(args.tags),
            opts=child(
                self,
                stateful=True,
                protect=args.protect,
                # Definitions change only through FeatureAdditions: a replacement would lose data.
                ignore_changes=["featureDefinitions"],
                depends_on=[catalog_access] if catalog_access else None,
            ),
        )
        FeatureAdditions(
            f"{name}-{group.key}-additions",
            feature_group_name=resource.feature_group_name,
            features=group.features,
            region=args.region,
            opts=child(self, depends_on=[resource]),
        )
        return resource
