"""Batch scoring of one model: a SageMaker pipeline started on a schedule or as input arrives.

    EventBridge Scheduler ─┐
    S3 Object Created rule ┴─> Pipeline: [PrepareInput] ─> CreateModel ─> Transform
                                         ─> [Monitor ─> PublishMetrics ─> CloudWatch <namespace>]

Neither pulumi-aws nor aws-native has a transform-job resource, and a transform job is a run,
not infrastructure: the pipeline (`pipelines.batch_builder`) creates a model of the approved
package and a transform job per execution, each tagged, KMS-encrypted and network-isolated.

Least privilege, one role per consumer:
- the jobs' role (the model's execution role, used by the transform and processing jobs)
  reads the artifact, the input and the baseline, writes the output and the run's files
  under batch/<model>/runs/, and nothing else;
- the pipeline's role creates models, transform and processing jobs, passes the jobs' role,
  reads the one model package it scores with, and invokes the publish function;
- the publish function reads the run's report and puts metrics into exactly
  `metrics_namespace`;
- the scheduler's and the input rule's roles start this pipeline only.
A failed run raises an alarm on the pipeline's ExecutionFailed metric.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from ._lambda import python_function
from ._pipeline_run import failed_run_alarm, scheduled_start, start_statement
from ._policy import child, document, s3_location, sagemaker_job_statements, service_role, vpc_access_statements
from .drift_monitor import publish_statements


@dataclass(frozen=True, kw_only=True)
class BatchScoringArgs:
    pipeline_name: str
    """Physical name of the batch pipeline."""
    definition: pulumi.Input[str]
    """The pipeline definition (`pipelines.batch_builder.build_batch_definition`)."""
    model_name: str
    """Per-model key of the S3 layout (batch/<model>/)."""
    model_package_arn: str
    """The version scored with: the pipeline's role may read this package only."""
    account_id: str
    region: str
    bucket_name: pulumi.Input[str]
    """The artifact bucket (code, runs, default output)."""
    bucket_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    """Encrypts the jobs' volumes and outputs, the code, the schedule."""
    job_role_name: str
    pipeline_role_name: str
    read_prefixes: Sequence[str]
    """s3://bucket/prefix the jobs read: the input (or offline store), the artifact, the baseline."""
    output_s3_uri: str
    """Where the transform writes (<output>/<execution id>/): write-only for the jobs."""
    scripts: Sequence[Path] = ()
    """Step scripts uploaded to batch/<model>/code/ (monitor.py, batch_input.py)."""
    schedule_expression: str | None = None
    schedule_name: str | None = None
    scheduler_role_name: str | None = None
    input_rule_name: str | None = None
    """With `input_s3_uri`: an EventBridge rule starts a run when an object is created under it."""
    input_rule_role_name: str | None = None
    input_s3_uri: str | None = None
    publish_function_name: str | None = None
    """With a monitor: the function that publishes its metrics."""
    lambda_script: Path | None = None
    """monitor_lambda.py (its publish_metrics handler), with the MLflow REST client beside it."""
    metrics_namespace: str | None = None
    tracking_server_arn: pulumi.Input[str] | None = None
    alarm_topic_arn: pulumi.Input[str] | None = None
    """Notified when a run fails."""
    failed_alarm_name: str | None = None
    drift_alarm_name: str | None = None
    """With a monitor and a topic: the run's maximum feature drift over `drift_threshold` alarms."""
    drift_metric_name: str = "MaxFeatureDriftPSI"
    drift_threshold: float = 0.1
    vpc_subnet_ids: Sequence[str] = ()
    vpc_security_group_ids: Sequence[str] = ()
    log_retention_days: int = 365
    tags: Mapping[str, str] = field(default_factory=dict)


def _objects(uri: str) -> str:
    bucket, key = s3_location(uri)
    return f"arn:aws:s3:::{bucket}/{key}*" if key else f"arn:aws:s3:::{bucket}/*"


class BatchScoring(pulumi.ComponentResource):
    pipeline: aws.sagemaker.Pipeline
    job_role: aws.iam.Role
    pipeline_role: aws.iam.Role
    publish_function: aws.lambda_.Function | None
    schedule: aws.scheduler.Schedule | None
    input_rule: aws.cloudwatch.EventRule | None
    failed_alarm: aws.cloudwatch.MetricAlarm | None
    drift_alarm: aws.cloudwatch.MetricAlarm | None

    def __init__(self, name: str, args: BatchScoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlstack:serving:BatchScoring", name, None, opts)
        self.args = args
        model = args.model_name
        runs = pulumi.Output.concat(args.bucket_arn, f"/batch/{model}/runs/*")
        code = [
            aws.s3.BucketObjectv2(
                f"{name}-code-{script.stem.replace('_', '-')}",
                bucket=args.bucket_name,
                key=f"batch/{model}/code/{script.name}",
                source=pulumi.FileAsset(str(script)),
                server_side_encryption="aws:kms",
                kms_key_id=args.kms_key_arn,
                tags=dict(args.tags),
                opts=child(self),
            )
            for script in args.scripts
        ]
        self.job_role = self._role(f"{name}-job-role", args.job_role_name, "sagemaker.amazonaws.com")
        job_policy = self._policy(f"{name}-job-policy", self.job_role, self._job_statements(runs))
        self.publish_function = None
        invoke: list[dict[str, Any]] = []
        depends: list[pulumi.Resource] = [*code, job_policy]
        if args.publish_function_name and args.lambda_script and args.metrics_namespace:
            self.publish_function, publish_policy = python_function(
                self,
                f"{name}-publish",
                function_name=args.publish_function_name,
                description=f"publish_metrics of the batch scoring of {model} (mlstack)",
                role_description=f"Batch scoring of {model} (mlstack)",
                script=args.lambda_script,
                handler="publish_metrics",
                statements=publish_statements(runs, args.kms_key_arn, args.metrics_namespace, args.tracking_server_arn),
                account_id=args.account_id,
                log_retention_days=args.log_retention_days,
                tags=args.tags,
            )
            depends.append(publish_policy)
            invoke = [
                {
                    "Sid": "InvokeThePublishFunction",
                    "Effect": "Allow",
                    "Action": "lambda:InvokeFunction",
                    "Resource": self.publish_function.arn,
                }
            ]
        self.pipeline_role = self._role(f"{name}-pipeline-role", args.pipeline_role_name, "sagemaker.amazonaws.com")
        pipeline_policy = self._policy(
            f"{name}-pipeline-policy", self.pipeline_role, [*self._pipeline_statements(), *invoke]
        )
        self.pipeline = aws.sagemaker.Pipeline(
            f"{name}-pipeline",
            pipeline_name=args.pipeline_name,
            pipeline_display_name=args.pipeline_name,
            pipeline_description=f"Batch scoring of {model} (mlstack)",
            pipeline_definition=args.definition,
            role_arn=self.pipeline_role.arn,
            tags=dict(args.tags),
            opts=child(self, depends_on=[*depends, pipeline_policy]),
        )
        self.schedule = self._schedule(name) if args.schedule_expression else None
        self.input_rule = self._input_rule(name) if args.input_rule_name and args.input_s3_uri else None
        self.failed_alarm = None
        if args.alarm_topic_arn is not None and args.failed_alarm_name:
            self.failed_alarm = failed_run_alarm(
                self,
                f"{name}-failed",
                alarm_name=args.failed_alarm_name,
                description=f"a batch-scoring run of {model} failed",
                pipeline_name=args.pipeline_name,
                topic_arn=args.alarm_topic_arn,
                tags=args.tags,
            )
        self.drift_alarm = self._drift_alarm(name) if self.publish_function is not None else None
        self.register_outputs(
            {
                "pipeline_arn": self.pipeline.arn,
                "job_role_arn": self.job_role.arn,
                "schedule_arn": self.schedule.arn if self.schedule else None,
                "input_rule_arn": self.input_rule.arn if self.input_rule else None,
            }
        )

    def _drift_alarm(self, name: str) -> aws.cloudwatch.MetricAlarm | None:
        """Drift of a scored batch: the monitor's maximum PSI of the run, series Source=batch.

        A day's period with missing data ignored: a run keeps the state until the next one, so a
        drift episode is one OK->ALARM transition (one retraining start), whatever the schedule."""
        args = self.args
        if not args.drift_alarm_name or args.alarm_topic_arn is None or not args.metrics_namespace:
            return None
        return aws.cloudwatch.MetricAlarm(
            f"{name}-drift",
            name=args.drift_alarm_name,
            alarm_description=f"the inputs scored in batch for {args.model_name} drifted from its training baseline",
            namespace=args.metrics_namespace,
            metric_name=args.drift_metric_name,
            dimensions={"Model": args.model_name, "Source": "batch"},
            statistic="Maximum",
            period=86400,
            evaluation_periods=1,
            threshold=args.drift_threshold,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[args.alarm_topic_arn],
            ok_actions=[args.alarm_topic_arn],
            tags=dict(self.args.tags),
            opts=child(self),
        )

    def _role(self, logical: str, role_name: str, service: str) -> aws.iam.Role:
        args = self.args
        description = f"Batch scoring of {args.model_name} (mlstack)"
        return service_role(
            self,
            logical,
            name=role_name,
            description=description,
            service=service,
            account_id=args.account_id,
            tags=args.tags,
        )

    def _policy(self, logical: str, role: aws.iam.Role, statements: Sequence[dict[str, Any]]) -> aws.iam.RolePolicy:
        return aws.iam.RolePolicy(logical, role=role.name, policy=document(*statements), opts=child(self))

    def _job_statements(self, runs: pulumi.Output[str]) -> list[dict[str, Any]]:
        args = self.args
        code = pulumi.Output.concat(args.bucket_arn, f"/batch/{args.model_name}/code/*")
        reads = sorted({_objects(uri) for uri in args.read_prefixes})
        listed: dict[str, set[str]] = {}
        for uri in [*args.read_prefixes, args.output_s3_uri]:
            bucket, key = s3_location(uri)
            listed.setdefault(bucket, set()).add(f"{key}*" if key else "*")
        statements: list[dict[str, Any]] = [
            {"Sid": "ReadTheInputs", "Effect": "Allow", "Action": "s3:GetObject", "Resource": [*reads, code, runs]},
            *(
                {
                    "Sid": f"ListTheInputs{index}",
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": f"arn:aws:s3:::{bucket}",
                    "Condition": {"StringLike": {"s3:prefix": sorted(prefixes)}},
                }
                for index, (bucket, prefixes) in enumerate(sorted(listed.items()))
            ),
            {
                "Sid": "WriteTheOutput",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
                "Resource": [_objects(args.output_s3_uri), runs],
            },
            {
                "Sid": "UseTheProjectKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:CreateGrant", "kms:DescribeKey"],
                "Resource": args.kms_key_arn,
            },
            *sagemaker_job_statements(args.region, args.account_id),
        ]
        if args.vpc_subnet_ids:
            statements += vpc_access_statements(
                args.region, args.account_id, args.vpc_subnet_ids, args.vpc_security_group_ids
            )
        return statements

    def _pipeline_statements(self) -> list[dict[str, Any]]:
        args = self.args
        arn = f"arn:aws:sagemaker:{args.region}:{args.account_id}"
        return [
            {
                "Sid": "RunTheBatchJobs",
                "Effect": "Allow",
                "Action": [
                    "sagemaker:CreateModel",
                    "sagemaker:DescribeModel",
                    "sagemaker:CreateTransformJob",
                    "sagemaker:DescribeTransformJob",
                    "sagemaker:StopTransformJob",
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:AddTags",
                ],
                "Resource": [f"{arn}:model/*", f"{arn}:transform-job/*", f"{arn}:processing-job/*"],
            },
            {
                "Sid": "ReadTheScoredVersion",
                "Effect": "Allow",
                "Action": "sagemaker:DescribeModelPackage",
                "Resource": args.model_package_arn,
            },
            {
                "Sid": "PassTheJobRole",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": self.job_role.arn,
                "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            },
        ]

    def _schedule(self, name: str) -> aws.scheduler.Schedule:
        args = self.args
        assert args.schedule_expression and args.schedule_name and args.scheduler_role_name
        return scheduled_start(
            self,
            name,
            pipeline_arn=self.pipeline.arn,
            role_name=args.scheduler_role_name,
            role_description=f"Batch scoring of {args.model_name} (mlstack)",
            schedule_name=args.schedule_name,
            expression=args.schedule_expression,
            description=f"Score {args.model_name} in batch ({args.schedule_expression})",
            kms_key_arn=args.kms_key_arn,
            region=args.region,
            account_id=args.account_id,
            tags=args.tags,
        )

    def _input_rule(self, name: str) -> aws.cloudwatch.EventRule:
        """Object Created under the input prefix starts a run (the bucket must send events to EventBridge)."""
        args = self.args
        assert args.input_s3_uri and args.input_rule_name and args.input_rule_role_name
        bucket, key = s3_location(args.input_s3_uri)
        rule = aws.cloudwatch.EventRule(
            f"{name}-input-rule",
            name=args.input_rule_name,
            description=f"Score {args.model_name} in batch when input lands under {args.input_s3_uri}",
            event_pattern=json.dumps(
                {
                    "source": ["aws.s3"],
                    "detail-type": ["Object Created"],
                    "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": f"{key}/" if key else ""}]}},
                },
                sort_keys=True,
            ),
            tags=dict(args.tags),
            opts=child(self),
        )
        role = self._role(f"{name}-input-rule-role", args.input_rule_role_name, "events.amazonaws.com")
        policy = self._policy(f"{name}-input-rule-policy", role, [start_statement(self.pipeline.arn)])
        aws.cloudwatch.EventTarget(
            f"{name}-input-target",
            rule=rule.name,
            arn=self.pipeline.arn,
            role_arn=role.arn,
            sagemaker_pipeline_target={"pipeline_parameter_lists": []},
            opts=child(self, depends_on=[policy]),
        )
        return rule
