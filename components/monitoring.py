"""Model Monitor for one endpoint: a data-quality job definition and its schedule.

The job compares the endpoint's captured inputs with the baseline (constraints and
statistics) recorded with the *deployed* model package, on an hourly or daily cron, with
KMS on the volume and the reports, network isolation and inter-container encryption,
and publishes its metrics to CloudWatch for alarms.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ._policy import child, content_name

# The cron expressions SageMaker Model Monitor accepts.
CADENCES = {
    "hourly": "cron(0 * ? * * *)",
    "every_6_hours": "cron(0 0/6 ? * * *)",
    "every_12_hours": "cron(0 0/12 ? * * *)",
    "daily": "cron(0 0 ? * * *)",
}


@dataclass(frozen=True, kw_only=True)
class DataQualityMonitorArgs:
    job_definition_prefix: str
    """Prefix (<= 52 characters) of the job definition's name, which ends in a hash of its content:
    every change to a job definition replaces it, and a new name lets the replacement be created
    before the old one (still used by the schedule until it is repointed) is deleted."""
    schedule_name: str
    endpoint_name: pulumi.Input[str]
    role_arn: pulumi.Input[str]
    analyzer_image_uri: str
    """Regional sagemaker-model-monitor-analyzer image."""
    baseline_constraints_uri: str
    baseline_statistics_uri: str
    reports_s3_uri: str
    kms_key_arn: pulumi.Input[str]
    cadence: str = "hourly"
    """hourly, every_6_hours, every_12_hours or daily."""
    instance_type: str = "ml.m5.large"
    max_runtime_seconds: int = 1800
    volume_size_gb: int = 20
    vpc_subnet_ids: Sequence[str] = ()
    vpc_security_group_ids: Sequence[str] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


class DataQualityMonitor(pulumi.ComponentResource):
    job_definition: aws.sagemaker.DataQualityJobDefinition
    schedule: aws.sagemaker.MonitoringSchedule

    def __init__(self, name: str, args: DataQualityMonitorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlstack:monitoring:DataQualityMonitor", name, None, opts)
        if args.cadence not in CADENCES:
            raise ValueError(f"cadence must be one of {', '.join(CADENCES)}")
        network: dict[str, object] = {
            "enable_network_isolation": True,
            "enable_inter_container_traffic_encryption": True,
        }
        if args.vpc_subnet_ids:
            network["vpc_config"] = {
                "subnets": sorted(args.vpc_subnet_ids),
                "security_group_ids": sorted(args.vpc_security_group_ids),
            }
        static = {
            f.name: getattr(args, f.name)
            for f in dataclasses.fields(args)
            if isinstance(getattr(args, f.name), str | int | float | tuple | list)
        }
        job_name = pulumi.Output.all(args.endpoint_name, args.role_arn, args.kms_key_arn).apply(
            lambda dynamic: content_name(args.job_definition_prefix[:52], {"static": static, "dynamic": dynamic})
        )
        self.job_definition = aws.sagemaker.DataQualityJobDefinition(
            f"{name}-job",
            name=job_name,
            role_arn=args.role_arn,
            data_quality_app_specification={
                "image_uri": args.analyzer_image_uri,
                "environment": {"publish_cloudwatch_metrics": "Enabled"},
            },
            data_quality_baseline_config={
                "constraints_resource": {"s3_uri": args.baseline_constraints_uri},
                "statistics_resource": {"s3_uri": args.baseline_statistics_uri},
            },
            data_quality_job_input={
                "endpoint_input": {
                    "endpoint_name": args.endpoint_name,
                    "local_path": "/opt/ml/processing/input/endpoint",
                    "s3_input_mode": "File",
                    "s3_data_distribution_type": "FullyReplicated",
                }
            },
            data_quality_job_output_config={
                "kms_key_id": args.kms_key_arn,
                "monitoring_outputs": {
                    "s3_output": {
                        "s3_uri": args.reports_s3_uri,
                        "local_path": "/opt/ml/processing/output",
                        "s3_upload_mode": "EndOfJob",
                    }
                },
            },
            job_resources={
                "cluster_config": {
                    "instance_count": 1,
                    "instance_type": args.instance_type,
                    "volume_size_in_gb": args.volume_size_gb,
                    "volume_kms_key_id": args.kms_key_arn,
                }
            },
            network_config=network,
            stopping_condition={"max_runtime_in_seconds": args.max_runtime_seconds},
            tags=dict(args.tags),
            opts=child(self),
        )
        self.schedule = aws.sagemaker.MonitoringSchedule(
            f"{name}-schedule",
            name=args.schedule_name,
            monitoring_schedule_config={
                "monitoring_job_definition_name": self.job_definition.name,
                "monitoring_type": "DataQuality",
                "schedule_config": {"schedule_expression": CADENCES[args.cadence]},
            },
            tags=dict(args.tags),
            opts=child(self),
        )
        self.register_outputs({"schedule_name": self.schedule.name})
