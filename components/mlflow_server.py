"""A SageMaker-managed MLflow tracking server with its own least-privilege role."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ._policy import child, document, service_trust


@dataclass(frozen=True, kw_only=True)
class MlflowServerArgs:
    server_name: str
    role_name: str
    bucket_name: pulumi.Input[str]
    """Bucket holding the artifact store (under `artifact_prefix`)."""
    artifact_prefix: str = "mlflow"
    kms_key_arn: pulumi.Input[str]
    account_id: pulumi.Input[str]
    mlflow_version: str = "3.0"
    size: str = "Small"
    """Small, Medium or Large."""
    weekly_maintenance_window_start: str = "Sun:03:00"
    tags: Mapping[str, str] = field(default_factory=dict)
    protect: bool = False
    """Protect and retain the server: it holds the experiment and run metadata."""


class MlflowServer(pulumi.ComponentResource):
    server: aws.sagemaker.MlflowTrackingServer
    role: aws.iam.Role
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: MlflowServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlstack:tracking:MlflowServer", name, None, opts)
        bucket_arn = pulumi.Output.concat("arn:aws:s3:::", args.bucket_name)
        self.role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            description="Assumed by the MLflow tracking server to store artifacts (mlstack)",
            assume_role_policy=service_trust("sagemaker.amazonaws.com", args.account_id),
            tags=dict(args.tags),
            opts=child(self),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.name,
            policy=document(
                {
                    "Sid": "ArtifactObjects",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                    "Resource": pulumi.Output.concat(bucket_arn, f"/{args.artifact_prefix}/*"),
                },
                {
                    "Sid": "ListArtifactPrefix",
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": bucket_arn,
                    "Condition": {"StringLike": {"s3:prefix": [f"{args.artifact_prefix}/*"]}},
                },
                {
                    # GetBucketLocation carries no s3:prefix: under that condition it would never be allowed.
                    "Sid": "LocateArtifactBucket",
                    "Effect": "Allow",
                    "Action": "s3:GetBucketLocation",
                    "Resource": bucket_arn,
                },
                {
                    "Sid": "UseProjectKey",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                    "Resource": args.kms_key_arn,
                },
            ),
            opts=child(self),
        )
        self.server = aws.sagemaker.MlflowTrackingServer(
            f"{name}-server",
            tracking_server_name=args.server_name,
            artifact_store_uri=pulumi.Output.concat("s3://", args.bucket_name, f"/{args.artifact_prefix}"),
            role_arn=self.role.arn,
            mlflow_version=args.mlflow_version,
            tracking_server_size=args.size,
            # Models are registered by the training pipeline's quality gate, not by MLflow.
            automatic_model_registration=False,
            weekly_maintenance_window_start=args.weekly_maintenance_window_start,
            tags=dict(args.tags),
            opts=child(self, stateful=True, protect=args.protect, depends_on=[policy]),
        )
        self.arn = self.server.arn
        self.register_outputs({"arn": self.arn})
