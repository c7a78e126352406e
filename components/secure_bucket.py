"""An S3 bucket for ML data and artifacts: private, versioned, KMS-encrypted, TLS-only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ._policy import child, document


@dataclass(frozen=True, kw_only=True)
class SecureBucketArgs:
    bucket_name: str
    """Globally unique bucket name."""
    kms_key_arn: pulumi.Input[str]
    """Customer-managed key for default SSE-KMS encryption."""
    noncurrent_version_days: int = 90
    """Old object versions are kept this long (data/model versioning), then expire."""
    abort_multipart_days: int = 7
    read_accounts: Sequence[str] = ()
    """Other accounts that may read objects under `read_prefix` (e.g. prod deploying a model)."""
    read_prefix: str = "models/"
    tags: Mapping[str, str] = field(default_factory=dict)
    protect: bool = False
    """Protect and retain the bucket: it holds training data and every model artifact."""


class SecureBucket(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlstack:storage:SecureBucket", name, None, opts)
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.bucket_name,
            force_destroy=False,
            tags=dict(args.tags),
            opts=child(self, stateful=True, protect=args.protect),
        )
        bucket_id = self.bucket.id
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket_id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child(self),
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child(self),
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket_id,
            versioning_configuration={"status": "Enabled"},
            opts=child(self),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket_id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": args.kms_key_arn,
                    },
                    "bucket_key_enabled": True,
                }
            ],
            opts=child(self),
        )
        arn = self.bucket.arn
        statements = [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, pulumi.Output.concat(arn, "/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
        if args.read_accounts:
            statements.append(
                {
                    "Sid": "OtherAccountsReadShared",
                    "Effect": "Allow",
                    "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in sorted(args.read_accounts)]},
                    "Action": "s3:GetObject",
                    "Resource": pulumi.Output.concat(arn, "/", args.read_prefix, "*"),
                }
            )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket_id,
            policy=document(*statements),
            # S3 rejects policy writes while the public access block is being changed.
            opts=child(self, depends_on=[public_access]),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket_id,
            rules=[
                {
                    "id": "expire-noncurrent-versions",
                    "status": "Enabled",
                    "filter": {},
                    "noncurrent_version_expiration": {"noncurrent_days": args.noncurrent_version_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": args.abort_multipart_days},
                }
            ],
            # Lifecycle on noncurrent versions needs versioning in place first.
            opts=child(self, depends_on=[versioning]),
        )
        self.name = self.bucket.bucket
        self.arn = arn
        self.register_outputs({"name": self.name, "arn": self.arn})
