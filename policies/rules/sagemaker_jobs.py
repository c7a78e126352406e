"""SageMaker jobs: model-monitor job definitions, and the jobs (and models) inside pipeline definitions.

Also home of the pipeline-definition readers the serving, registry and stack rules share.
A pipeline definition is a JSON string (SageMaker's own PascalCase schema); steps can sit
inside a Condition step's IfSteps/ElseSteps, so every reader walks those too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from ._base import Meta, as_list, for_types, get, resource_rule, truthy

PIPELINE = "aws:sagemaker/pipeline:Pipeline"
DATA_QUALITY_JOB = "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"
MONITORING_SCHEDULE = "aws:sagemaker/monitoringSchedule:MonitoringSchedule"
PROCESSING_STEPS = ("Processing", "QualityCheck", "ClarifyCheck")
"""Step types that run a SageMaker processing job (the checks run Model Monitor containers)."""
TRANSFORM_STEP = "Transform"
"""A batch transform job: its Arguments are a CreateTransformJob request."""
MODEL_STEP = "Model"
"""A model the pipeline creates (the SDK's ModelStep over model.create()): a CreateModel request."""


def present(value: Any) -> bool:
    """A key id or name that is set: a non-empty string, or a pipeline expression computing one."""
    return (isinstance(value, str) and bool(value.strip())) or (isinstance(value, Mapping) and bool(value))


# --- pipeline definitions ------------------------------------------------------------------
def pipeline_definition(props: Any) -> dict[str, Any] | None:
    """The parsed `pipelineDefinition` (a JSON string, or already a mapping), or None."""
    value = get(props, "pipelineDefinition")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
            return None
    return dict(value) if isinstance(value, Mapping) else None


def pipeline_steps(definition: Any) -> Iterator[Mapping[str, Any]]:
    """Every step, depth first, including the branches of Condition steps."""
    for step in as_list(get(definition, "Steps")):
        if not isinstance(step, Mapping):
            continue
        yield step
        if step.get("Type") == "Condition":
            for branch in ("IfSteps", "ElseSteps"):
                yield from pipeline_steps({"Steps": get(step, "Arguments", branch)})


def checked_steps(props: Any, report: ReportViolation) -> list[Mapping[str, Any]]:
    """The steps to check; a definition we cannot read is reported, never silently passed."""
    definition = pipeline_definition(props)
    if definition is not None:
        return list(pipeline_steps(definition))
    if get(props, "pipelineDefinitionS3Location"):
        report("the pipeline definition is in S3 (pipelineDefinitionS3Location), so its steps can't be checked")
    elif get(props, "pipelineDefinition") is not None:
        report("pipelineDefinition is not a JSON object, so its steps can't be checked")
    return []


def step_label(step: Mapping[str, Any]) -> str:
    return f"{step.get('Type')} step {step.get('Name') or '?'}"


def resolve(value: Any, definition: Any) -> Any:
    """A `{"Get": "Parameters.X"}` reference as its parameter's default; any other value as is."""
    ref = get(value, "Get")
    if isinstance(ref, str) and ref.startswith("Parameters."):
        for parameter in as_list(get(definition, "Parameters")):
            if get(parameter, "Name") == ref.removeprefix("Parameters."):
                return get(parameter, "DefaultValue")
    return value


def training_jobs(step: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The CreateTrainingJob requests a step runs: its arguments, or a tuning job's definitions."""
    args = step.get("Arguments")
    if step.get("Type") == "Training":
        return [args if isinstance(args, Mapping) else {}]  # no arguments: nothing is protected
    if step.get("Type") == "Tuning":
        jobs = [get(args, "TrainingJobDefinition"), *as_list(get(args, "TrainingJobDefinitions"))]
        return [job for job in jobs if isinstance(job, Mapping)]
    return []


# --- rules ------------------------------------------------------------------------------------
@for_types(PIPELINE)
def _training_protected(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for step in checked_steps(args.props, report):
        for job in training_jobs(step):
            label = step_label(step)
            if not truthy(get(job, "EnableNetworkIsolation")):
                report(f"{label}: EnableNetworkIsolation is not true")
            if not truthy(get(job, "EnableInterContainerTrafficEncryption")):
                report(f"{label}: EnableInterContainerTrafficEncryption is not true")
            if not present(get(job, "ResourceConfig", "VolumeKmsKeyId")):
                report(f"{label}: ResourceConfig.VolumeKmsKeyId is not set")
            if not present(get(job, "OutputDataConfig", "KmsKeyId")):
                report(f"{label}: OutputDataConfig.KmsKeyId is not set")


@for_types(PIPELINE)
def _processing_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for step in checked_steps(args.props, report):
        if step.get("Type") not in PROCESSING_STEPS:
            continue
        job = step.get("Arguments")
        if not present(get(job, "ProcessingResources", "ClusterConfig", "VolumeKmsKeyId")):
            report(f"{step_label(step)}: ProcessingResources.ClusterConfig.VolumeKmsKeyId is not set")
        # Without outputs nothing is written, so there is nothing to encrypt.
        if as_list(get(job, "ProcessingOutputConfig", "Outputs")) and not present(
            get(job, "ProcessingOutputConfig", "KmsKeyId")
        ):
            report(f"{step_label(step)}: ProcessingOutputConfig.KmsKeyId is not set")


# Model quality, bias and explainability job definitions exist only in pulumi-aws-native.
NATIVE_MONITORING_JOBS = {
    f"aws-native:sagemaker:{kind}JobDefinition": f"{kind[0].lower()}{kind[1:]}JobOutputConfig"
    for kind in ("ModelQuality", "ModelBias", "ModelExplainability")
}
# Where each monitoring job shape keeps its settings: (root, volume key, output key).
_MONITORING_SHAPES = {
    DATA_QUALITY_JOB: ((), ("jobResources", "clusterConfig"), ("dataQualityJobOutputConfig",)),
    **{kind: ((), ("jobResources", "clusterConfig"), (output,)) for kind, output in NATIVE_MONITORING_JOBS.items()},
    MONITORING_SCHEDULE: (
        ("monitoringScheduleConfig", "monitoringJobDefinition"),
        ("monitoringResources", "clusterConfig"),
        ("monitoringOutputConfig",),
    ),
}


def _monitoring_job(args: ResourceValidationArgs) -> tuple[Any, tuple[str, ...], tuple[str, ...], str] | None:
    """(job, volume path, output path, dotted root) — None for a schedule naming a job definition."""
    root, volume, output = _MONITORING_SHAPES[args.resource_type]
    job = get(args.props, *root) if root else args.props
    if not isinstance(job, Mapping):
        return None
    return job, volume, output, ".".join(root)


def _dotted(root: str, *path: str) -> str:
    return ".".join([root, *path] if root else path)


@for_types(DATA_QUALITY_JOB, MONITORING_SCHEDULE, *NATIVE_MONITORING_JOBS)
def _monitoring_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    found = _monitoring_job(args)
    if found is None:
        return
    job, volume, output, root = found
    if not present(get(job, *volume, "volumeKmsKeyId")):
        report(f"monitoring job volume is not encrypted with a KMS key ({_dotted(root, *volume, 'volumeKmsKeyId')})")
    if not present(get(job, *output, "kmsKeyId")):
        report(f"monitoring job output is not encrypted with a KMS key ({_dotted(root, *output, 'kmsKeyId')})")


@for_types(DATA_QUALITY_JOB, MONITORING_SCHEDULE, *NATIVE_MONITORING_JOBS)
def _monitoring_isolated(args: ResourceValidationArgs, report: ReportViolation) -> None:
    found = _monitoring_job(args)
    if found is None:
        return
    job, _, _, root = found
    if not truthy(get(job, "networkConfig", "enableNetworkIsolation")):
        report(f"network isolation is not enabled ({_dotted(root, 'networkConfig', 'enableNetworkIsolation')})")
    if not truthy(get(job, "networkConfig", "enableInterContainerTrafficEncryption")):
        path = _dotted(root, "networkConfig", "enableInterContainerTrafficEncryption")
        report(f"inter-container traffic encryption is not enabled ({path})")


def _reads_capture(step: Mapping[str, Any]) -> bool:
    """A processing step over endpoint data capture: a manifest of it, or the capture prefix itself."""
    for item in as_list(get(step, "Arguments", "ProcessingInputs")):
        s3 = get(item, "S3Input")
        uri = get(s3, "S3Uri")
        if get(s3, "S3DataType") == "ManifestFile" or (isinstance(uri, str) and "/data-capture/" in uri):
            return True
    return False


@for_types(PIPELINE)
def _transform_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for step in checked_steps(args.props, report):
        if step.get("Type") != TRANSFORM_STEP:
            continue
        job, label = step.get("Arguments"), step_label(step)
        if not present(get(job, "TransformOutput", "KmsKeyId")):
            report(f"{label}: TransformOutput.KmsKeyId is not set")
        if not present(get(job, "TransformResources", "VolumeKmsKeyId")):
            report(f"{label}: TransformResources.VolumeKmsKeyId is not set")
        # Captured inference data is written to S3 too, where the job captures it.
        if get(job, "DataCaptureConfig") is not None and not present(get(job, "DataCaptureConfig", "KmsKeyId")):
            report(f"{label}: DataCaptureConfig.KmsKeyId is not set")


@for_types(PIPELINE)
def _model_isolated(args: ResourceValidationArgs, report: ReportViolation) -> None:
    require_vpc = args.get_config().get("requireVpc")
    for step in checked_steps(args.props, report):
        if step.get("Type") != MODEL_STEP:
            continue
        model, label = step.get("Arguments"), step_label(step)
        if not truthy(get(model, "EnableNetworkIsolation")):
            report(f"{label}: EnableNetworkIsolation is not true")
        if require_vpc and not as_list(get(model, "VpcConfig", "Subnets")):
            report(f"{label} creates a model outside a VPC (VpcConfig.Subnets)")


@for_types(PIPELINE)
def _pipeline_monitor_isolated(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for step in checked_steps(args.props, report):
        if step.get("Type") not in PROCESSING_STEPS or not _reads_capture(step):
            continue
        network = get(step, "Arguments", "NetworkConfig")
        if not truthy(get(network, "EnableNetworkIsolation")):
            report(f"{step_label(step)} reads data capture but NetworkConfig.EnableNetworkIsolation is not true")
        if not truthy(get(network, "EnableInterContainerTrafficEncryption")):
            report(f"{step_label(step)}: NetworkConfig.EnableInterContainerTrafficEncryption is not true")
        if args.get_config().get("requireVpc") and not as_list(get(network, "VpcConfig", "Subnets")):
            report(f"{step_label(step)} reads data capture outside a VPC (NetworkConfig.VpcConfig)")


POLICIES = [
    resource_rule(
        "sagemaker-pipeline-monitor-isolated",
        Meta(
            description="Pipeline processing steps that read endpoint data capture (mlstack's drift monitor) run "
            "network-isolated with encrypted inter-container traffic, and in a VPC where `requireVpc`. All tiers.",
            severity=Severity.HIGH,
            controls=("SageMaker.9", "SageMaker.11"),
            fix="Keep the drift monitor's Processing step NetworkConfig (EnableNetworkIsolation, "
            "EnableInterContainerTrafficEncryption) and set network.subnet_ids / security_group_ids in mlstack.yaml.",
            config={"requireVpc": {"type": "boolean", "default": False, "description": "Require a VpcConfig."}},
        ),
        _pipeline_monitor_isolated,
    ),
    resource_rule(
        "sagemaker-monitoring-job-encrypted",
        Meta(
            description="Model Monitor and Clarify jobs (data quality, model quality, bias and explainability job "
            "definitions, and schedules with an inline job) encrypt their volumes and their reports with a KMS key. "
            "All tiers.",
            severity=Severity.MEDIUM,
            controls=("CKV_AWS_367", "CKV_AWS_368"),
            fix="Set jobResources.clusterConfig.volumeKmsKeyId and dataQualityJobOutputConfig.kmsKeyId (inline: "
            "monitoringResources.clusterConfig.volumeKmsKeyId and monitoringOutputConfig.kmsKeyId) to the "
            "environment's KMS key.",
        ),
        _monitoring_encrypted,
    ),
    resource_rule(
        "sagemaker-monitoring-job-isolated",
        Meta(
            description="Model Monitor and Clarify jobs (every job definition kind, and inline jobs) run "
            "network-isolated, with encrypted traffic between their instances. All tiers.",
            severity=Severity.MEDIUM,
            controls=("CKV_AWS_369", "SageMaker.9", "SageMaker.11"),
            fix="Set networkConfig.enableNetworkIsolation and networkConfig.enableInterContainerTrafficEncryption "
            "to true; the monitor reads captured data and writes reports through SageMaker, not the network.",
        ),
        _monitoring_isolated,
    ),
    resource_rule(
        "sagemaker-pipeline-training-protected",
        Meta(
            description="Every Training step of a pipeline (and every tuning job's training definition), "
            "including steps inside Condition branches, is network-isolated, encrypts traffic between its "
            "instances, and encrypts its volume and model artifacts with a KMS key. All tiers.",
            severity=Severity.HIGH,
            fix="In the step's estimator set enable_network_isolation=True, "
            "encrypt_inter_container_traffic=True, volume_kms_key and output_kms_key (mlstack's pipeline "
            "builder does this from the environment's KMS key).",
        ),
        _training_protected,
    ),
    resource_rule(
        "sagemaker-pipeline-processing-encrypted",
        Meta(
            description="Every Processing, QualityCheck and ClarifyCheck step of a pipeline, including steps "
            "inside Condition branches, encrypts its volume and its outputs with a KMS key. All tiers.",
            severity=Severity.HIGH,
            fix="Give the step's processor volume_kms_key and output_kms_key (for checks: the CheckJobConfig's "
            "volume_kms_key and output_kms_key).",
        ),
        _processing_encrypted,
    ),
    resource_rule(
        "sagemaker-pipeline-transform-encrypted",
        Meta(
            description="Every Transform step (batch transform job) of a pipeline, including steps inside "
            "Condition branches, encrypts its results, its volume and any data it captures with a KMS key. "
            "All tiers.",
            severity=Severity.HIGH,
            fix="Give the step's Transformer output_kms_key and volume_kms_key (and the BatchDataCaptureConfig "
            "kms_key_id): TransformOutput.KmsKeyId, TransformResources.VolumeKmsKeyId, DataCaptureConfig.KmsKeyId. "
            "Instance types with local NVMe storage cannot take a volume key: use an EBS-backed family.",
        ),
        _transform_encrypted,
    ),
    resource_rule(
        "sagemaker-pipeline-model-isolated",
        Meta(
            description="Every model a pipeline creates (its Model steps, e.g. the model a batch Transform step "
            "runs), including steps inside Condition branches, is network-isolated, and in a VPC where "
            "`requireVpc`. All tiers.",
            severity=Severity.HIGH,
            controls=("SageMaker.5",),
            fix="Create the step's Model with enable_network_isolation=True and, where a VPC is required, "
            "vpc_config from the environment's network.subnet_ids / security_group_ids in mlstack.yaml.",
            config={"requireVpc": {"type": "boolean", "default": False, "description": "Require a VpcConfig."}},
        ),
        _model_isolated,
    ),
]
