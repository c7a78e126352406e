"""The training pipeline's MLflow step: a LambdaStep after Evaluate (imports the SageMaker SDK).

The training and evaluation jobs cannot log themselves: network isolation, and framework
images without mlflow. The function (steps/tracking_lambda.py) reads evaluation.json and
logs one run per execution to the tracking server; it always answers a `run_id` (MLFLOW_NO_RUN
when logging failed), so registration never waits on MLflow being up. The step is not a
condition of the gate: a rejected model is logged too.
"""

from __future__ import annotations

import json
from typing import Any

from sagemaker.core.lambda_helper import Lambda
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.mlops.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep

from . import layout
from .builder import STEP_NAMES
from .inputs import PROBLEM_TYPE_HYPERPARAMETER, TrainingPipelineInputs

RUN_ID_OUTPUT = "run_id"


def tracking_step(
    inputs: TrainingPipelineInputs, session: PipelineSession, *, evaluation_uri: Any, model_artifact: Any
) -> LambdaStep:
    """Log params (the hyperparameters), metrics (evaluation.json) and the model artifact's URI.

    `evaluation_uri` and `model_artifact` are step properties (Evaluate's output + evaluation.json,
    Train's ModelArtifacts.S3ModelArtifacts): the step runs once both exist.
    """
    assert inputs.tracking_server_arn and inputs.tracking_function_arn  # checked by the inputs
    hyperparameters = {**inputs.hyperparameters, PROBLEM_TYPE_HYPERPARAMETER: inputs.problem_type}
    tags = {
        "mlstack.model_package_group": inputs.model_package_group_name,
        "mlstack.code_sha256": layout.code_sha256(inputs.script_sha256),
        "mlstack.framework": f"{inputs.framework} {inputs.framework_version}",
    }
    return LambdaStep(
        name=STEP_NAMES["track"],
        lambda_func=Lambda(function_arn=inputs.tracking_function_arn, session=session),
        inputs={
            "TrackingServerArn": inputs.tracking_server_arn,
            "ExperimentName": inputs.experiment_name,
            "RunName": ExecutionVariables.PIPELINE_EXECUTION_ID,
            "EvaluationS3Uri": evaluation_uri,
            "ModelArtifactS3Uri": model_artifact,
            "PipelineExecutionArn": ExecutionVariables.PIPELINE_EXECUTION_ARN,
            # JSON text: flat string arguments whatever the values' types; the function parses them
            "Hyperparameters": _json(hyperparameters),
            "Tags": _json(tags),
        },
        outputs=[LambdaOutput(output_name=RUN_ID_OUTPUT, output_type=LambdaOutputTypeEnum.String)],
    )


def run_id(step: LambdaStep) -> Any:
    """The run id the step answered, as a property (what the registered version records)."""
    return step.properties.Outputs[RUN_ID_OUTPUT]


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
