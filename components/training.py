"""A SageMaker training pipeline with its role, its code, a schedule and a drift trigger.

The pipeline definition (JSON) comes in as an input: build it with
`pipelines.builder` or any other way. This component owns what runs it:

- the step scripts, uploaded to the artifact bucket (KMS) where the definition expects them;
- a least-privilege role that the pipeline and its jobs assume (the definition must name it);
- continuous training: an EventBridge Scheduler schedule, and an EventBridge rule that starts
  the pipeline when the model's drift alarm enters ALARM (one start per alarm episode: the
  rule matches the state *change*, not the state);
- with an MLflow tracking server: the Lambda function the definition's MLflow step invokes
  (tracking_lambda.py), its log group, and a role that may log to that server only, read the
  runs' evaluation.json and write its own logs; the pipeline's role may invoke that function.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from ._lambda import python_function
from ._policy import (
    child,
    document,
    sagemaker_job_statements,
    service_trust,
    vpc_access_statements,
)

TRACKING_HANDLER = "log_training_run"  # in tracking_lambda_script


@dataclass(frozen=True, kw_only=True)
class TrainingPipelineArgs:
    pipeline_name: str
    """Physical pipeline name (1-256 characters)."""
    definition: pulumi.Input[str]
    """Pipeline definition JSON; its jobs must use the role `role_name`."""
    role_name: str
    """Name of the role created here for the pipeline and its jobs."""
    account_id: str
    region: str
    bucket_name: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    model_package_group_name: str
    """The only package group the pipeline may register into."""
    write_prefixes: Sequence[str]
    """Bucket key prefixes the pipeline writes (run data, model artifacts, baselines)."""
    read_uris: Sequence[str] = ()
    """Further s3:// prefixes the pipeline reads (training data outside the bucket)."""
    code_files: Mapping[str, Path] = field(default_factory=dict)
    """Bucket key -> local file: the step scripts the definition references."""
    description: str = ""
    schedule_name: str | None = None
    schedule_expression: str | None = None
    """EventBridge Scheduler expression (rate(...) / cron(...)); None = no schedule."""
    schedule_timezone: str = "UTC"
    trigger_role_name: str
    drift_rule_name: str | None = None
    drift_alarm_name: str | None = None
    """CloudWatch alarm whose transition to ALARM starts the pipeline; None = no drift trigger."""
    vpc_subnet_ids: Sequence[str] = ()
    vpc_security_group_ids: Sequence[str] = ()
    """Where the definition places its jobs; the role may then create interfaces there."""
    tracking_server_arn: pulumi.Input[str] | None = None
    """SageMaker MLflow tracking server: creates the function the definition's MLflow step
    invokes, which may log to this server only. None = no function (a definition without that step)."""
    tracking_function_name: str | None = None
    """With a tracking server: the function's (and its role's) name; the definition invokes it."""
    tracking_lambda_script: Path | None = None
    """With a tracking server: tracking_lambda.py, packaged with mlflow_rest.py from beside it."""
    tracking_read_prefix: str | None = None
    """With a tracking server: bucket key prefix of the runs, where the function reads evaluation.json."""
    log_retention_days: int = 365
    tags: Mapping[str, str] = field(default_factory=dict)


def drift_event_pattern(alarm_name: str) -> str:
    """The drift alarm entering ALARM (EventBridge delivers each state change once)."""
    return json.dumps(
        {
            "source": ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            "detail": {"alarmName": [alarm_name], "state": {"value": ["ALARM"]}},
        },
        sort_keys=True,
    )


class TrainingPipeline(pulumi.ComponentResource):
    pipeline: aws.sagemaker.Pipeline
    role: aws.iam.Role
    arn: pulumi.Output[str]
    tracking_function: aws.lambda_.Function | None
    """The MLflow step's function; None without a tracking server."""

    def __init__(self, name: str, args: TrainingPipelineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlstack:training:TrainingPipeline", name, None, opts)
        self.tracking_function = self._tracking_function(name, args) if args.tracking_server_arn is not None else None
        self.role, role_policy = self._execution_role(name, args)
        uploads = [self._upload(name, key, path, args) for key, path in sorted(args.code_files.items())]
        self.pipeline = aws.sagemaker.Pipeline(
            f"{name}-pipeline",
            pipeline_name=args.pipeline_name,
            pipeline_display_name=args.pipeline_name,
            pipeline_description=args.description or None,
            pipeline_definition=args.definition,
            role_arn=self.role.arn,
            tags=dict(args.tags),
            opts=child(self, depends_on=[role_policy, *uploads]),
        )
        self.arn = self.pipeline.arn
        if args.schedule_expression or args.drift_alarm_name:
            self._triggers(name, args)
        outputs: dict[str, pulumi.Input[str]] = {"arn": self.arn, "role_arn": self.role.arn}
        if self.tracking_function is not None:
            outputs["tracking_function_arn"] = self.tracking_function.arn
        self.register_outputs(outputs)

    def _execution_role(self, name: str, args: TrainingPipelineArgs) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            description=f"Runs the {args.pipeline_name} pipeline and its jobs (mlstack)",
            assume_role_policy=service_trust("sagemaker.amazonaws.com", args.account_id),
            tags=dict(args.tags),
            opts=child(self),
        )
        sagemaker = f"arn:aws:sagemaker:{args.region}:{args.account_id}"
        group = args.model_package_group_name
        bucket_arn = pulumi.Output.concat("arn:aws:s3:::", args.bucket_name)
        statements = [
            {
                # Pipelines name their jobs pipelines-<execution>-<step>-...
                "Sid": "RunPipelineJobs",
                "Effect": "Allow",
                "Action": [
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags",
                ],
                "Resource": [f"{sagemaker}:processing-job/pipelines-*", f"{sagemaker}:training-job/pipelines-*"],
            },
            {
                "Sid": "RegisterIntoOwnGroup",
                "Effect": "Allow",
                "Action": [
                    "sagemaker:CreateModelPackage",
                    "sagemaker:DescribeModelPackage",
                    "sagemaker:DescribeModelPackageGroup",
                    "sagemaker:ListModelPackages",
                    "sagemaker:AddTags",
                ],
                "Resource": [f"{sagemaker}:model-package-group/{group}", f"{sagemaker}:model-package/{group}/*"],
            },
            {
                "Sid": "PassOnlyItself",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": f"arn:aws:iam::{args.account_id}:role/{args.role_name}",
                "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            },
            {
                "Sid": "WriteOwnPrefixes",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                "Resource": [pulumi.Output.concat(bucket_arn, "/", p.strip("/"), "/*") for p in args.write_prefixes],
            },
            {
                "Sid": "ReadProjectBucket",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
            },
            {
                "Sid": "UseProjectKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"],
                "Resource": args.kms_key_arn,
            },
            *sagemaker_job_statements(args.region, args.account_id),
        ]
        if self.tracking_function is not None:
            # The MLflow step: SageMaker invokes the function as the pipeline's role.
            statements.append(
                {
                    "Sid": "InvokeTheTrackingFunction",
                    "Effect": "Allow",
                    "Action": "lambda:InvokeFunction",
                    "Resource": self.tracking_function.arn,
                }
            )
        if args.read_uris:
            statements.append(_read_statement(args.read_uris))
        if args.vpc_subnet_ids:
            statements += vpc_access_statements(
                args.region, args.account_id, args.vpc_subnet_ids, args.vpc_security_group_ids
            )
        policy = aws.iam.RolePolicy(f"{name}-policy", role=role.name, policy=document(*statements), opts=child(self))
        return role, policy

    def _tracking_function(self, name: str, args: TrainingPipelineArgs) -> aws.lambda_.Function:
        """The function that logs each execution to MLflow (the jobs cannot: network isolation)."""
        function_name, script, prefix = (
            args.tracking_function_name,
            args.tracking_lambda_script,
            args.tracking_read_prefix,
        )
        if not (function_name and script and prefix):
            raise ValueError(
                "a tracking server needs tracking_function_name, tracking_lambda_script, tracking_read_prefix"
            )
        server = args.tracking_server_arn
        statements = [
            {
                # What mlflow_rest.py calls: find the experiment (or create it), create, fill and end a run.
                "Sid": "LogToTheTrackingServer",
                "Effect": "Allow",
                "Action": [
                    "sagemaker-mlflow:GetExperimentByName",
                    "sagemaker-mlflow:CreateExperiment",
                    "sagemaker-mlflow:CreateRun",
                    "sagemaker-mlflow:LogBatch",
                    "sagemaker-mlflow:UpdateRun",
                ],
                "Resource": server,
            },
            {
                "Sid": "FindTheTrackingServer",  # its URL
                "Effect": "Allow",
                "Action": "sagemaker:DescribeMlflowTrackingServer",
                "Resource": server,
            },
            {
                "Sid": "ReadTheEvaluation",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": pulumi.Output.concat("arn:aws:s3:::", args.bucket_name, "/", prefix.strip("/"), "/*"),
            },
            {
                "Sid": "DecryptTheEvaluation",  # through S3 only
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": args.kms_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{args.region}.amazonaws.com"}},
            },
        ]
        function, _ = python_function(
            self,
            f"{name}-tracking",
            function_name=function_name,
            description=f"Logs {args.pipeline_name} executions to MLflow (mlstack)",
            role_description=f"Logs {args.pipeline_name} executions to MLflow (mlstack)",
            script=script,
            handler=TRACKING_HANDLER,
            statements=statements,
            account_id=args.account_id,
            log_retention_days=args.log_retention_days,
            tags=args.tags,
        )
        return function

    def _upload(self, name: str, key: str, path: Path, args: TrainingPipelineArgs) -> aws.s3.BucketObjectv2:
        return aws.s3.BucketObjectv2(
            f"{name}-code-{path.name}",
            bucket=args.bucket_name,
            key=key,
            source=pulumi.FileAsset(str(path)),
            # The hash makes a changed script an update of the object (and visible in plans).
            source_hash=hashlib.sha256(path.read_bytes()).hexdigest(),
            server_side_encryption="aws:kms",
            kms_key_id=args.kms_key_arn,
            content_type="text/x-python",
            tags=dict(args.tags),
            opts=child(self),
        )

    def _triggers(self, name: str, args: TrainingPipelineArgs) -> None:
        trigger_role = aws.iam.Role(
            f"{name}-trigger-role",
            name=args.trigger_role_name,
            description=f"Lets the schedule and the drift rule start {args.pipeline_name} (mlstack)",
            assume_role_policy=service_trust(["events.amazonaws.com", "scheduler.amazonaws.com"], args.account_id),
            tags=dict(args.tags),
            opts=child(self),
        )
        statements: list[dict[str, object]] = [
            {
                "Sid": "StartThisPipelineOnly",
                "Effect": "Allow",
                "Action": "sagemaker:StartPipelineExecution",
                "Resource": self.pipeline.arn,
            }
        ]
        scheduled = bool(args.schedule_expression and args.schedule_name)
        if scheduled:
            # The schedule is encrypted with kms_key_arn; EventBridge Scheduler decrypts it as this
            # role, with the schedule's ARN as encryption context: this schedule only (default group).
            schedule_arn = f"arn:aws:scheduler:{args.region}:{args.account_id}:schedule/default/{args.schedule_name}"
            statements.append(
                {
                    "Sid": "DecryptThisSchedule",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": args.kms_key_arn,
                    "Condition": {"StringEquals": {"kms:EncryptionContext:aws:scheduler:schedule-arn": schedule_arn}},
                }
            )
        start = aws.iam.RolePolicy(
            f"{name}-trigger-policy",
            role=trigger_role.name,
            policy=document(*statements),
            opts=child(self),
        )
        if scheduled:
            aws.scheduler.Schedule(
                f"{name}-schedule",
                name=args.schedule_name,
                description=f"Retrain {args.pipeline_name} on a schedule",
                schedule_expression=args.schedule_expression,
                schedule_expression_timezone=args.schedule_timezone,
                flexible_time_window={"mode": "OFF"},
                kms_key_arn=args.kms_key_arn,
                target={
                    "arn": self.pipeline.arn,
                    "role_arn": trigger_role.arn,
                    "sagemaker_pipeline_parameters": {"pipeline_parameters": []},
                    "retry_policy": {"maximum_retry_attempts": 3, "maximum_event_age_in_seconds": 3600},
                },
                opts=child(self, depends_on=[start]),
            )
        if args.drift_alarm_name and args.drift_rule_name:
            rule = aws.cloudwatch.EventRule(
                f"{name}-drift-rule",
                name=args.drift_rule_name,
                description=f"Retrain {args.pipeline_name} when {args.drift_alarm_name} enters ALARM",
                event_pattern=drift_event_pattern(args.drift_alarm_name),
                tags=dict(args.tags),
                opts=child(self),
            )
            aws.cloudwatch.EventTarget(
                f"{name}-drift-target",
                rule=rule.name,
                arn=self.pipeline.arn,
                role_arn=trigger_role.arn,
                target_id="retrain",
                sagemaker_pipeline_target={"pipeline_parameter_lists": []},
                opts=child(self, depends_on=[start]),
            )


def _read_statement(uris: Sequence[str]) -> dict[str, object]:
    objects, buckets = [], set()
    for uri in sorted(uris):
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        buckets.add(f"arn:aws:s3:::{bucket}")
        objects.append(f"arn:aws:s3:::{bucket}/{prefix.rstrip('/')}/*" if prefix else f"arn:aws:s3:::{bucket}/*")
    return {
        "Sid": "ReadTrainingData",
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": sorted(buckets) + objects,
    }
