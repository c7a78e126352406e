"""The pipeline's steps, composed with the SageMaker SDK v3 under an offline PipelineSession.

Imported by `pipelines.builder.build_definition` only, inside `offline_session`: this
module imports the SDK at import time.
"""

from __future__ import annotations

import functools
from typing import Any

from sagemaker.core import image_uris
from sagemaker.core.drift_check_baselines import DriftCheckBaselines
from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
from sagemaker.core.model_monitor.dataset_format import DatasetFormat
from sagemaker.core.network import NetworkConfig
from sagemaker.core.processing import Processor
from sagemaker.core.shapes import (
    ProcessingInput,
    ProcessingOutput,
    ProcessingS3Input,
    ProcessingS3Output,
    StoppingCondition,
    Tag,
)
from sagemaker.core.training.configs import CheckpointConfig, Compute, InputData, Networking, OutputDataConfig
from sagemaker.core.workflow import conditions
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.parameters import ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow import (
    CheckJobConfig,
    ConditionStep,
    FailStep,
    ModelStep,
    Pipeline,
    ProcessingStep,
    QualityCheckStep,
    TrainingStep,
)
from sagemaker.mlops.workflow.lambda_step import LambdaStep
from sagemaker.mlops.workflow.quality_check_step import DataQualityCheckConfig
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train import ModelTrainer

from . import layout
from ._tracking_step import run_id, tracking_step
from .builder import CODE_DIR, EVALUATION_PROPERTY_FILE, STEP_NAMES, TRAINING_CODE_CHANNEL
from .inputs import PROBLEM_TYPE_HYPERPARAMETER, TrainingPipelineInputs

_CONDITIONS = {
    "GreaterThanOrEqualTo": conditions.ConditionGreaterThanOrEqualTo,
    "GreaterThan": conditions.ConditionGreaterThan,
    "LessThanOrEqualTo": conditions.ConditionLessThanOrEqualTo,
    "LessThan": conditions.ConditionLessThan,
}


def pipeline_for(inputs: TrainingPipelineInputs, session: PipelineSession) -> Pipeline:
    """The whole pipeline: data parameters, the linear steps and the gate with its two branches."""
    data = [
        ParameterString(name="InputDataUri" if index == 0 else f"InputDataUri{index + 1}", default_value=uri)
        for index, uri in enumerate(inputs.data_uris)
    ]
    preprocess = preprocess_step(inputs, session, data)
    train = training_step(inputs, session, preprocess)
    evaluate = evaluation_step(inputs, session, preprocess, train)
    track = None
    if inputs.tracking_server_arn:
        model = train.properties.ModelArtifacts.S3ModelArtifacts
        track = tracking_step(inputs, session, evaluation_uri=evaluation_uri(evaluate), model_artifact=model)
    gate = gate_step(inputs, session, preprocess, train, evaluate, track)
    return Pipeline(
        name=inputs.pipeline_name,
        parameters=data,
        steps=[preprocess, train, evaluate, *([track] if track else []), gate],
        sagemaker_session=session,
        # No SageMaker Experiments trial per execution: region-dependent by default, and
        # the pipeline role is not allowed to create experiments.
        pipeline_experiment_config=None,
    )


# --- shared pieces -------------------------------------------------------------------
def run_uri(inputs: TrainingPipelineInputs, *parts: str) -> Join:
    """s3://<bucket>/pipelines/<model>/runs/<execution id>/<parts...>: one prefix per execution."""
    prefix = layout.runs_prefix(inputs.bucket, inputs.model_name)
    return Join(on="/", values=[prefix, ExecutionVariables.PIPELINE_EXECUTION_ID, *parts])


def baseline_uri(inputs: TrainingPipelineInputs, *parts: str) -> Join:
    """s3://<bucket>/baselines/<model>/data-quality/<execution id>/<parts...>: one baseline per execution."""
    prefix = layout.data_quality_baseline_prefix(inputs.bucket, inputs.model_name)
    return Join(on="/", values=[prefix, ExecutionVariables.PIPELINE_EXECUTION_ID, *parts])


def code_uri(inputs: TrainingPipelineInputs, script: str) -> str:
    return f"{layout.code_prefix(inputs.bucket, inputs.model_name)}/{script}"


def job_tags(inputs: TrainingPipelineInputs) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(inputs.tags.items())]


def network_config(inputs: TrainingPipelineInputs) -> NetworkConfig:
    """Processing jobs: no network from the container, encrypted traffic between instances."""
    return NetworkConfig(
        enable_network_isolation=True,
        encrypt_inter_container_traffic=True,
        subnets=list(inputs.vpc.subnet_ids) if inputs.vpc else None,
        security_group_ids=list(inputs.vpc.security_group_ids) if inputs.vpc else None,
    )


def s3_input(name: str, uri: Any, local_path: str) -> ProcessingInput:
    return ProcessingInput(
        input_name=name,
        s3_input=ProcessingS3Input(
            s3_uri=uri,
            local_path=local_path,
            s3_data_type="S3Prefix",
            s3_input_mode="File",
            s3_data_distribution_type="FullyReplicated",
        ),
    )


def s3_output(name: str, uri: Any, local_path: str) -> ProcessingOutput:
    return ProcessingOutput(
        output_name=name,
        s3_output=ProcessingS3Output(s3_uri=uri, local_path=local_path, s3_upload_mode="EndOfJob"),
    )


def script_processor(
    inputs: TrainingPipelineInputs,
    session: PipelineSession,
    image: str,
    script: str,
    env: dict[str, str] | None = None,
) -> Processor:
    """A processing job running `python3 <script>` from the code input (see `code_input`).

    A plain Processor with an explicit code input rather than ScriptProcessor: the latter
    mounts the code under /opt/ml/processing/input/code, inside the directory the
    preprocessing script reads data from.
    """
    return Processor(
        env=env,
        role=inputs.role_arn,
        image_uri=image,
        instance_count=1,
        instance_type=inputs.processing_instance_type,
        entrypoint=["python3", f"{CODE_DIR}/{script}"],
        volume_kms_key=inputs.kms_key_arn,
        output_kms_key=inputs.kms_key_arn,
        sagemaker_session=session,
        tags=job_tags(inputs),
        network_config=network_config(inputs),
    )


def code_input(inputs: TrainingPipelineInputs, script: str) -> ProcessingInput:
    return s3_input("code", code_uri(inputs, script), CODE_DIR)


@functools.cache
def image_uri(framework: str, region: str, *, version: str, py_version: str, instance_type: str, scope: str) -> str:
    """image_uris.retrieve, once per argument set: it re-reads botocore's endpoint data each call."""
    return image_uris.retrieve(
        framework=framework,
        region=region,
        version=version,
        py_version=py_version,
        instance_type=instance_type,
        image_scope=scope,
    )


def sklearn_processing_image(region: str, version: str, instance_type: str) -> str:
    """The scikit-learn image processing jobs run our scripts in (its training flavour)."""
    return image_uri(
        "sklearn", region, version=version, py_version="py3", instance_type=instance_type, scope="training"
    )


def framework_image(inputs: TrainingPipelineInputs, instance_type: str, scope: str = "training") -> str:
    """The framework's regional image; the instance type picks its CPU or GPU flavour."""
    return image_uri(
        inputs.framework,
        inputs.region,
        version=inputs.framework_version,
        py_version=inputs.py_version,
        instance_type=instance_type,
        scope=scope,
    )


def split_uri(step: ProcessingStep, split: str) -> Any:
    """The S3 URI of a preprocessing output, as a property: consumers depend on the step."""
    return step.properties.ProcessingOutputConfig.Outputs[split].S3Output.S3Uri


def evaluation_uri(evaluate: ProcessingStep) -> Join:
    """evaluation.json's S3 URI, as a property of the evaluation step."""
    report_dir = evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri
    return Join(on="/", values=[report_dir, layout.EVALUATION_FILE])


class _QualityCheckStep(QualityCheckStep):
    """QualityCheckStep with a serializable NetworkConfig.

    SDK quirk (sagemaker-mlops 1.27): the baselining request carries the NetworkConfig
    object itself, which Pipeline.definition() cannot JSON-encode; convert it the way
    Processor does for processing steps.
    """

    @property
    def arguments(self) -> dict[str, Any]:
        request = super().arguments
        network = request.get("NetworkConfig")
        if isinstance(network, NetworkConfig):
            request["NetworkConfig"] = network._to_request_dict()
        return request


def hyperparameters_for(inputs: TrainingPipelineInputs) -> dict[str, Any]:
    """The training job's hyperparameters: the spec's, the problem type and script mode's two."""
    return {
        **inputs.hyperparameters,
        PROBLEM_TYPE_HYPERPARAMETER: inputs.problem_type,
        # Script mode as the SageMaker framework containers implement it (sagemaker-training-toolkit):
        # the code comes in as an input channel (network isolation forbids the container fetching
        # it) and the toolkit copies it from there into /opt/ml/code before running the program.
        "sagemaker_program": inputs.entry_point,
        "sagemaker_submit_directory": f"/opt/ml/input/data/{TRAINING_CODE_CHANNEL}",
        "sagemaker_region": inputs.region,
        "sagemaker_container_log_level": 20,
    }


def lineage_context(inputs: TrainingPipelineInputs) -> dict[str, Any]:
    """What lineage.json records that is known when the definition is built (layout: "lineage")."""
    return {
        "code": dict(inputs.script_sha256),
        "code_sha256": layout.code_sha256(inputs.script_sha256),
        "training": {
            "image": framework_image(inputs, inputs.training_instance_type),
            "inference_image": framework_image(inputs, inputs.training_instance_type, scope="inference"),
            "framework": inputs.framework,
            "framework_version": inputs.framework_version,
            "instance_type": inputs.training_instance_type,
            "instance_count": inputs.training_instance_count,
            "hyperparameters": dict(inputs.hyperparameters),
            "algorithm": inputs.hyperparameters.get("algorithm"),
            "problem_type": inputs.problem_type,
        },
        "feature_group": inputs.feature_group_name,
        "model_package_group": inputs.model_package_group_name,
    }


# --- steps -----------------------------------------------------------------------------
def preprocess_step(
    inputs: TrainingPipelineInputs, session: PipelineSession, data: list[ParameterString]
) -> ProcessingStep:
    image = sklearn_processing_image(
        inputs.region, inputs.processing_framework_version, inputs.processing_instance_type
    )
    # Each source gets its own directory under input/; preprocess.py reads input/ recursively.
    sources = [
        s3_input(f"data-{index}", uri, f"{layout.PREPROCESS_INPUT}/data-{index}") for index, uri in enumerate(data)
    ]
    outputs = [s3_output(split, run_uri(inputs, split), path) for split, path in layout.PREPROCESS_OUTPUTS.items()]
    name = layout.PREPROCESS_BASELINE_OUTPUT
    outputs.append(s3_output(name, run_uri(inputs, name), layout.PREPROCESS_BASELINE))
    outputs.append(s3_output(layout.LINEAGE_OUTPUT, run_uri(inputs, layout.LINEAGE_OUTPUT), layout.LINEAGE_DIR))
    arguments: list[Any] = [
        "--target",
        inputs.target,
        "--validation-fraction",
        repr(inputs.validation_fraction),
        "--test-fraction",
        repr(inputs.test_fraction),
        "--seed",
        str(inputs.seed),
    ]
    for flag, columns in (
        ("--drop-columns", inputs.drop_columns),
        ("--categorical-columns", inputs.categorical_columns),
        ("--column-names", inputs.column_names),
    ):
        if columns:
            arguments += [flag, ",".join(columns)]
    # Lineage facts only known when the execution runs: its ARN and the data parameters' values.
    arguments += ["--pipeline-execution-arn", ExecutionVariables.PIPELINE_EXECUTION_ARN]
    for uri in data:
        arguments += ["--data-source", uri]
    env = layout.lineage_environment(lineage_context(inputs))
    processor = script_processor(inputs, session, image, "preprocess.py", env=env)
    step_args = processor.run(
        inputs=[*sources, code_input(inputs, "preprocess.py")], outputs=outputs, arguments=arguments
    )
    return ProcessingStep(name=STEP_NAMES["preprocess"], step_args=step_args)


def training_step(inputs: TrainingPipelineInputs, session: PipelineSession, preprocess: ProcessingStep) -> TrainingStep:
    spot = inputs.use_spot
    trainer = ModelTrainer(
        sagemaker_session=session,
        role=inputs.role_arn,
        base_job_name=f"{inputs.model_name}-train",
        training_image=framework_image(inputs, inputs.training_instance_type),
        compute=Compute(
            instance_type=inputs.training_instance_type,
            instance_count=inputs.training_instance_count,
            volume_size_in_gb=inputs.training_volume_size_gb,
            volume_kms_key_id=inputs.kms_key_arn,
            enable_managed_spot_training=True if spot else None,
        ),
        networking=Networking(
            subnets=list(inputs.vpc.subnet_ids) if inputs.vpc else None,
            security_group_ids=list(inputs.vpc.security_group_ids) if inputs.vpc else None,
            enable_network_isolation=True,
            enable_inter_container_traffic_encryption=True,
        ),
        stopping_condition=StoppingCondition(
            max_runtime_in_seconds=inputs.max_runtime_seconds,
            max_wait_time_in_seconds=inputs.effective_max_wait_seconds,
        ),
        output_data_config=OutputDataConfig(
            s3_output_path=layout.artifacts_prefix(inputs.bucket, inputs.model_name),
            kms_key_id=inputs.kms_key_arn,
        ),
        # Spot: SageMaker syncs /opt/ml/checkpoints here, and back after an interruption.
        checkpoint_config=CheckpointConfig(s3_uri=run_uri(inputs, "checkpoints")) if spot else None,
        hyperparameters=hyperparameters_for(inputs),
        tags=[Tag(key=key, value=value) for key, value in sorted(inputs.tags.items())] or None,
    )
    channels = [
        InputData(channel_name=split, data_source=split_uri(preprocess, split), content_type="text/csv")
        for split in ("train", "validation")
    ]
    # The whole code prefix (a directory: train.py may import helpers next to it, and it packs
    # inference.py from there into the model).
    code_dir = f"{layout.code_prefix(inputs.bucket, inputs.model_name)}/"
    code = InputData(channel_name=TRAINING_CODE_CHANNEL, data_source=code_dir)
    return TrainingStep(name=STEP_NAMES["train"], step_args=trainer.train(input_data_config=[*channels, code]))


def evaluation_step(
    inputs: TrainingPipelineInputs, session: PipelineSession, preprocess: ProcessingStep, train: TrainingStep
) -> ProcessingStep:
    # The training framework's image: a joblib model loads only with the libraries (and
    # versions) it was saved with; sklearn's processing image has no xgboost.
    image = framework_image(inputs, inputs.processing_instance_type)
    processor = script_processor(inputs, session, image, "evaluate.py")
    step_args = processor.run(
        inputs=[
            s3_input("model", train.properties.ModelArtifacts.S3ModelArtifacts, layout.EVALUATION_MODEL),
            s3_input("test", split_uri(preprocess, "test"), layout.EVALUATION_TEST),
            code_input(inputs, "evaluate.py"),
        ],
        outputs=[s3_output("evaluation", run_uri(inputs, "evaluation"), layout.EVALUATION_OUTPUT)],
    )
    report = PropertyFile(name=EVALUATION_PROPERTY_FILE, output_name="evaluation", path=layout.EVALUATION_FILE)
    return ProcessingStep(name=STEP_NAMES["evaluate"], step_args=step_args, property_files=[report])


def gate_step(
    inputs: TrainingPipelineInputs,
    session: PipelineSession,
    preprocess: ProcessingStep,
    train: TrainingStep,
    evaluate: ProcessingStep,
    track: LambdaStep | None = None,
) -> ConditionStep:
    value = JsonGet(
        step_name=evaluate.name,
        property_file=evaluate.property_files[0],
        json_path=layout.evaluation_json_path(inputs.gate_metric),
    )
    baseline = baseline_step(inputs, session, preprocess)
    register = register_step(inputs, session, preprocess, train, evaluate, baseline, track)
    # The threshold is its own Join value so the definition spells it exactly as the condition does.
    message = Join(
        on=" ",
        values=[
            f"Model rejected: {inputs.gate_metric} =",
            value,
            f"but the gate requires {inputs.gate_metric} {inputs.gate_comparison}",
            inputs.gate_threshold,
        ],
    )
    return ConditionStep(
        name=STEP_NAMES["gate"],
        conditions=[_CONDITIONS[inputs.gate_comparison](left=value, right=inputs.gate_threshold)],
        if_steps=[baseline, register],
        else_steps=[FailStep(name=STEP_NAMES["fail"], error_message=message)],
    )


def baseline_step(
    inputs: TrainingPipelineInputs, session: PipelineSession, preprocess: ProcessingStep
) -> QualityCheckStep:
    """Data-quality baseline (statistics.json, constraints.json) of the training features.

    The dataset is preprocessing's baseline output: the train split without the label, in
    the model's feature order, like the requests endpoint data capture records.
    skip_check=True, register_new_baseline=True: this step *computes* the baseline for the
    model being registered; it does not gate on drift against the previous model's data.
    Drift of live traffic is Model Monitor's job, and its alarm is what starts retraining:
    a check here would block exactly the retrain that drift asks for. The output goes to a
    per-execution prefix that the registered package records (see `register_step`), so
    no later run overwrites a package's baseline; a monitor takes the URIs of the deployed
    package.
    """
    check_job = CheckJobConfig(
        role=inputs.role_arn,
        instance_count=1,
        instance_type=inputs.processing_instance_type,
        volume_kms_key=inputs.kms_key_arn,
        output_kms_key=inputs.kms_key_arn,
        sagemaker_session=session,
        tags=job_tags(inputs) or None,
        network_config=network_config(inputs),
    )
    config = DataQualityCheckConfig(
        baseline_dataset=split_uri(preprocess, layout.PREPROCESS_BASELINE_OUTPUT),
        dataset_format=DatasetFormat.csv(header=True),
        output_s3_uri=baseline_uri(inputs),
    )
    return _QualityCheckStep(
        name=STEP_NAMES["baseline"],
        quality_check_config=config,
        check_job_config=check_job,
        skip_check=True,
        register_new_baseline=True,
    )


def model_metadata(
    inputs: TrainingPipelineInputs, preprocess: ProcessingStep, track: LambdaStep | None = None
) -> dict[str, Any]:
    """The version's CustomerMetadataProperties: short values only; the rest is in lineage.json.

    The lineage URI is preprocessing's output property, so registering waits for lineage.json;
    likewise the MLflow run id (with a tracking server) is the tracking step's output.
    """
    lineage = Join(on="/", values=[split_uri(preprocess, layout.LINEAGE_OUTPUT), layout.LINEAGE_FILE])
    metadata = {
        layout.METADATA_LINEAGE: lineage,
        layout.METADATA_EXECUTION_ARN: ExecutionVariables.PIPELINE_EXECUTION_ARN,
        layout.METADATA_CODE_SHA256: layout.code_sha256(inputs.script_sha256),
        layout.METADATA_TRAINING_IMAGE: framework_image(inputs, inputs.training_instance_type),
    }
    if track is not None:
        metadata[layout.METADATA_MLFLOW_RUN_ID] = run_id(track)
    return metadata


def register_step(
    inputs: TrainingPipelineInputs,
    session: PipelineSession,
    preprocess: ProcessingStep,
    train: TrainingStep,
    evaluate: ProcessingStep,
    baseline: QualityCheckStep,
    track: LambdaStep | None = None,
) -> ModelStep:
    """A new version in the model package group, with its evaluation, data-quality baseline and lineage.

    The container runs the framework image in script mode with the inference.py that
    train.py packed into model.tar.gz (layout.SERVING_ENVIRONMENT).
    """
    image = framework_image(inputs, inputs.training_instance_type, scope="inference")
    builder = ModelBuilder(
        s3_model_data_url=train.properties.ModelArtifacts.S3ModelArtifacts,
        image_uri=image,
        role_arn=inputs.role_arn,
        sagemaker_session=session,
        instance_type=inputs.training_instance_type,
        # Not the deprecated {"auto": True} default: with it the container gets empty
        # SAGEMAKER_PROGRAM / SAGEMAKER_SUBMIT_DIRECTORY variables.
        dependencies=None,
        env_vars=dict(layout.SERVING_ENVIRONMENT),
    )
    evaluation = evaluation_uri(evaluate)
    # This execution's baseline (where baseline_step writes it).
    statistics = baseline_uri(inputs, layout.DATA_QUALITY_STATISTICS_FILE)
    constraints = baseline_uri(inputs, layout.DATA_QUALITY_CONSTRAINTS_FILE)
    step_args = builder.register(
        model_package_group_name=inputs.model_package_group_name,
        approval_status=inputs.approval_status,
        content_types=list(layout.SERVING_CONTENT_TYPES),
        response_types=list(layout.SERVING_CONTENT_TYPES),
        model_metrics=ModelMetrics(
            model_statistics=MetricsSource(content_type="application/json", s3_uri=evaluation),
            model_data_statistics=MetricsSource(content_type="application/json", s3_uri=statistics),
            model_data_constraints=MetricsSource(content_type="application/json", s3_uri=constraints),
        ),
        drift_check_baselines=DriftCheckBaselines(
            model_data_statistics=MetricsSource(content_type="application/json", s3_uri=statistics),
            model_data_constraints=MetricsSource(content_type="application/json", s3_uri=constraints),
        ),
        customer_metadata_properties=model_metadata(inputs, preprocess, track),
    )
    # The baseline URIs are built from the execution id, not step properties: depend explicitly.
    return ModelStep(name=STEP_NAMES["register"], step_args=step_args, depends_on=[baseline])
