"""Small helpers shared by components for IAM/KMS/S3 policy documents."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws


def document(*statements: dict[str, Any]) -> pulumi.Output[str]:
    """An IAM policy document as a JSON string Output (statements may hold Outputs)."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def child(
    parent: pulumi.Resource, *, stateful: bool = False, protect: bool = False, **extra: Any
) -> pulumi.ResourceOptions:
    """Options for a component's child: parented, and for stateful resources
    protected and retained when `protect` is on (prod)."""
    if stateful and protect:
        extra.update(protect=True, retain_on_delete=True)
    return pulumi.ResourceOptions(parent=parent, **extra)


def sagemaker_job_statements(region: pulumi.Input[str], account_id: pulumi.Input[str]) -> list[dict[str, Any]]:
    """What any role running SageMaker jobs needs besides data: logs, metrics, image pulls."""
    log_groups = pulumi.Output.concat("arn:aws:logs:", region, ":", account_id, ":log-group:/aws/sagemaker/*")
    return [
        {
            "Sid": "WriteSageMakerLogs",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
            ],
            "Resource": [log_groups, pulumi.Output.concat(log_groups, ":log-stream:*")],
        },
        {
            # PutMetricData has no resource-level permissions; the namespace condition scopes it.
            "Sid": "PublishSageMakerMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            # aws/sagemaker/Endpoints/*: where Model Monitor's jobs publish drift (the model-monitor engine).
            "Condition": {
                "StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "SageMaker*", "aws/sagemaker/Endpoints/*"]}
            },
        },
        {
            # GetAuthorizationToken has no resource-level permissions.
            "Sid": "AuthenticateToEcr",
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*",
        },
        {
            "Sid": "PullImagesInRegion",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability",
            ],
            "Resource": pulumi.Output.concat("arn:aws:ecr:", region, ":*:repository/*"),
        },
    ]


def vpc_access_statements(
    region: str, account_id: str, subnet_ids: Sequence[str], security_group_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """What SageMaker needs to place a job's or model's network interfaces in our subnets, and no more."""
    ec2 = f"arn:aws:ec2:{region}:{account_id}"
    return [
        {
            # The EC2 Describe* calls have no resource-level permissions.
            "Sid": "DescribeNetwork",
            "Effect": "Allow",
            "Action": [
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeVpcs",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
            ],
            "Resource": "*",
        },
        {
            "Sid": "CreateInterfacesInOurSubnets",
            "Effect": "Allow",
            "Action": "ec2:CreateNetworkInterface",
            "Resource": [
                f"{ec2}:network-interface/*",
                *(f"{ec2}:subnet/{s}" for s in sorted(subnet_ids)),
                *(f"{ec2}:security-group/{g}" for g in sorted(security_group_ids)),
            ],
        },
        {
            "Sid": "ManageOwnInterfaces",
            "Effect": "Allow",
            "Action": [
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
            ],
            "Resource": f"{ec2}:network-interface/*",
        },
    ]


def write_own_logs(log_group_arn: pulumi.Input[str]) -> dict[str, Any]:
    """What a Lambda function needs to log: streams of its own log group, nothing else."""
    return {
        "Sid": "WriteOwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": pulumi.Output.concat(log_group_arn, ":*"),
    }


def service_trust(services: str | Sequence[str], account_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """Trust policy letting AWS services assume a role, only on behalf of our account (confused deputy)."""
    principal = services if isinstance(services, str) else sorted(services)
    return document(
        {
            "Effect": "Allow",
            "Principal": {"Service": principal},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    )


def service_role(
    parent: pulumi.Resource,
    logical: str,
    *,
    name: str,
    description: str,
    service: str,
    account_id: pulumi.Input[str],
    tags: Mapping[str, str],
) -> aws.iam.Role:
    """A role only `service` may assume, on behalf of this account, as a child of `parent`."""
    return aws.iam.Role(
        logical,
        name=name,
        description=description,
        assume_role_policy=service_trust(service, account_id),
        tags=dict(tags),
        opts=child(parent),
    )


def s3_location(uri: str) -> tuple[str, str]:
    """(bucket, key prefix without slashes at its ends) of an s3:// URI."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key.strip("/")


def content_name(prefix: str, content: Any) -> str:
    """`prefix-<10 hex>` of the JSON content: same content, same name; any change, a new name.

    For resources whose every property forces replacement (endpoint configurations, models,
    monitoring job definitions): the new one is created before the old one is deleted.
    """
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return f"{prefix}-{digest}"
