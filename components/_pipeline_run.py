"""What starts a pipeline on a schedule and what says when a run failed.

Shared by the pipelines mlstack runs on a clock (the drift monitor, batch scoring): an
EventBridge Scheduler schedule whose role may start that one pipeline and decrypt the
(KMS-encrypted) schedule, and an alarm on the pipeline's ExecutionFailed metric.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from ._policy import child, document, service_role

PIPELINE_NAMESPACE = "AWS/Sagemaker/ModelBuildingPipeline"  # lower-case "m" in Sagemaker


def start_statement(pipeline_arn: pulumi.Input[str]) -> dict[str, Any]:
    return {
        "Sid": "StartThisPipelineOnly",
        "Effect": "Allow",
        "Action": "sagemaker:StartPipelineExecution",
        "Resource": pipeline_arn,
    }


def scheduled_start(
    parent: pulumi.Resource,
    logical: str,
    *,
    pipeline_arn: pulumi.Input[str],
    role_name: str,
    role_description: str,
    schedule_name: str,
    expression: str,
    description: str,
    kms_key_arn: pulumi.Input[str],
    region: str,
    account_id: str,
    tags: Mapping[str, str],
    parameters: Sequence[Mapping[str, str]] = (),
) -> aws.scheduler.Schedule:
    """`<logical>-scheduler-role`, `-scheduler-policy` and `-schedule`: starts the pipeline only."""
    role = service_role(
        parent,
        f"{logical}-scheduler-role",
        name=role_name,
        description=role_description,
        service="scheduler.amazonaws.com",
        account_id=account_id,
        tags=tags,
    )
    schedule_arn = f"arn:aws:scheduler:{region}:{account_id}:schedule/default/{schedule_name}"
    policy = aws.iam.RolePolicy(
        f"{logical}-scheduler-policy",
        role=role.name,
        policy=document(
            start_statement(pipeline_arn),
            {
                # The schedule is encrypted with the project key: Scheduler decrypts it as this role,
                # with the schedule's ARN as encryption context.
                "Sid": "DecryptTheSchedule",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": kms_key_arn,
                "Condition": {"StringEquals": {"kms:EncryptionContext:aws:scheduler:schedule-arn": schedule_arn}},
            },
        ),
        opts=child(parent),
    )
    return aws.scheduler.Schedule(
        f"{logical}-schedule",
        name=schedule_name,
        description=description,
        schedule_expression=expression,
        flexible_time_window={"mode": "OFF"},
        kms_key_arn=kms_key_arn,
        target={
            "arn": pipeline_arn,
            "role_arn": role.arn,
            "sagemaker_pipeline_parameters": {"pipeline_parameters": [dict(p) for p in parameters]},
            "retry_policy": {"maximum_retry_attempts": 3, "maximum_event_age_in_seconds": 3600},
        },
        opts=child(parent, depends_on=[policy]),
    )


def failed_run_alarm(
    parent: pulumi.Resource,
    logical: str,
    *,
    alarm_name: str,
    description: str,
    pipeline_name: str,
    topic_arn: pulumi.Input[str],
    tags: Mapping[str, str],
) -> aws.cloudwatch.MetricAlarm:
    """Any failed execution of `pipeline_name` in the hour notifies `topic_arn` (and its recovery)."""
    return aws.cloudwatch.MetricAlarm(
        logical,
        name=alarm_name,
        alarm_description=description,
        namespace=PIPELINE_NAMESPACE,
        metric_name="ExecutionFailed",
        dimensions={"PipelineName": pipeline_name},
        statistic="Sum",
        period=3600,
        evaluation_periods=1,
        threshold=0,
        comparison_operator="GreaterThanThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn],
        tags=dict(tags),
        opts=child(parent),
    )
