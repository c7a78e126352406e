"""The steps of the batch-scoring pipeline (imports the SageMaker SDK: only via batch_builder)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sagemaker.core.transformer import Transformer
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.parameters import ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.mlops.workflow import ModelStep, Pipeline, ProcessingStep
from sagemaker.mlops.workflow.lambda_step import LambdaStep
from sagemaker.mlops.workflow.steps import TransformStep

from . import layout
from ._monitor_steps import isolated_processor, publish_step
from ._steps import s3_input, s3_output, sklearn_processing_image
from .batch_builder import (
    BASELINE_DIR,
    INPUT_PARAMETER,
    MODEL_DIR,
    MONITOR_SCRIPT,
    OFFLINE_STORE_DIR,
    PREPARE_SCRIPT,
    PREPARED_DIR,
    PREPARED_FILE,
    REPORT_DIR,
    SCORED_DIR,
    STEP_NAMES,
    code_uri,
)
from .batch_inputs import BatchPipelineInputs
from .builder import CODE_DIR


def run_uri(inputs: BatchPipelineInputs, *parts: str) -> Join:
    """s3://<bucket>/batch/<model>/runs/<execution id>/<parts...>."""
    prefix = f"{layout.batch_prefix(inputs.bucket, inputs.model_name)}/runs"
    return Join(on="/", values=[prefix, ExecutionVariables.PIPELINE_EXECUTION_ID, *parts])


@dataclass
class _PackageModel:
    """What ModelStep asks of a model: the pipeline session its request was captured in."""

    sagemaker_session: PipelineSession


def _tags(inputs: BatchPipelineInputs) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in inputs.tags.items()]


def _processor(
    inputs: BatchPipelineInputs, session: PipelineSession, script: str, instance_type: str, max_runtime_seconds: int
) -> Any:
    """A step script in the scikit-learn image, with no network, KMS on volume and output."""
    return isolated_processor(
        role_arn=inputs.role_arn,
        image=sklearn_processing_image(inputs.region, inputs.framework_version, instance_type),
        instance_type=instance_type,
        script=script,
        kms_key_arn=inputs.kms_key_arn,
        max_runtime_seconds=max_runtime_seconds,
        tags=inputs.tags,
        vpc=inputs.vpc,
        session=session,
    )


def model_step(inputs: BatchPipelineInputs, session: PipelineSession) -> ModelStep:
    """CreateModel from the model package: its image, artifact and environment, as registered."""
    session.init_model_step_arguments(_PackageModel(session))
    session.create_model(
        name=inputs.pipeline_name,  # dropped from the request: each execution names its own model
        role=inputs.role_arn,
        container_defs=[{"ModelPackageName": inputs.model_package_arn}],
        vpc_config={"Subnets": list(inputs.vpc.subnet_ids), "SecurityGroupIds": list(inputs.vpc.security_group_ids)}
        if inputs.vpc
        else None,
        enable_network_isolation=True,
        tags=_tags(inputs),
    )
    return ModelStep(name=STEP_NAMES["model"], step_args=session.context)


def prepare_step(inputs: BatchPipelineInputs, session: PipelineSession) -> ProcessingStep:
    """The feature group's latest record per entity, as headerless CSV in the model's feature order."""
    source = inputs.feature_group
    assert source is not None
    processor = _processor(inputs, session, PREPARE_SCRIPT, inputs.processing_instance_type, 3600)
    step_args = processor.run(
        inputs=[
            s3_input("offline-store", source.offline_store_s3_uri, OFFLINE_STORE_DIR),
            s3_input("model", inputs.model_data_url, MODEL_DIR),
            s3_input("code", code_uri(inputs.bucket, inputs.model_name, PREPARE_SCRIPT), CODE_DIR),
        ],
        outputs=[s3_output("batch-input", run_uri(inputs, "input"), PREPARED_DIR)],
        arguments=["--record-identifier", source.record_identifier, "--event-time", source.event_time],
    )
    return ProcessingStep(name=STEP_NAMES["prepare"], step_args=step_args)


def transform_step(inputs: BatchPipelineInputs, session: PipelineSession, model: ModelStep, data: Any) -> TransformStep:
    transformer = Transformer(
        model_name=model.properties.ModelName,
        instance_count=inputs.instance_count,
        instance_type=inputs.instance_type,
        strategy=inputs.strategy,
        assemble_with="Line",
        output_path=Join(on="/", values=[inputs.output_s3_uri.rstrip("/"), ExecutionVariables.PIPELINE_EXECUTION_ID]),
        output_kms_key=inputs.kms_key_arn,
        volume_kms_key=inputs.kms_key_arn,
        accept=inputs.content_type,
        max_concurrent_transforms=inputs.max_concurrent_transforms,
        max_payload=inputs.max_payload_mb,
        tags=_tags(inputs),
        sagemaker_session=session,
    )
    # Each line is a record; the output keeps it, joined with its prediction, for the monitor.
    step_args = transformer.transform(
        data=data, content_type=inputs.content_type, split_type="Line", join_source="Input"
    )
    return TransformStep(name=STEP_NAMES["transform"], step_args=step_args)


def monitor_steps(
    inputs: BatchPipelineInputs, session: PipelineSession, transform: TransformStep
) -> list[ProcessingStep | LambdaStep]:
    monitor = inputs.monitor
    assert monitor is not None
    processor = _processor(inputs, session, MONITOR_SCRIPT, monitor.instance_type, monitor.max_runtime_seconds)
    step_args = processor.run(
        inputs=[
            s3_input("batch", transform.properties.TransformOutput.S3OutputPath, SCORED_DIR),
            s3_input("baseline", monitor.baseline_s3_uri, BASELINE_DIR),
            s3_input("code", code_uri(inputs.bucket, inputs.model_name, MONITOR_SCRIPT), CODE_DIR),
        ],
        outputs=[s3_output("report", run_uri(inputs, "report"), REPORT_DIR)],
        arguments=[
            "--model",
            inputs.model_name,
            "--problem-type",
            inputs.problem_type,
            "--threshold",
            repr(float(monitor.drift_threshold)),
            "--probability-threshold",
            repr(float(monitor.probability_threshold)),
            "--batch-dir",
            SCORED_DIR,
            "--batch-content-type",
            inputs.content_type,
        ],
    )
    scored = ProcessingStep(name=STEP_NAMES["monitor"], step_args=step_args)
    publish = publish_step(
        function_arn=monitor.publish_function_arn,
        metrics_uri=run_uri(inputs, "report", "metrics.json"),
        namespace=monitor.metrics_namespace,
        tracking_server_arn=monitor.tracking_server_arn,
        experiment=inputs.pipeline_name,
        after=scored,
        session=session,
    )
    return [scored, publish]


def batch_pipeline(inputs: BatchPipelineInputs, session: PipelineSession) -> Pipeline:
    parameters = []
    steps: list[Any] = []
    if inputs.feature_group is not None:
        prepare = prepare_step(inputs, session)
        steps.append(prepare)
        prepared = prepare.properties.ProcessingOutputConfig.Outputs["batch-input"].S3Output.S3Uri
        # Only the features: records.csv beside it holds each row's entity id.
        data: Any = Join(on="/", values=[prepared, PREPARED_FILE])
    else:
        # A parameter, so one run can score another prefix: `aws sagemaker start-pipeline-execution`.
        data = ParameterString(name=INPUT_PARAMETER, default_value=inputs.input_s3_uri)
        parameters.append(data)
    model = model_step(inputs, session)
    transform = transform_step(inputs, session, model, data)
    steps += [model, transform]
    if inputs.monitor is not None:
        steps += monitor_steps(inputs, session, transform)
    return Pipeline(name=inputs.pipeline_name, parameters=parameters, steps=steps, sagemaker_session=session)
