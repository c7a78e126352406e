"""Drift monitoring a new AWS account can use: a scheduled SageMaker pipeline, no Model Monitor.

AWS closed SageMaker Model Monitor to new customers; this component runs open-source drift
statistics instead (`pipelines/steps/monitor.py`: PSI and KS per feature, data quality, model
quality and bias when labels arrive) as a monitoring pipeline per endpoint:

    EventBridge Scheduler ─> Pipeline: PrepareWindow (Lambda) ─> Monitor (Processing, no network)
                                        ─> PublishMetrics (Lambda) ─> CloudWatch <namespace> (+ MLflow)

Least privilege, one role per consumer:
- the processing job's role reads the window manifest, the capture, the baseline and the
  ground truth, writes the report under monitoring/<model>/runs/, and nothing else;
- the pipeline's role starts that job, passes that role and invokes the two functions;
- the prepare function lists the capture prefix and writes the manifest;
- the publish function reads the report and puts metrics into exactly `metrics_namespace`
  (and logs them to the MLflow tracking server when one is given);
- the scheduler's role starts this pipeline only, and decrypts its (KMS-encrypted) schedule.
A failed run raises an alarm on the pipeline's ExecutionFailed metric.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from ._lambda import python_function
from ._pipeline_run import PIPELINE_NAMESPACE, failed_run_alarm, scheduled_start
from ._policy import (
    child,
    document,
    s3_location,
    sagemaker_job_statements,
    service_role,
    vpc_access_statements,
)

# Minutes past the hour: data capture flushes the previous hour's files first.
SCHEDULES = {
    "hourly": "cron(15 * * * ? *)",
    "every_6_hours": "cron(15 0/6 * * ? *)",
    "every_12_hours": "cron(15 0/12 * * ? *)",
    "daily": "cron(15 0 * * ? *)",
}
__all__ = ["PIPELINE_NAMESPACE", "SCHEDULES", "DriftMonitor", "DriftMonitorArgs", "publish_statements"]


@dataclass(frozen=True, kw_only=True)
class DriftMonitorArgs:
    pipeline_name: str
    """Physical name of the monitoring pipeline."""
    definition: pulumi.Input[str]
    """The pipeline definition (`pipelines.monitor_builder.build_monitor_definition`)."""
    model_name: str
    """Per-model key of the S3 layout (monitoring/<model>/, data-capture/<model>/)."""
    account_id: str
    region: str
    bucket_name: pulumi.Input[str]
    """The artifact bucket (capture, reports, code)."""
    bucket_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    """Encrypts the job volume and report, the schedule, the uploaded code."""
    job_role_name: str
    pipeline_role_name: str
    functions_role_prefix: str
    """Roles `<prefix>-prepare` and `<prefix>-publish`; also the Lambda function names."""
    scheduler_role_name: str
    schedule_name: str
    cadence: str = "hourly"
    metrics_namespace: str
    """The only CloudWatch namespace the publisher may write (e.g. mlstack/<project>)."""
    monitor_script: Path
    """monitor.py, uploaded to monitoring/<model>/code/ for the processing job."""
    lambda_script: Path
    """monitor_lambda.py: both functions' code, packaged with the MLflow REST client beside it (mlflow_rest.py)."""
    baseline_read_prefixes: Sequence[str] = ()
    """Keys (in the bucket) under which the deployed version's baseline dataset may be read."""
    ground_truth_s3_uri: str | None = None
    """Where labels land (any bucket): read-only."""
    tracking_server_arn: pulumi.Input[str] | None = None
    """SageMaker MLflow tracking server the publisher logs to."""
    alarm_topic_arn: pulumi.Input[str] | None = None
    """Notified when a monitoring run fails."""
    failed_alarm_name: str | None = None
    vpc_subnet_ids: Sequence[str] = ()
    vpc_security_group_ids: Sequence[str] = ()
    log_retention_days: int = 365
    tags: Mapping[str, str] = field(default_factory=dict)


def publish_statements(
    reports: pulumi.Input[str],
    kms_key_arn: pulumi.Input[str],
    namespace: str,
    tracking_server_arn: pulumi.Input[str] | None,
) -> list[dict[str, Any]]:
    """The publish function's: read the reports (`reports`, an object ARN pattern), put metrics
    into exactly `namespace`, and log to the MLflow tracking server when there is one."""
    statements: list[dict[str, Any]] = [
        {"Sid": "ReadTheReport", "Effect": "Allow", "Action": "s3:GetObject", "Resource": reports},
        {"Sid": "DecryptTheReport", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": kms_key_arn},
        {
            # PutMetricData has no resource-level permissions; the namespace condition scopes it.
            "Sid": "PublishToTheProjectNamespace",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": namespace}},
        },
    ]
    if tracking_server_arn is not None:
        statements.append(
            {
                "Sid": "LogToTheTrackingServer",
                "Effect": "Allow",
                "Action": [
                    "sagemaker:DescribeMlflowTrackingServer",
                    "sagemaker-mlflow:CreateExperiment",
                    "sagemaker-mlflow:GetExperimentByName",
                    "sagemaker-mlflow:CreateRun",
                    "sagemaker-mlflow:LogBatch",
                    "sagemaker-mlflow:UpdateRun",
                ],
                "Resource": tracking_server_arn,
            }
        )
    return statements


class DriftMonitor(pulumi.ComponentResource):
    pipeline: aws.sagemaker.Pipeline
    job_role: aws.iam.Role
    prepare_function: aws.lambda_.Function
    publish_function: aws.lambda_.Function
    schedule: aws.scheduler.Schedule

    def __init__(self, name: str, args: DriftMonitorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlstack:monitoring:DriftMonitor", name, None, opts)
        if args.cadence not in SCHEDULES:
            raise ValueError(f"cadence must be one of {', '.join(SCHEDULES)}")
        self.args = args
        tags = dict(args.tags)
        bucket = args.bucket_arn
        model = args.model_name
        runs = pulumi.Output.concat(bucket, f"/monitoring/{model}/runs/*")
        self.code = aws.s3.BucketObjectv2(
            f"{name}-code-monitor",
            bucket=args.bucket_name,
            key=f"monitoring/{model}/code/monitor.py",
            source=pulumi.FileAsset(str(args.monitor_script)),
            server_side_encryption="aws:kms",
            kms_key_id=args.kms_key_arn,
            tags=tags,
            opts=child(self),
        )
        self.job_role = self._role(f"{name}-job-role", args.job_role_name, "sagemaker.amazonaws.com")
        self._policy(f"{name}-job-policy", self.job_role, self._job_statements(runs))
        self.prepare_function, prepare_role = self._function(
            name,
            "prepare",
            "prepare_window",
            [
                {
                    "Sid": "ListTheCapture",
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": bucket,
                    "Condition": {"StringLike": {"s3:prefix": [f"data-capture/{model}/*"]}},
                },
                {"Sid": "WriteTheManifest", "Effect": "Allow", "Action": "s3:PutObject", "Resource": runs},
                {
                    "Sid": "EncryptTheManifest",
                    "Effect": "Allow",
                    "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                    "Resource": args.kms_key_arn,
                },
            ],
        )
        publish = publish_statements(runs, args.kms_key_arn, args.metrics_namespace, args.tracking_server_arn)
        self.publish_function, publish_role = self._function(name, "publish", "publish_metrics", publish)
        self.pipeline_role = self._role(f"{name}-pipeline-role", args.pipeline_role_name, "sagemaker.amazonaws.com")
        self._policy(
            f"{name}-pipeline-policy",
            self.pipeline_role,
            [
                {
                    "Sid": "RunTheMonitorJob",
                    "Effect": "Allow",
                    "Action": [
                        "sagemaker:CreateProcessingJob",
                        "sagemaker:DescribeProcessingJob",
                        "sagemaker:StopProcessingJob",
                        "sagemaker:AddTags",
                    ],
                    "Resource": f"arn:aws:sagemaker:{args.region}:{args.account_id}:processing-job/*",
                },
                {
                    "Sid": "PassTheJobRole",
                    "Effect": "Allow",
                    "Action": "iam:PassRole",
                    "Resource": self.job_role.arn,
                    "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                },
                {
                    "Sid": "InvokeTheTwoFunctions",
                    "Effect": "Allow",
                    "Action": "lambda:InvokeFunction",
                    "Resource": [self.prepare_function.arn, self.publish_function.arn],
                },
            ],
        )
        self.pipeline = aws.sagemaker.Pipeline(
            f"{name}-pipeline",
            pipeline_name=args.pipeline_name,
            pipeline_display_name=args.pipeline_name,
            pipeline_description=f"Drift monitoring of {model} (mlstack)",
            pipeline_definition=args.definition,
            role_arn=self.pipeline_role.arn,
            tags=tags,
            opts=child(self, depends_on=[self.code, prepare_role, publish_role]),
        )
        self.schedule = self._schedule(name, args)
        self.failed_alarm = self._failed_alarm(name, args)
        self.register_outputs(
            {
                "pipeline_arn": self.pipeline.arn,
                "job_role_arn": self.job_role.arn,
                "prepare_function_arn": self.prepare_function.arn,
                "publish_function_arn": self.publish_function.arn,
                "schedule_arn": self.schedule.arn,
            }
        )

    def _role(self, logical: str, role_name: str, service: str) -> aws.iam.Role:
        args = self.args
        description = f"Drift monitoring of {args.model_name} (mlstack)"
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
        model, bucket = args.model_name, args.bucket_arn
        reads = [runs, pulumi.Output.concat(bucket, f"/monitoring/{model}/code/*")]
        reads.append(pulumi.Output.concat(bucket, f"/data-capture/{model}/*"))
        reads += [pulumi.Output.concat(bucket, f"/{prefix.strip('/')}/*") for prefix in args.baseline_read_prefixes]
        prefixes = [f"data-capture/{model}/*", f"monitoring/{model}/*"]
        prefixes += [f"{p.strip('/')}/*" for p in args.baseline_read_prefixes]
        statements: list[dict[str, Any]] = [
            {"Sid": "ReadTheInputs", "Effect": "Allow", "Action": "s3:GetObject", "Resource": reads},
            {
                "Sid": "ListTheInputs",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": bucket,
                "Condition": {"StringLike": {"s3:prefix": sorted(prefixes)}},
            },
            {"Sid": "WriteTheReport", "Effect": "Allow", "Action": "s3:PutObject", "Resource": runs},
            {
                "Sid": "UseTheProjectKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:CreateGrant", "kms:DescribeKey"],
                "Resource": args.kms_key_arn,
            },
            *sagemaker_job_statements(args.region, args.account_id),
        ]
        if args.ground_truth_s3_uri:
            truth_bucket, truth_key = s3_location(args.ground_truth_s3_uri)
            statements += [
                {
                    "Sid": "ReadTheGroundTruth",
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{truth_bucket}/{truth_key.rstrip('/')}/*",
                },
                {
                    "Sid": "ListTheGroundTruth",
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": f"arn:aws:s3:::{truth_bucket}",
                    "Condition": {"StringLike": {"s3:prefix": [f"{truth_key.rstrip('/')}/*"]}},
                },
            ]
        if args.vpc_subnet_ids:
            statements += vpc_access_statements(
                args.region, args.account_id, args.vpc_subnet_ids, args.vpc_security_group_ids
            )
        return statements

    def _function(
        self, name: str, role: str, handler: str, statements: list[dict[str, Any]]
    ) -> tuple[aws.lambda_.Function, aws.iam.RolePolicy]:
        args = self.args
        return python_function(
            self,
            f"{name}-{role}",
            function_name=f"{args.functions_role_prefix}-{role}",
            description=f"{handler} of the drift monitoring of {args.model_name} (mlstack)",
            role_description=f"Drift monitoring of {args.model_name} (mlstack)",
            script=args.lambda_script,
            handler=handler,
            statements=statements,
            account_id=args.account_id,
            log_retention_days=args.log_retention_days,
            tags=args.tags,
        )

    def _schedule(self, name: str, args: DriftMonitorArgs) -> aws.scheduler.Schedule:
        # Without a ScheduledTime the window ends at the start of the current hour.
        return scheduled_start(
            self,
            name,
            pipeline_arn=self.pipeline.arn,
            role_name=args.scheduler_role_name,
            role_description=f"Drift monitoring of {args.model_name} (mlstack)",
            schedule_name=args.schedule_name,
            expression=SCHEDULES[args.cadence],
            description=f"Monitor {args.model_name} for drift ({args.cadence})",
            kms_key_arn=args.kms_key_arn,
            region=args.region,
            account_id=args.account_id,
            tags=args.tags,
        )

    def _failed_alarm(self, name: str, args: DriftMonitorArgs) -> aws.cloudwatch.MetricAlarm | None:
        if args.alarm_topic_arn is None or not args.failed_alarm_name:
            return None
        return failed_run_alarm(
            self,
            f"{name}-failed",
            alarm_name=args.failed_alarm_name,
            description=f"a drift-monitoring run of {args.model_name} failed",
            pipeline_name=args.pipeline_name,
            topic_arn=args.alarm_topic_arn,
            tags=args.tags,
        )
