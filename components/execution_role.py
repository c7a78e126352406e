"""A least-privilege IAM role that SageMaker jobs, models and pipelines assume."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from ._policy import child, document, sagemaker_job_statements, service_trust, vpc_access_statements


@dataclass(frozen=True, kw_only=True)
class SageMakerExecutionRoleArgs:
    role_name: str
    account_id: str
    region: str
    bucket_arn: pulumi.Input[str]
    """The only bucket the role may read and write."""
    kms_key_arn: pulumi.Input[str]
    """The only key the role may use."""
    service: str = "sagemaker.amazonaws.com"
    """Service principal allowed to assume the role."""
    vpc_subnet_ids: Sequence[str] = ()
    vpc_security_group_ids: Sequence[str] = ()
    """Subnets models and jobs run in; the role may then create network interfaces there."""
    extra_statements: Sequence[Mapping[str, Any]] = ()
    """Further scoped statements (e.g. a feature group or package group ARN)."""
    tags: Mapping[str, str] = field(default_factory=dict)


class SageMakerExecutionRole(pulumi.ComponentResource):
    role: aws.iam.Role
    arn: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: SageMakerExecutionRoleArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlstack:security:SageMakerExecutionRole", name, None, opts)
        self.role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            description="Assumed by SageMaker jobs and models of this project (mlstack)",
            assume_role_policy=service_trust(args.service, args.account_id),
            max_session_duration=3600,
            tags=dict(args.tags),
            opts=child(self),
        )
        statements: list[Mapping[str, Any]] = [
            {
                "Sid": "ReadWriteProjectObjects",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:AbortMultipartUpload",
                ],
                "Resource": pulumi.Output.concat(args.bucket_arn, "/*"),
            },
            {
                "Sid": "ListProjectBucket",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": args.bucket_arn,
            },
            {
                "Sid": "UseProjectKey",
                "Effect": "Allow",
                "Action": [
                    "kms:Decrypt",
                    "kms:Encrypt",
                    "kms:GenerateDataKey",
                    "kms:DescribeKey",
                    "kms:CreateGrant",
                ],
                "Resource": args.kms_key_arn,
            },
            *sagemaker_job_statements(args.region, args.account_id),
            *(
                vpc_access_statements(args.region, args.account_id, args.vpc_subnet_ids, args.vpc_security_group_ids)
                if args.vpc_subnet_ids
                else []
            ),
            *args.extra_statements,
        ]
        aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.name,
            policy=document(*statements),
            opts=child(self),
        )
        self.arn = self.role.arn
        self.name = self.role.name
        self.register_outputs({"arn": self.arn, "name": self.name})
