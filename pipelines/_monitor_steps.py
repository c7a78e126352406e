"""The steps of the drift-monitoring pipeline (imports the SageMaker SDK: only via monitor_builder)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagemaker.core.lambda_helper import Lambda
from sagemaker.core.network import NetworkConfig
from sagemaker.core.processing import Processor
from sagemaker.core.shapes import ProcessingInput, ProcessingS3Input
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.parameters import ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.mlops.workflow import Pipeline, ProcessingStep
from sagemaker.mlops.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep

from . import layout
from ._steps import s3_input, s3_output, sklearn_processing_image
from .inputs import Vpc
from .monitor_builder import (
    BASELINE_DIR,
    BASELINE_PARAMETER,
    CAPTURE_DIR,
    CODE_DIR,
    GROUND_TRUTH_DIR,
    MONITOR_SCRIPT,
    REPORT_DIR,
    SCHEDULED_TIME_PARAMETER,
    STEP_NAMES,
)
from .monitor_inputs import MonitorPipelineInputs


def run_uri(inputs: MonitorPipelineInputs, *parts: str) -> Join:
    """s3://<bucket>/monitoring/<model>/runs/<execution id>/<parts...>."""
    prefix = f"{layout.monitoring_reports_prefix(inputs.bucket, inputs.model_name)}/runs"
    return Join(on="/", values=[prefix, ExecutionVariables.PIPELINE_EXECUTION_ID, *parts])


def monitor_code_uri(bucket: str, model: str, script: str) -> str:
    return f"{layout.monitoring_reports_prefix(bucket, model)}/code/{script}"


def isolated_processor(
    *,
    role_arn: str,
    image: str,
    instance_type: str,
    script: str,
    kms_key_arn: str,
    max_runtime_seconds: int,
    tags: Mapping[str, str],
    vpc: Vpc | None,
    session: PipelineSession,
) -> Processor:
    """One instance running `python3 <CODE_DIR>/<script>`, KMS on volume and output, and no
    network at all: the job reads prediction data, and SageMaker stages its inputs and outputs."""
    return Processor(
        role=role_arn,
        image_uri=image,
        instance_count=1,
        instance_type=instance_type,
        entrypoint=["python3", f"{CODE_DIR}/{script}"],
        volume_kms_key=kms_key_arn,
        output_kms_key=kms_key_arn,
        max_runtime_in_seconds=max_runtime_seconds,
        sagemaker_session=session,
        tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        network_config=NetworkConfig(
            enable_network_isolation=True,
            encrypt_inter_container_traffic=True,
            subnets=list(vpc.subnet_ids) if vpc else None,
            security_group_ids=list(vpc.security_group_ids) if vpc else None,
        ),
    )


def publish_step(
    *,
    function_arn: str,
    metrics_uri: Any,
    namespace: str,
    tracking_server_arn: str | None,
    experiment: str,
    after: ProcessingStep,
    session: PipelineSession,
) -> LambdaStep:
    """PublishMetrics: the monitor's metrics.json into CloudWatch (and MLflow), after `after` wrote it."""
    return LambdaStep(
        name=STEP_NAMES["publish"],
        lambda_func=Lambda(function_arn=function_arn, session=session),
        inputs={
            "MetricsS3Uri": metrics_uri,
            "Namespace": namespace,
            "TrackingServerArn": tracking_server_arn or "",
            "Experiment": experiment,
            "RunName": ExecutionVariables.PIPELINE_EXECUTION_ID,
        },
        outputs=[LambdaOutput(output_name="published", output_type=LambdaOutputTypeEnum.Integer)],
        depends_on=[after],
    )


def monitor_pipeline(inputs: MonitorPipelineInputs, session: PipelineSession) -> Pipeline:
    baseline = ParameterString(name=BASELINE_PARAMETER, default_value=inputs.baseline_s3_uri)
    # EventBridge Scheduler passes its <aws.scheduler.scheduled-time>; empty (a manual start) = now.
    scheduled = ParameterString(name=SCHEDULED_TIME_PARAMETER, default_value="")
    manifest = run_uri(inputs, "capture.manifest")
    prepare = LambdaStep(
        name=STEP_NAMES["prepare"],
        lambda_func=Lambda(function_arn=inputs.prepare_function_arn, session=session),
        inputs={
            "CaptureS3Uri": inputs.capture_s3_uri,
            "WindowHours": inputs.window_hours,
            "ScheduledTime": scheduled,
            "ManifestS3Uri": manifest,
        },
        outputs=[LambdaOutput(output_name="records_files", output_type=LambdaOutputTypeEnum.Integer)],
    )
    image = sklearn_processing_image(inputs.region, inputs.framework_version, inputs.instance_type)
    processor = isolated_processor(
        role_arn=inputs.role_arn,
        image=image,
        instance_type=inputs.instance_type,
        script=MONITOR_SCRIPT,
        kms_key_arn=inputs.kms_key_arn,
        max_runtime_seconds=inputs.max_runtime_seconds,
        tags=inputs.tags,
        vpc=inputs.vpc,
        session=session,
    )
    staged = [
        ProcessingInput(
            input_name="capture",
            s3_input=ProcessingS3Input(
                s3_uri=manifest,
                local_path=CAPTURE_DIR,
                s3_data_type="ManifestFile",
                s3_input_mode="File",
                s3_data_distribution_type="FullyReplicated",
            ),
        ),
        s3_input("baseline", baseline, BASELINE_DIR),
        s3_input("code", monitor_code_uri(inputs.bucket, inputs.model_name, MONITOR_SCRIPT), CODE_DIR),
    ]
    if inputs.ground_truth_s3_uri:
        staged.append(s3_input("ground-truth", inputs.ground_truth_s3_uri, GROUND_TRUTH_DIR))
    arguments = [
        "--model",
        inputs.model_name,
        "--problem-type",
        inputs.problem_type,
        "--threshold",
        repr(float(inputs.drift_threshold)),
        "--probability-threshold",
        repr(float(inputs.probability_threshold)),
    ]
    if inputs.facet:
        arguments += ["--facet", inputs.facet, "--facet-values", ",".join(inputs.facet_values)]
    step_args = processor.run(
        inputs=staged, outputs=[s3_output("report", run_uri(inputs, "report"), REPORT_DIR)], arguments=arguments
    )
    monitor = ProcessingStep(name=STEP_NAMES["monitor"], step_args=step_args, depends_on=[prepare])
    publish = publish_step(
        function_arn=inputs.publish_function_arn,
        metrics_uri=run_uri(inputs, "report", "metrics.json"),
        namespace=inputs.metrics_namespace,
        tracking_server_arn=inputs.tracking_server_arn,
        experiment=inputs.pipeline_name,
        after=monitor,
        session=session,
    )
    return Pipeline(
        name=inputs.pipeline_name,
        parameters=[baseline, scheduled],
        steps=[prepare, monitor, publish],
        sagemaker_session=session,
    )
