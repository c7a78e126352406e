"""The foundation every ML project stands on: a KMS key, the artifact bucket, the SageMaker role."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from .encryption_key import EncryptionKey, EncryptionKeyArgs
from .execution_role import SageMakerExecutionRole, SageMakerExecutionRoleArgs
from .secure_bucket import SecureBucket, SecureBucketArgs


@dataclass(frozen=True, kw_only=True)
class FoundationArgs:
    account_id: str
    region: str
    key_alias: str
    """e.g. alias/card-fraud-prod"""
    bucket_name: str
    role_name: str
    noncurrent_version_days: int = 90
    vpc_subnet_ids: Sequence[str] = ()
    vpc_security_group_ids: Sequence[str] = ()
    """VPC placement of SageMaker jobs and models that use the execution role."""
    share_models_with: Sequence[str] = ()
    """Accounts that deploy models registered here: they may read `models/` and decrypt it."""
    tags: Mapping[str, str] = field(default_factory=dict)
    protect: bool = False
    """Protect and retain the key and the bucket (prod)."""


class Foundation(pulumi.ComponentResource):
    key: EncryptionKey
    bucket: SecureBucket
    role: SageMakerExecutionRole

    def __init__(self, name: str, args: FoundationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlstack:foundation:Foundation", name, None, opts)
        parent = pulumi.ResourceOptions(parent=self)
        self.key = EncryptionKey(
            f"{name}-kms",
            EncryptionKeyArgs(
                alias=args.key_alias,
                account_id=args.account_id,
                description=f"Encrypts data, artifacts, stores and topics of {args.bucket_name}",
                # Alarms and EventBridge publish to our KMS-encrypted SNS topics.
                service_principals=("cloudwatch.amazonaws.com", "events.amazonaws.com"),
                log_groups_region=args.region,  # the registry's history log groups
                decrypt_accounts=args.share_models_with,
                tags=args.tags,
                protect=args.protect,
            ),
            parent,
        )
        self.bucket = SecureBucket(
            f"{name}-artifacts",
            SecureBucketArgs(
                bucket_name=args.bucket_name,
                kms_key_arn=self.key.arn,
                noncurrent_version_days=args.noncurrent_version_days,
                read_accounts=args.share_models_with,
                read_prefix="models/",
                tags=args.tags,
                protect=args.protect,
            ),
            parent,
        )
        self.role = SageMakerExecutionRole(
            f"{name}-sagemaker",
            SageMakerExecutionRoleArgs(
                role_name=args.role_name,
                account_id=args.account_id,
                region=args.region,
                bucket_arn=self.bucket.arn,
                kms_key_arn=self.key.arn,
                vpc_subnet_ids=args.vpc_subnet_ids,
                vpc_security_group_ids=args.vpc_security_group_ids,
                tags=args.tags,
            ),
            parent,
        )
        self.register_outputs({"key_arn": self.key.arn, "bucket_name": self.bucket.name, "role_arn": self.role.arn})
