"""Model Monitor beyond data quality: model quality, bias (Clarify) and explainability (Clarify SHAP).

Each monitor is a job definition plus a schedule, with the DataQualityMonitor's conventions:
KMS on the volume, the reports and (for Clarify) the uploaded analysis config, network
isolation and inter-container encryption, an optional VPC, CloudWatch metrics on.

The job definitions come from pulumi-aws-native because pulumi-aws 7 has none of the three.
The schedules stay on pulumi-aws's MonitoringSchedule, referencing the job definition by name
(its `monitoring_type` accepts ModelQuality, ModelBias and ModelExplainability): every schedule
in the stack is then one resource type with one tag shape, so alarms, policies and plan rules
written for the data-quality schedule cover these too, and the AWS provider (not Cloud Control)
updates a cadence in place.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_aws_native as aws_native

from ._policy import child, content_name, document
from .monitoring import CADENCES

PROBLEM_TYPES = ("BinaryClassification", "MulticlassClassification", "Regression")
_INPUT_PATH = "/opt/ml/processing/input/endpoint"
_OUTPUT_PATH = "/opt/ml/processing/output"
_METRICS_ON = {"publish_cloudwatch_metrics": "Enabled"}
# Endpoint-input attributes each aws-native job input type accepts (from its *EndpointInputArgs).
_QUALITY_ATTRS = ("inference_attribute", "probability_attribute", "probability_threshold_attribute")
_OFFSETS = ("start_time_offset", "end_time_offset")
_BIAS_ATTRS = (*_QUALITY_ATTRS, "features_attribute", *_OFFSETS)
_SHAP_ATTRS = ("inference_attribute", "probability_attribute", "features_attribute")
Schedule = aws.sagemaker.MonitoringSchedule


@dataclass(frozen=True, kw_only=True)
class EndpointInputArgs:
    """Which endpoint's captured traffic a job reads, and where in a record the model's answer is."""

    endpoint_name: pulumi.Input[str]
    """The monitored endpoint (its data capture must be on)."""
    s3_input_mode: str = "File"
    """File or Pipe."""
    inference_attribute: str | None = None
    """Index or JMESPath of the predicted label/value in the captured output."""
    probability_attribute: str | None = None
    """Index or JMESPath of the predicted probability in the captured output."""
    probability_threshold_attribute: float | None = None
    """Probability above which a binary prediction is the positive class (not for explainability)."""
    features_attribute: str | None = None
    """JMESPath of the features in JSON Lines input (Clarify monitors only)."""
    start_time_offset: str | None = None
    """ISO-8601 offset such as -PT2H: how far back captured data is merged with ground truth."""
    end_time_offset: str | None = None
    """ISO-8601 offset such as -PT1H: leaves time for ground truth labels to arrive."""


@dataclass(frozen=True, kw_only=True)
class MonitorJobArgs:
    """What every monitor shares: names, identity, encryption, network, resources and cadence."""

    job_definition_name: str
    """Prefix (<= 52 characters) of the job definition's name; the name ends in a hash of the content."""
    """Physical name of the job definition (unique per account and region)."""
    schedule_name: str
    """Physical name of the monitoring schedule."""
    endpoint: EndpointInputArgs
    """The endpoint whose captured traffic is analysed."""
    role_arn: pulumi.Input[str]
    """Role the monitoring job runs as (reads capture and ground truth, writes reports, uses the key)."""
    role_name: pulumi.Input[str] | None = None
    """Name of the role at `role_arn`. Given, the monitors that read ground truth (model quality,
    bias) grant it read access to exactly their ground-truth prefix; without it the caller must."""
    image_uri: str
    """Regional image: sagemaker-model-monitor-analyzer for model quality, sagemaker-clarify-processing otherwise."""
    reports_s3_uri: str
    """S3 prefix the job writes its reports and violations to."""
    kms_key_arn: pulumi.Input[str]
    """Key for the job's volume, its reports and the uploaded analysis config."""
    baseline_constraints_uri: str | None = None
    """Optional constraints.json from a baselining job; without it the job only reports metrics."""
    cadence: str = "daily"
    """hourly, every_6_hours, every_12_hours or daily (see monitoring.CADENCES)."""
    instance_type: str = "ml.m5.large"
    """Processing instance type."""
    instance_count: int = 1
    """Processing instance count."""
    volume_size_gb: int = 20
    """Processing volume size, KMS encrypted."""
    max_runtime_seconds: int = 1800
    """Stopping condition; must be shorter than the cadence."""
    vpc_subnet_ids: Sequence[str] = ()
    """Subnets to run in; empty means no VPC config."""
    vpc_security_group_ids: Sequence[str] = ()
    """Security groups, used only with subnets."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every taggable child."""


@dataclass(frozen=True, kw_only=True)
class ModelQualityMonitorArgs(MonitorJobArgs):
    """Model quality: predictions joined with ground truth labels, scored per problem type."""

    problem_type: str
    """BinaryClassification, MulticlassClassification or Regression."""
    ground_truth_s3_uri: str
    """S3 prefix where labelled ground truth (keyed by capture event id) is delivered."""


@dataclass(frozen=True, kw_only=True)
class FacetArgs:
    """A sensitive attribute and the value(s) or threshold defining its sensitive group."""

    name_or_index: str | int
    """Column header or index of the facet."""
    value_or_threshold: Sequence[str | int | float] = ()
    """Values (or one threshold) marking the sensitive group; empty lets Clarify compare every value."""


@dataclass(frozen=True, kw_only=True)
class AnalysisConfigLocation:
    """Where the component writes the Clarify analysis config."""

    bucket: pulumi.Input[str]
    """Bucket name (a SecureBucket in practice)."""
    key: str
    """Object key, e.g. monitoring/scorer/bias/analysis_config.json."""


@dataclass(frozen=True, kw_only=True)
class BiasMonitorArgs(MonitorJobArgs):
    """Post-training bias of the live model, computed by Clarify against ground truth."""

    ground_truth_s3_uri: str
    """S3 prefix where labelled ground truth is delivered."""
    analysis_config: AnalysisConfigLocation
    """Where the generated analysis config is uploaded."""
    headers: Sequence[str]
    """Column names of the captured features, in order."""
    label: str
    """Name of the target in the ground truth."""
    label_values_or_threshold: Sequence[str | int | float]
    """Label values (or one threshold) counted as the positive outcome."""
    facets: Sequence[FacetArgs]
    """Sensitive attributes to measure bias over."""
    probability_threshold: float | None = None
    """Threshold turning a score into a positive prediction, when the model outputs scores."""
    metrics: Sequence[str] = ("DPPL", "DI")
    """Post-training bias metrics, e.g. DPPL, DI, DCA, DCR, RD, DAR, DRR, AD, CDDPL, TE, FT."""


@dataclass(frozen=True, kw_only=True)
class ExplainabilityMonitorArgs(MonitorJobArgs):
    """Feature attribution drift of the live model, computed by Clarify with Kernel SHAP."""

    analysis_config: AnalysisConfigLocation
    """Where the generated analysis config is uploaded."""
    headers: Sequence[str]
    """Feature column names, in order (no label)."""
    shap_baseline: str | Sequence[Sequence[str | int | float]]
    """An S3 URI of a baseline CSV, or a few baseline rows inline (one value per header)."""
    num_samples: int = 100
    """Synthetic samples per record for Kernel SHAP."""
    content_type: str = "text/csv"
    """Payload type Clarify sends to the endpoint."""
    accept_type: str = "text/csv"
    """Response type Clarify expects from the endpoint."""


def analysis_config_json(config: dict[str, Any]) -> str:
    """The uploaded JSON: sorted keys and fixed separators so equal configs are equal bytes."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


def bias_analysis_config(args: BiasMonitorArgs) -> dict[str, Any]:
    config: dict[str, Any] = {
        "headers": list(args.headers),
        "label": args.label,
        "label_values_or_threshold": list(args.label_values_or_threshold),
        "facet": [
            {
                "name_or_index": f.name_or_index,
                **({"value_or_threshold": list(f.value_or_threshold)} if f.value_or_threshold else {}),
            }
            for f in args.facets
        ],
        "methods": {"post_training_bias": {"methods": list(args.metrics)}},
    }
    if args.probability_threshold is not None:
        config["probability_threshold"] = args.probability_threshold
    return config


def explainability_analysis_config(args: ExplainabilityMonitorArgs) -> dict[str, Any]:
    baseline = args.shap_baseline if isinstance(args.shap_baseline, str) else [list(r) for r in args.shap_baseline]
    return {
        "headers": list(args.headers),
        "methods": {
            "shap": {
                "baseline": baseline,
                "num_samples": args.num_samples,
                "agg_method": "mean_abs",
                "use_logit": False,
                "save_local_shap_values": False,
            }
        },
        "predictor": {"content_type": args.content_type, "accept_type": args.accept_type},
    }


def native_tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """aws-native takes tags as a list of {key, value}; sorted so the plan is stable."""
    return [{"key": k, "value": tags[k]} for k in sorted(tags)]


def _validate(args: MonitorJobArgs) -> None:
    if args.cadence not in CADENCES:
        raise ValueError(f"cadence must be one of {', '.join(CADENCES)}")
    if args.endpoint.s3_input_mode not in ("File", "Pipe"):
        raise ValueError("s3_input_mode must be File or Pipe")
    if args.vpc_subnet_ids and not args.vpc_security_group_ids:
        raise ValueError("a VPC config needs security groups as well as subnets")


def _endpoint_input(e: EndpointInputArgs, allowed: Sequence[str]) -> dict[str, Any]:
    # _BIAS_ATTRS is the full set: every optional attribute the dataclass has.
    given = {k: getattr(e, k) for k in _BIAS_ATTRS if getattr(e, k) is not None}
    # The three job input types differ in which attributes they accept; fail at plan time, not in AWS.
    if unsupported := sorted(set(given) - set(allowed)):
        raise ValueError(f"this monitor's endpoint input does not take {', '.join(unsupported)}")
    return {
        "endpoint_name": e.endpoint_name,
        "local_path": _INPUT_PATH,
        "s3_input_mode": e.s3_input_mode,
        "s3_data_distribution_type": "FullyReplicated",
        **given,
    }


def _job_kwargs(args: MonitorJobArgs, kind: str) -> dict[str, Any]:
    """Keyword arguments shared by the three aws-native job definitions (kind: model_quality, ...)."""
    network: dict[str, Any] = {"enable_network_isolation": True, "enable_inter_container_traffic_encryption": True}
    if args.vpc_subnet_ids:
        network["vpc_config"] = {
            "subnets": sorted(args.vpc_subnet_ids),
            "security_group_ids": sorted(args.vpc_security_group_ids),
        }
    kwargs: dict[str, Any] = {
        "job_definition_name": _content_hashed_name(args, kind),
        "role_arn": args.role_arn,
        "job_resources": {
            "cluster_config": {
                "instance_count": args.instance_count,
                "instance_type": args.instance_type,
                "volume_size_in_gb": args.volume_size_gb,
                "volume_kms_key_id": args.kms_key_arn,
            }
        },
        f"{kind}_job_output_config": {
            "kms_key_id": args.kms_key_arn,
            "monitoring_outputs": [
                {"s3_output": {"s3_uri": args.reports_s3_uri, "local_path": _OUTPUT_PATH, "s3_upload_mode": "EndOfJob"}}
            ],
        },
        "network_config": network,
        "stopping_condition": {"max_runtime_in_seconds": args.max_runtime_seconds},
        "tags": native_tags(args.tags),
    }
    if args.baseline_constraints_uri:
        kwargs[f"{kind}_baseline_config"] = {"constraints_resource": {"s3_uri": args.baseline_constraints_uri}}
    return kwargs


def ground_truth_statements(ground_truth_s3_uri: str) -> list[dict[str, Any]]:
    """Read-only access to one S3 prefix: its objects, and listing its bucket under that prefix only."""
    if not ground_truth_s3_uri.startswith("s3://"):
        raise ValueError(f"ground truth must be an s3:// URI, got {ground_truth_s3_uri!r}")
    bucket, _, prefix = ground_truth_s3_uri.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")
    bucket_arn = f"arn:aws:s3:::{bucket}"
    listing: dict[str, Any] = {
        "Sid": "ListGroundTruth",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": bucket_arn,
    }
    if prefix:
        listing["Condition"] = {"StringLike": {"s3:prefix": [f"{prefix}/*"]}}
    read = {
        "Sid": "ReadGroundTruth",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": f"{bucket_arn}/{prefix}/*" if prefix else f"{bucket_arn}/*",
    }
    return [read, listing]


def _grant_ground_truth(
    parent: pulumi.ComponentResource, name: str, args: MonitorJobArgs, ground_truth_s3_uri: str
) -> aws.iam.RolePolicy | None:
    """The job's role may read the ground truth (when the caller names the role)."""
    if args.role_name is None:
        return None
    return aws.iam.RolePolicy(
        f"{name}-ground-truth-access",
        role=args.role_name,
        policy=document(*ground_truth_statements(ground_truth_s3_uri)),
        opts=child(parent),
    )


def _plain(value: Any) -> Any:
    """The parts of the args known at plan time (Outputs are hashed separately)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return "<output>"


def _content_hashed_name(args: MonitorJobArgs, kind: str) -> pulumi.Output[str]:
    """Every property of these job definitions forces replacement: a name that follows the
    content lets the new definition be created (and the schedule repointed) before the old goes."""
    dynamic = pulumi.Output.all(args.role_arn, args.kms_key_arn, args.endpoint.endpoint_name)
    # role_name only says who grants the role its reads: not part of the job definition.
    content = {k: v for k, v in _plain(args).items() if k != "role_name"}
    return dynamic.apply(
        lambda values: content_name(args.job_definition_name[:52], {"kind": kind, "args": content, "outputs": values})
    )


def _schedule(parent: pulumi.Resource, name: str, args: MonitorJobArgs, kind: str, job: pulumi.Output[Any]) -> Schedule:
    return aws.sagemaker.MonitoringSchedule(
        f"{name}-schedule",
        name=args.schedule_name,
        monitoring_schedule_config={
            # By the job definition's output, so the schedule waits for (and follows) it.
            "monitoring_job_definition_name": job,
            "monitoring_type": kind,
            "schedule_config": {"schedule_expression": CADENCES[args.cadence]},
        },
        tags=dict(args.tags),
        opts=child(parent),
    )


def _upload_config(
    parent: pulumi.ComponentResource,
    name: str,
    args: MonitorJobArgs,
    where: AnalysisConfigLocation,
    config: dict[str, Any],
) -> tuple[aws.s3.BucketObjectv2, pulumi.Output[str]]:
    obj = aws.s3.BucketObjectv2(
        f"{name}-analysis-config",
        bucket=where.bucket,
        key=where.key,
        content=analysis_config_json(config),
        content_type="application/json",
        server_side_encryption="aws:kms",
        kms_key_id=args.kms_key_arn,
        bucket_key_enabled=True,
        tags=dict(args.tags),
        opts=child(parent),
    )
    # From the object's outputs, so the job definition is created only once the config exists.
    uri = pulumi.Output.concat("s3://", obj.bucket, "/", obj.key)
    return obj, uri


class ModelQualityMonitor(pulumi.ComponentResource):
    job_definition: aws_native.sagemaker.ModelQualityJobDefinition
    schedule: aws.sagemaker.MonitoringSchedule

    def __init__(self, name: str, args: ModelQualityMonitorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlstack:monitoring:ModelQualityMonitor", name, None, opts)
        _validate(args)
        if args.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"problem_type must be one of {', '.join(PROBLEM_TYPES)}")
        grant = _grant_ground_truth(self, name, args, args.ground_truth_s3_uri)
        self.job_definition = aws_native.sagemaker.ModelQualityJobDefinition(
            f"{name}-job",
            model_quality_app_specification={
                "image_uri": args.image_uri,
                "problem_type": args.problem_type,
                "environment": _METRICS_ON,
            },
            model_quality_job_input={
                "endpoint_input": _endpoint_input(args.endpoint, (*_QUALITY_ATTRS, *_OFFSETS)),
                "ground_truth_s3_input": {"s3_uri": args.ground_truth_s3_uri},
            },
            **_job_kwargs(args, "model_quality"),
            opts=child(self, depends_on=[grant] if grant else None),
        )
        self.schedule = _schedule(self, name, args, "ModelQuality", self.job_definition.job_definition_name)
        self.register_outputs({"schedule_name": self.schedule.name})


class BiasMonitor(pulumi.ComponentResource):
    analysis_config: aws.s3.BucketObjectv2
    job_definition: aws_native.sagemaker.ModelBiasJobDefinition
    schedule: aws.sagemaker.MonitoringSchedule

    def __init__(self, name: str, args: BiasMonitorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlstack:monitoring:BiasMonitor", name, None, opts)
        _validate(args)
        if not args.facets or not args.metrics:
            raise ValueError("a bias monitor needs at least one facet and one metric")
        self.analysis_config, config_uri = _upload_config(
            self, name, args, args.analysis_config, bias_analysis_config(args)
        )
        grant = _grant_ground_truth(self, name, args, args.ground_truth_s3_uri)
        self.job_definition = aws_native.sagemaker.ModelBiasJobDefinition(
            f"{name}-job",
            model_bias_app_specification={
                "image_uri": args.image_uri,
                "config_uri": config_uri,
                "environment": _METRICS_ON,
            },
            model_bias_job_input={
                "endpoint_input": _endpoint_input(args.endpoint, _BIAS_ATTRS),
                "ground_truth_s3_input": {"s3_uri": args.ground_truth_s3_uri},
            },
            **_job_kwargs(args, "model_bias"),
            opts=child(self, depends_on=[grant] if grant else None),
        )
        self.schedule = _schedule(self, name, args, "ModelBias", self.job_definition.job_definition_name)
        self.register_outputs({"schedule_name": self.schedule.name, "analysis_config_uri": config_uri})


class ExplainabilityMonitor(pulumi.ComponentResource):
    analysis_config: aws.s3.BucketObjectv2
    job_definition: aws_native.sagemaker.ModelExplainabilityJobDefinition
    schedule: aws.sagemaker.MonitoringSchedule

    def __init__(self, name: str, args: ExplainabilityMonitorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlstack:monitoring:ExplainabilityMonitor", name, None, opts)
        _validate(args)
        if args.num_samples < 1:
            raise ValueError("num_samples must be positive")
        if not isinstance(args.shap_baseline, str) and any(len(r) != len(args.headers) for r in args.shap_baseline):
            raise ValueError("every SHAP baseline row needs one value per header")
        self.analysis_config, config_uri = _upload_config(
            self, name, args, args.analysis_config, explainability_analysis_config(args)
        )
        self.job_definition = aws_native.sagemaker.ModelExplainabilityJobDefinition(
            f"{name}-job",
            model_explainability_app_specification={
                "image_uri": args.image_uri,
                "config_uri": config_uri,
                "environment": _METRICS_ON,
            },
            model_explainability_job_input={"endpoint_input": _endpoint_input(args.endpoint, _SHAP_ATTRS)},
            **_job_kwargs(args, "model_explainability"),
            opts=child(self),
        )
        self.schedule = _schedule(self, name, args, "ModelExplainability", self.job_definition.job_definition_name)
        self.register_outputs({"schedule_name": self.schedule.name, "analysis_config_uri": config_uri})
