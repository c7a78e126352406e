"""The training pipeline definition built by `pipelines.builder`: content, determinism, goldens.

Golden files (tests/golden/pipelines/<example>.json, pretty-printed) pin the whole
definition of each example. After an intended change, regenerate them and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_pipeline_definition.py

Every build here runs with non-loopback connections refused *and recorded* (threads
included), so an SDK call that swallowed the error would still fail a test.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import socket
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mlstack.pipelines import layout
from mlstack.pipelines.builder import (
    STEP_NAMES,
    TrainingPipelineInputs,
    Vpc,
    build_definition,
    canonical_json,
    offline_session,
)
from mlstack.pipelines.inputs import bundled_script_sha256

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_DIR = Path(__file__).resolve().parent / "golden" / "pipelines"
REGENERATE = "UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_pipeline_definition.py"

ACCOUNT = "111111111111"
# Fixed, not the bundled scripts' hashes: editing a step script must not change the goldens.
SCRIPTS = {script: f"{index + 1:064x}" for index, script in enumerate(sorted(layout.STEP_SCRIPTS))}
EXAMPLES: dict[str, TrainingPipelineInputs] = {
    # XGBoost from a feature group's offline store, on spot capacity with checkpoints.
    "xgboost-fraud-feature-group-spot": TrainingPipelineInputs(
        pipeline_name="mlstack-dev-fraud-detector-training",
        model_name="fraud-detector",
        region="eu-west-1",
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/mlstack-dev-fraud-detector-pipeline",
        bucket=f"mlstack-dev-artifacts-{ACCOUNT}",
        kms_key_arn=f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/4f3c2b1a-0000-4000-8000-000000000001",
        framework="xgboost",
        framework_version="1.7-1",
        max_runtime_seconds=5400,
        hyperparameters={
            "algorithm": "xgboost",
            "max_depth": 6,
            "eta": 0.2,
            "num_round": 200,
            "objective": "binary:logistic",
            "scale_pos_weight": 25,
        },
        script_sha256=SCRIPTS,
        use_spot=True,
        max_wait_seconds=10800,
        feature_group_s3_uris=[
            f"s3://mlstack-dev-offline-store-{ACCOUNT}/{ACCOUNT}/sagemaker/eu-west-1/offline-store/"
            "mlstack-dev-transactions-1700000000/data/"
        ],
        feature_group_name="mlstack-dev-transactions",
        target="is_fraud",
        drop_columns=["transaction_id", "event_time", "card_id"],
        categorical_columns=["currency"],
        gate_metric="auc",
        gate_comparison="GreaterThanOrEqualTo",
        gate_threshold=0.9,
        model_package_group_name="mlstack-dev-fraud-detector",
        problem_type="BinaryClassification",
        tags={"mlstack:environment": "dev", "mlstack:project": "payments"},
    ),
    # scikit-learn regression from an S3 prefix, in a VPC, auto-approved, no spot, no tags.
    "sklearn-demand-s3-vpc": TrainingPipelineInputs(
        pipeline_name="mlstack-staging-demand-training",
        model_name="demand",
        region="us-east-1",
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/mlstack-staging-demand-pipeline",
        bucket=f"mlstack-staging-artifacts-{ACCOUNT}",
        kms_key_arn=f"arn:aws:kms:us-east-1:{ACCOUNT}:key/4f3c2b1a-0000-4000-8000-000000000002",
        framework="sklearn",
        framework_version="1.2-1",
        training_instance_type="ml.m5.large",
        training_volume_size_gb=50,
        hyperparameters={"algorithm": "hist_gradient_boosting", "max_iter": 300, "learning_rate": 0.05},
        script_sha256=SCRIPTS,
        processing_instance_type="ml.m5.large",
        s3_uri="s3://analytics-exports/demand/daily/",
        column_names=["store", "day", "price", "units_sold"],  # headerless CSV
        categorical_columns=["store"],
        target="units_sold",
        gate_metric="mse",
        gate_comparison="LessThanOrEqualTo",
        gate_threshold=156.25,
        model_package_group_name="mlstack-staging-demand",
        approval_status="Approved",
        problem_type="Regression",
        vpc=Vpc(
            subnet_ids=["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"], security_group_ids=["sg-0f1e2d3c"]
        ),
    ),
}
# The fraud example in prod, where the project has an MLflow tracking server: a Lambda step logs
# each execution, and the registered version records the run.
TRACKING_SERVER = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:mlflow-tracking-server/mlstack-prod-mlflow"
TRACKING_FUNCTION = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:mlstack-prod-fraud-detector-mlflow"
EXAMPLES["xgboost-fraud-mlflow"] = dataclasses.replace(
    EXAMPLES["xgboost-fraud-feature-group-spot"],
    pipeline_name="mlstack-prod-fraud-detector-training",
    role_arn=f"arn:aws:iam::{ACCOUNT}:role/mlstack-prod-fraud-detector-pipeline",
    bucket=f"mlstack-prod-artifacts-{ACCOUNT}",
    model_package_group_name="mlstack-prod-fraud-detector",
    tags={"mlstack:environment": "prod", "mlstack:project": "payments"},
    tracking_server_arn=TRACKING_SERVER,
    tracking_function_arn=TRACKING_FUNCTION,
)
FRAUD, DEMAND, TRACKED = EXAMPLES


# --- helpers ---------------------------------------------------------------------------
@contextmanager
def recorded_network() -> Iterator[list[object]]:
    """Refuse and record every non-loopback connect, from any thread, for the block."""
    attempts: list[object] = []
    real = socket.socket.connect

    def connect(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) and address else None
        if host is not None and host not in ("127.0.0.1", "::1", "localhost"):
            attempts.append(address)
            raise OSError(f"network refused during a pipeline build: {address!r}")
        real(self, address)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        yield attempts


def pretty(definition: str) -> str:
    return json.dumps(json.loads(definition), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def steps_by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every step, condition branches included, by name."""
    found: dict[str, dict[str, Any]] = {}

    def visit(steps: list[dict[str, Any]]) -> None:
        for step in steps:
            found[step["Name"]] = step
            if step["Type"] == "Condition":
                visit(step["Arguments"]["IfSteps"])
                visit(step["Arguments"]["ElseSteps"])

    visit(document["Steps"])
    return found


def leaves(node: Any, path: str = "") -> dict[str, Any]:
    """The JSON tree flattened to {path: scalar}."""
    if isinstance(node, dict):
        return {key: value for name, child in node.items() for key, value in leaves(child, f"{path}.{name}").items()}
    if isinstance(node, list):
        return {
            key: value for index, child in enumerate(node) for key, value in leaves(child, f"{path}[{index}]").items()
        }
    return {path: node}


def keys_anywhere(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {key for child in node.values() for key in keys_anywhere(child)}
    if isinstance(node, list):
        return {key for child in node for key in keys_anywhere(child)}
    return set()


def run_join(inputs: TrainingPipelineInputs, part: str) -> dict[str, Any]:
    """A per-execution S3 URI as the definition spells it."""
    prefix = layout.runs_prefix(inputs.bucket, inputs.model_name)
    return {"Std:Join": {"On": "/", "Values": [prefix, {"Get": "Execution.PipelineExecutionId"}, part]}}


def baseline_join(inputs: TrainingPipelineInputs, *parts: str) -> dict[str, Any]:
    """This execution's data-quality baseline URI, as the definition spells it."""
    prefix = layout.data_quality_baseline_prefix(inputs.bucket, inputs.model_name)
    return {"Std:Join": {"On": "/", "Values": [prefix, {"Get": "Execution.PipelineExecutionId"}, *parts]}}


def split_property(split: str) -> dict[str, str]:
    return {"Get": f"Steps.{STEP_NAMES['preprocess']}.ProcessingOutputConfig.Outputs['{split}'].S3Output.S3Uri"}


# --- fixtures --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    """Each example built once, in this process, with the network recorded."""
    with recorded_network() as attempts:
        definitions = {name: build_definition(inputs) for name, inputs in EXAMPLES.items()}
    return {"definitions": definitions, "attempts": attempts}


@pytest.fixture(params=list(EXAMPLES), scope="module")
def example(request: pytest.FixtureRequest, built: dict[str, Any]) -> tuple[TrainingPipelineInputs, dict[str, Any]]:
    return EXAMPLES[request.param], json.loads(built["definitions"][request.param])


# --- offline, canonical, golden -----------------------------------------------------------
def test_builds_without_network(built: dict[str, Any]) -> None:
    assert built["attempts"] == []


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_output_is_canonical_json(built: dict[str, Any], name: str) -> None:
    definition = built["definitions"][name]
    assert definition == canonical_json(json.loads(definition))


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_matches_golden(built: dict[str, Any], name: str) -> None:
    golden = GOLDEN_DIR / f"{name}.json"
    actual = pretty(built["definitions"][name])
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
        pytest.skip(f"rewrote {golden.relative_to(ROOT)}: review the diff before committing")
    assert golden.exists(), f"no golden file {golden.relative_to(ROOT)}; create it with: {REGENERATE}"
    expected = golden.read_text(encoding="utf-8")
    assert actual == expected, (
        f"the {name} definition differs from {golden.relative_to(ROOT)}. "
        f"If the change is intended, regenerate the golden files and review the diff: {REGENERATE}"
    )


# --- what the definition says ----------------------------------------------------------
def test_steps_and_branches(example: tuple[TrainingPipelineInputs, dict[str, Any]]) -> None:
    inputs, document = example
    tracking = [STEP_NAMES["track"]] if inputs.tracking_server_arn else []
    assert [step["Name"] for step in document["Steps"]] == [
        STEP_NAMES["preprocess"],
        STEP_NAMES["train"],
        STEP_NAMES["evaluate"],
        *tracking,
        STEP_NAMES["gate"],
    ]
    gate = steps_by_name(document)[STEP_NAMES["gate"]]["Arguments"]
    assert [step["Name"] for step in gate["IfSteps"]] == [STEP_NAMES["baseline"], STEP_NAMES["register"]]
    assert [(step["Name"], step["Type"]) for step in gate["ElseSteps"]] == [(STEP_NAMES["fail"], "Fail")]
    assert document["PipelineExperimentConfig"] is None


def test_gate_reads_the_metric_from_evaluation_json(example: tuple[TrainingPipelineInputs, dict[str, Any]]) -> None:
    inputs, document = example
    steps = steps_by_name(document)
    (condition,) = steps[STEP_NAMES["gate"]]["Arguments"]["Conditions"]
    assert condition["Type"] == inputs.gate_comparison
    assert condition["RightValue"] == inputs.gate_threshold
    json_get = condition["LeftValue"]["Std:JsonGet"]
    assert json_get["Path"] == layout.evaluation_json_path(inputs.gate_metric) == f"metrics.{inputs.gate_metric}.value"
    assert json_get["PropertyFile"] == {"Get": f"Steps.{STEP_NAMES['evaluate']}.PropertyFiles.EvaluationReport"}

    evaluate = steps[STEP_NAMES["evaluate"]]
    (report,) = evaluate["PropertyFiles"]
    assert report == {"PropertyFileName": "EvaluationReport", "OutputName": "evaluation", "FilePath": "evaluation.json"}
    (output,) = evaluate["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    assert output["OutputName"] == "evaluation"
    assert output["S3Output"]["LocalPath"] == layout.EVALUATION_OUTPUT
    assert output["S3Output"]["S3Uri"] == run_join(inputs, "evaluation")


def test_fail_step_states_metric_value_and_threshold(example: tuple[TrainingPipelineInputs, dict[str, Any]]) -> None:
    inputs, document = example
    steps = steps_by_name(document)
    (condition,) = steps[STEP_NAMES["gate"]]["Arguments"]["Conditions"]
    message = steps[STEP_NAMES["fail"]]["Arguments"]["ErrorMessage"]["Std:Join"]
    assert message["On"] == " "
    assert condition["LeftValue"] in message["Values"]  # the computed value
    assert inputs.gate_threshold in message["Values"]
    text = " ".join(value for value in message["Values"] if isinstance(value, str))
    assert inputs.gate_metric in text and inputs.gate_comparison in text


def test_registers_into_the_group_with_metrics_and_baselines(
    example: tuple[TrainingPipelineInputs, dict[str, Any]],
) -> None:
    inputs, document = example
    register = steps_by_name(document)[STEP_NAMES["register"]]
    assert register["Type"] == "RegisterModel"
    assert register["DependsOn"] == [STEP_NAMES["baseline"]]
    arguments = register["Arguments"]
    assert arguments["ModelPackageGroupName"] == inputs.model_package_group_name
    assert arguments["ModelApprovalStatus"] == inputs.approval_status
    (container,) = arguments["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"] == {"Get": f"Steps.{STEP_NAMES['train']}.ModelArtifacts.S3ModelArtifacts"}
    assert f"sagemaker-{'scikit-learn' if inputs.framework == 'sklearn' else inputs.framework}:" in container["Image"]
    # Script-mode serving with the inference.py train.py packed into model.tar.gz.
    assert container["Environment"] == {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv",
    }
    assert container["Environment"] == layout.SERVING_ENVIRONMENT
    specification = arguments["InferenceSpecification"]
    assert specification["SupportedContentTypes"] == specification["SupportedResponseMIMETypes"]
    assert specification["SupportedContentTypes"] == ["text/csv", "application/json"]

    evaluation = arguments["ModelMetrics"]["ModelQuality"]["Statistics"]
    evaluation_dir = {
        "Get": f"Steps.{STEP_NAMES['evaluate']}.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"
    }
    assert evaluation["S3Uri"] == {"Std:Join": {"On": "/", "Values": [evaluation_dir, layout.EVALUATION_FILE]}}
    # This execution's baseline, where the baseline step writes it: a later run cannot overwrite it.
    baseline = {
        "Statistics": {"ContentType": "application/json", "S3Uri": baseline_join(inputs, "statistics.json")},
        "Constraints": {"ContentType": "application/json", "S3Uri": baseline_join(inputs, "constraints.json")},
    }
    assert arguments["ModelMetrics"]["ModelDataQuality"] == baseline
    assert arguments["DriftCheckBaselines"]["ModelDataQuality"] == baseline


def test_data_quality_baseline_of_the_features_goes_to_a_prefix_per_execution(
    example: tuple[TrainingPipelineInputs, dict[str, Any]],
) -> None:
    inputs, document = example
    baseline = steps_by_name(document)[STEP_NAMES["baseline"]]
    assert baseline["Type"] == "QualityCheck"
    assert baseline["CheckType"] == "DATA_QUALITY"
    assert (baseline["SkipCheck"], baseline["RegisterNewBaseline"]) == (True, True)
    arguments = baseline["Arguments"]
    (output,) = arguments["ProcessingOutputConfig"]["Outputs"]
    assert output["S3Output"]["S3Uri"] == baseline_join(inputs)
    assert output["S3Output"]["S3Uri"]["Std:Join"]["Values"][0].startswith(f"s3://{inputs.bucket}/baselines/")
    (dataset,) = arguments["ProcessingInputs"]
    # Preprocessing's features-only dataset, not the train split (whose label column is not in captured traffic).
    assert dataset["S3Input"]["S3Uri"] == split_property(layout.PREPROCESS_BASELINE_OUTPUT)
    assert json.loads(arguments["Environment"]["dataset_format"])["csv"]["header"] is True


def test_every_job_runs_as_the_role_with_the_key_isolated_and_encrypted(
    example: tuple[TrainingPipelineInputs, dict[str, Any]],
) -> None:
    inputs, document = example
    jobs = [step for step in steps_by_name(document).values() if step["Type"] in ("Processing", "QualityCheck")]
    assert len(jobs) == 3
    for step in jobs:
        arguments = step["Arguments"]
        assert arguments["RoleArn"] == inputs.role_arn, step["Name"]
        assert arguments["ProcessingOutputConfig"]["KmsKeyId"] == inputs.kms_key_arn, step["Name"]
        assert arguments["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == inputs.kms_key_arn
        network = arguments["NetworkConfig"]
        assert network["EnableNetworkIsolation"] is True, step["Name"]
        assert network["EnableInterContainerTrafficEncryption"] is True, step["Name"]

    training = steps_by_name(document)[STEP_NAMES["train"]]["Arguments"]
    assert training["RoleArn"] == inputs.role_arn
    assert training["OutputDataConfig"]["KmsKeyId"] == inputs.kms_key_arn
    assert training["ResourceConfig"]["VolumeKmsKeyId"] == inputs.kms_key_arn
    assert training["EnableNetworkIsolation"] is True
    assert training["EnableInterContainerTrafficEncryption"] is True


def test_training_job(example: tuple[TrainingPipelineInputs, dict[str, Any]]) -> None:
    inputs, document = example
    training = steps_by_name(document)[STEP_NAMES["train"]]["Arguments"]
    assert training["OutputDataConfig"]["S3OutputPath"] == layout.artifacts_prefix(inputs.bucket, inputs.model_name)
    assert training["ResourceConfig"]["InstanceType"] == inputs.training_instance_type
    assert training["ResourceConfig"]["VolumeSizeInGB"] == inputs.training_volume_size_gb
    assert training["StoppingCondition"]["MaxRuntimeInSeconds"] == inputs.max_runtime_seconds
    hyperparameters = training["HyperParameters"]
    for name, value in inputs.hyperparameters.items():
        assert hyperparameters[name] == str(value)
    assert hyperparameters["problem-type"] == inputs.problem_type
    assert hyperparameters["sagemaker_program"] == inputs.entry_point
    channels = {channel["ChannelName"]: channel for channel in training["InputDataConfig"]}
    assert set(channels) == {"train", "validation", "code"}
    for split in ("train", "validation"):
        assert channels[split]["DataSource"]["S3DataSource"]["S3Uri"] == split_property(split)
    code = channels["code"]["DataSource"]["S3DataSource"]["S3Uri"]
    assert code == layout.code_prefix(inputs.bucket, inputs.model_name) + "/"
    assert hyperparameters["sagemaker_submit_directory"] == "/opt/ml/input/data/code"


def test_spot_training_checkpoints_under_the_run_prefix(built: dict[str, Any]) -> None:
    inputs = EXAMPLES[FRAUD]
    training = steps_by_name(json.loads(built["definitions"][FRAUD]))[STEP_NAMES["train"]]["Arguments"]
    assert training["EnableManagedSpotTraining"] is True
    assert training["StoppingCondition"] == {
        "MaxRuntimeInSeconds": inputs.max_runtime_seconds,
        "MaxWaitTimeInSeconds": inputs.max_wait_seconds,
    }
    assert training["CheckpointConfig"] == {
        "LocalPath": "/opt/ml/checkpoints",
        "S3Uri": run_join(inputs, "checkpoints"),
    }

    on_demand = steps_by_name(json.loads(built["definitions"][DEMAND]))[STEP_NAMES["train"]]["Arguments"]
    assert "EnableManagedSpotTraining" not in on_demand
    assert "CheckpointConfig" not in on_demand
    assert "MaxWaitTimeInSeconds" not in on_demand["StoppingCondition"]


def test_vpc_config_only_when_given(built: dict[str, Any]) -> None:
    assert "VpcConfig" not in keys_anywhere(json.loads(built["definitions"][FRAUD]))

    vpc = EXAMPLES[DEMAND].vpc
    assert vpc is not None
    expected = {"Subnets": list(vpc.subnet_ids), "SecurityGroupIds": list(vpc.security_group_ids)}
    steps = steps_by_name(json.loads(built["definitions"][DEMAND]))
    assert steps[STEP_NAMES["train"]]["Arguments"]["VpcConfig"] == expected
    for name in (STEP_NAMES["preprocess"], STEP_NAMES["evaluate"], STEP_NAMES["baseline"]):
        assert steps[name]["Arguments"]["NetworkConfig"]["VpcConfig"] == expected, name


def test_preprocessing_reads_the_source_and_writes_the_splits_per_execution(
    example: tuple[TrainingPipelineInputs, dict[str, Any]],
) -> None:
    inputs, document = example
    preprocess = steps_by_name(document)[STEP_NAMES["preprocess"]]["Arguments"]
    assert "sagemaker-scikit-learn:1.2-1-cpu-py3" in preprocess["AppSpecification"]["ImageUri"]
    arguments = preprocess["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--target") + 1] == inputs.target
    assert float(arguments[arguments.index("--validation-fraction") + 1]) == inputs.validation_fraction
    assert float(arguments[arguments.index("--test-fraction") + 1]) == inputs.test_fraction
    for flag, columns in (
        ("--drop-columns", inputs.drop_columns),
        ("--categorical-columns", inputs.categorical_columns),
        ("--column-names", inputs.column_names),
    ):
        if columns:
            assert arguments[arguments.index(flag) + 1] == ",".join(columns)
        else:
            assert flag not in arguments

    parameters = {parameter["Name"]: parameter["DefaultValue"] for parameter in document["Parameters"]}
    assert list(parameters.values()) == list(inputs.data_uris)
    inputs_by_name = {item["InputName"]: item["S3Input"] for item in preprocess["ProcessingInputs"]}
    assert inputs_by_name["data-0"]["S3Uri"] == {"Get": "Parameters.InputDataUri"}
    assert inputs_by_name["data-0"]["LocalPath"].startswith(layout.PREPROCESS_INPUT + "/")
    assert inputs_by_name["code"]["S3Uri"] == layout.code_prefix(inputs.bucket, inputs.model_name) + "/preprocess.py"
    assert not inputs_by_name["code"]["LocalPath"].startswith(layout.PREPROCESS_INPUT)  # not read as data

    outputs = {item["OutputName"]: item["S3Output"] for item in preprocess["ProcessingOutputConfig"]["Outputs"]}
    assert {name: output["LocalPath"] for name, output in outputs.items()} == {
        **layout.PREPROCESS_OUTPUTS,
        layout.PREPROCESS_BASELINE_OUTPUT: layout.PREPROCESS_BASELINE,
        layout.LINEAGE_OUTPUT: layout.LINEAGE_DIR,
    }
    for name, output in outputs.items():
        assert output["S3Uri"] == run_join(inputs, name)


def test_evaluation_reads_the_model_and_the_test_split(example: tuple[TrainingPipelineInputs, dict[str, Any]]) -> None:
    _, document = example
    steps = steps_by_name(document)
    evaluate = steps[STEP_NAMES["evaluate"]]["Arguments"]
    inputs_by_name = {item["InputName"]: item["S3Input"] for item in evaluate["ProcessingInputs"]}
    assert inputs_by_name["model"]["LocalPath"] == layout.EVALUATION_MODEL
    assert inputs_by_name["model"]["S3Uri"] == {"Get": f"Steps.{STEP_NAMES['train']}.ModelArtifacts.S3ModelArtifacts"}
    assert inputs_by_name["test"]["LocalPath"] == layout.EVALUATION_TEST
    assert inputs_by_name["test"]["S3Uri"] == split_property("test")
    # Same image as training: the joblib model needs the libraries it was saved with.
    training_image = steps[STEP_NAMES["train"]]["Arguments"]["AlgorithmSpecification"]["TrainingImage"]
    assert evaluate["AppSpecification"]["ImageUri"] == training_image


# --- lineage ----------------------------------------------------------------------------------
def lineage_context_of(preprocess: dict[str, Any]) -> dict[str, Any]:
    """The definition-time lineage context, joined from its environment pieces as preprocess.py does."""
    environment = preprocess["Arguments"]["Environment"]
    pieces = sorted(name for name in environment if name.startswith(layout.LINEAGE_CONTEXT_ENV + "_"))
    assert pieces == [f"{layout.LINEAGE_CONTEXT_ENV}_{index:03d}" for index in range(len(pieces))]
    return json.loads("".join(environment[name] for name in pieces))


def test_preprocessing_records_the_lineage_of_the_execution(
    example: tuple[TrainingPipelineInputs, dict[str, Any]],
) -> None:
    inputs, document = example
    steps = steps_by_name(document)
    preprocess = steps[STEP_NAMES["preprocess"]]
    outputs = {
        item["OutputName"]: item["S3Output"] for item in preprocess["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    }
    assert outputs[layout.LINEAGE_OUTPUT]["LocalPath"] == layout.LINEAGE_DIR == "/opt/ml/processing/lineage"
    assert outputs[layout.LINEAGE_OUTPUT]["S3Uri"] == run_join(inputs, "lineage")
    # Run-time facts as arguments: the execution, and the data parameters' values (overridable per run).
    arguments = preprocess["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--pipeline-execution-arn") + 1] == {"Get": "Execution.PipelineExecutionArn"}
    sources = [arguments[index + 1] for index, value in enumerate(arguments) if value == "--data-source"]
    assert sources == [{"Get": f"Parameters.{parameter['Name']}"} for parameter in document["Parameters"]]

    training = steps[STEP_NAMES["train"]]["Arguments"]
    (container,) = steps[STEP_NAMES["register"]]["Arguments"]["InferenceSpecification"]["Containers"]
    assert lineage_context_of(preprocess) == {
        "code": SCRIPTS,
        "code_sha256": layout.code_sha256(SCRIPTS),
        "feature_group": inputs.feature_group_name,
        "model_package_group": inputs.model_package_group_name,
        "training": {
            "algorithm": inputs.hyperparameters["algorithm"],
            "framework": inputs.framework,
            "framework_version": inputs.framework_version,
            "hyperparameters": dict(inputs.hyperparameters),
            "image": training["AlgorithmSpecification"]["TrainingImage"],
            "inference_image": container["Image"],
            "instance_count": inputs.training_instance_count,
            "instance_type": inputs.training_instance_type,
            "problem_type": inputs.problem_type,
        },
    }


def test_the_registered_version_links_its_lineage(example: tuple[TrainingPipelineInputs, dict[str, Any]]) -> None:
    inputs, document = example
    steps = steps_by_name(document)
    training_image = steps[STEP_NAMES["train"]]["Arguments"]["AlgorithmSpecification"]["TrainingImage"]
    lineage_dir = {"Get": f"Steps.{STEP_NAMES['preprocess']}.ProcessingOutputConfig.Outputs['lineage'].S3Output.S3Uri"}
    tracking = {}
    if inputs.tracking_server_arn:  # the tracking step's answer: registering waits for it
        tracking["mlstack:mlflow-run-id"] = {"Get": f"Steps.{STEP_NAMES['track']}.OutputParameters['run_id']"}
    assert steps[STEP_NAMES["register"]]["Arguments"]["CustomerMetadataProperties"] == {
        # A property of the preprocessing step: registering depends on the lineage being written.
        "mlstack:lineage": {"Std:Join": {"On": "/", "Values": [lineage_dir, "lineage.json"]}},
        "mlstack:pipeline-execution-arn": {"Get": "Execution.PipelineExecutionArn"},
        "mlstack:code-sha256": layout.code_sha256(inputs.script_sha256),
        "mlstack:training-image": training_image,
        **tracking,
    }


# --- MLflow ------------------------------------------------------------------------------------
def test_mlflow_is_a_lambda_step_only_with_a_tracking_server(built: dict[str, Any]) -> None:
    for name in (FRAUD, DEMAND):
        document = json.loads(built["definitions"][name])
        assert {step["Type"] for step in steps_by_name(document).values()} >= {"Processing", "Training"}
        assert "Lambda" not in {step["Type"] for step in steps_by_name(document).values()}
        text = built["definitions"][name]
        assert "mlflow-tracking-server" not in text and layout.METADATA_MLFLOW_RUN_ID not in text
        assert document["MlflowConfig"] is None  # nor SageMaker's own pipeline-level MLflow integration
    tracked = steps_by_name(json.loads(built["definitions"][TRACKED]))
    assert [name for name, step in tracked.items() if step["Type"] == "Lambda"] == [STEP_NAMES["track"]]


def test_the_tracking_step_gets_the_evaluation_hyperparameters_model_and_execution(built: dict[str, Any]) -> None:
    inputs = EXAMPLES[TRACKED]
    step = steps_by_name(json.loads(built["definitions"][TRACKED]))[STEP_NAMES["track"]]
    assert step["FunctionArn"] == TRACKING_FUNCTION
    assert step["OutputParameters"] == [{"OutputName": "run_id", "OutputType": "String"}]
    evaluation_dir = {
        "Get": f"Steps.{STEP_NAMES['evaluate']}.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"
    }
    arguments = step["Arguments"]
    assert {name: value for name, value in arguments.items() if name not in ("Hyperparameters", "Tags")} == {
        "TrackingServerArn": TRACKING_SERVER,
        "ExperimentName": inputs.pipeline_name,  # one experiment per project, environment and model
        "RunName": {"Get": "Execution.PipelineExecutionId"},
        # Properties: the step runs after Train and Evaluate, and only then.
        "EvaluationS3Uri": {"Std:Join": {"On": "/", "Values": [evaluation_dir, "evaluation.json"]}},
        "ModelArtifactS3Uri": {"Get": f"Steps.{STEP_NAMES['train']}.ModelArtifacts.S3ModelArtifacts"},
        "PipelineExecutionArn": {"Get": "Execution.PipelineExecutionArn"},
    }
    assert json.loads(arguments["Hyperparameters"]) == {**inputs.hyperparameters, "problem-type": inputs.problem_type}
    assert json.loads(arguments["Tags"]) == {
        "mlstack.code_sha256": layout.code_sha256(SCRIPTS),
        "mlstack.framework": "xgboost 1.7-1",
        "mlstack.model_package_group": inputs.model_package_group_name,
    }


def test_the_gate_does_not_wait_for_mlflow(built: dict[str, Any]) -> None:
    """The gate reads evaluation.json only; a rejected model is logged too (the step is outside the gate)."""
    document = json.loads(built["definitions"][TRACKED])
    gate = next(step for step in document["Steps"] if step["Name"] == STEP_NAMES["gate"])
    assert STEP_NAMES["track"] not in json.dumps(gate["Arguments"]["Conditions"])
    assert "DependsOn" not in gate
    register = steps_by_name(document)[STEP_NAMES["register"]]
    references = [value for value in leaves(register).values() if isinstance(value, str) and "LogToMlflow" in value]
    assert references == ["Steps.LogToMlflow.OutputParameters['run_id']"]  # the metadata, nothing else


def test_mlflow_adds_the_step_and_the_run_id_and_nothing_else(built: dict[str, Any]) -> None:
    inputs = EXAMPLES[TRACKED]
    with recorded_network() as attempts:
        untracked = json.loads(
            build_definition(dataclasses.replace(inputs, tracking_server_arn=None, tracking_function_arn=None))
        )
    assert attempts == []
    tracked = json.loads(built["definitions"][TRACKED])
    tracked["Steps"] = [step for step in tracked["Steps"] if step["Name"] != STEP_NAMES["track"]]
    register = steps_by_name(tracked)[STEP_NAMES["register"]]["Arguments"]
    del register["CustomerMetadataProperties"][layout.METADATA_MLFLOW_RUN_ID]
    assert tracked == untracked


def test_code_sha256_is_sha256sum_of_the_sorted_scripts() -> None:
    """Reproducible from the scripts: sha256sum evaluate.py inference.py preprocess.py train.py | sha256sum"""
    lines = "".join(f"{SCRIPTS[name]}  {name}\n" for name in sorted(SCRIPTS))
    assert layout.code_sha256(SCRIPTS) == hashlib.sha256(lines.encode()).hexdigest()
    assert layout.code_sha256(dict(reversed(SCRIPTS.items()))) == layout.code_sha256(SCRIPTS)
    steps = ROOT / "pipelines" / "steps"
    bundled = {name: hashlib.sha256((steps / name).read_bytes()).hexdigest() for name in layout.STEP_SCRIPTS}
    assert bundled_script_sha256() == bundled  # the inputs' default: the bundled scripts
    assert dataclasses.replace(EXAMPLES[FRAUD], script_sha256=bundled_script_sha256()).script_sha256 == bundled


def _aws_shape(name: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker").shape_for(name)


def _metadata_text_ok(text: str, limit: int) -> bool:
    """botocore's CustomerMetadataKey/Value: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*, 1..limit characters."""
    return 1 <= len(text) <= limit and all(
        unicodedata.category(char)[0] in "LZN" or char in "_.:/=+-@" for char in text
    )


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_golden_metadata_literals_fit_aws_limits(name: str) -> None:
    """What CreateModelPackage would refuse: >50 entries, or a literal key/value outside AWS's pattern."""
    properties = _aws_shape("CustomerMetadataMap")
    assert properties.metadata["max"] == 50
    assert properties.key.metadata == {"min": 1, "max": 128, "pattern": "([\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*)${1,128}"}
    assert properties.value.metadata == {"min": 1, "max": 256, "pattern": "([\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*)${1,256}"}
    document = json.loads((GOLDEN_DIR / f"{name}.json").read_text(encoding="utf-8"))
    metadata = steps_by_name(document)[STEP_NAMES["register"]]["Arguments"]["CustomerMetadataProperties"]
    assert 1 <= len(metadata) <= 50
    for key, value in metadata.items():
        assert _metadata_text_ok(key, 128), key
        if isinstance(value, str):
            assert _metadata_text_ok(value, 256), (key, value)
    literals = [value for value in metadata.values() if isinstance(value, str)]
    assert len(literals) == 2  # the code digest and the training image; the others are resolved per run
    assert not _metadata_text_ok('{"a": 1}', 256) and not _metadata_text_ok("a,b", 256)  # the check can fail


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_golden_processing_arguments_and_environment_fit_aws_limits(name: str) -> None:
    """A container argument or environment value holds at most 256 characters; 100 of each at most."""
    argument, value = _aws_shape("ContainerArgument"), _aws_shape("ProcessingEnvironmentValue")
    assert argument.metadata["max"] == value.metadata["max"] == layout.LINEAGE_CONTEXT_CHUNK
    document = json.loads((GOLDEN_DIR / f"{name}.json").read_text(encoding="utf-8"))
    for step in steps_by_name(document).values():
        if step["Type"] != "Processing":
            continue
        arguments = step["Arguments"]
        container_arguments = arguments["AppSpecification"].get("ContainerArguments", [])
        environment = arguments.get("Environment", {})
        assert len(container_arguments) <= 100 and len(environment) <= layout.LINEAGE_CONTEXT_MAX_CHUNKS
        for text in [*container_arguments, *environment.values()]:
            assert not isinstance(text, str) or len(text) <= 256, (step["Name"], text)


def test_a_context_too_large_for_the_environment_is_refused() -> None:
    with pytest.raises(ValueError, match="environment variables; AWS allows 100"):
        layout.lineage_environment({"hyperparameters": {"blob": "x" * 256 * 100}})


# --- how the definition changes -----------------------------------------------------------
def test_changing_the_threshold_changes_only_the_threshold(built: dict[str, Any]) -> None:
    inputs = EXAMPLES[FRAUD]
    changed = dataclasses.replace(inputs, gate_threshold=0.95)
    with recorded_network() as attempts:
        other = json.loads(build_definition(changed))
    assert attempts == []
    before, after = leaves(json.loads(built["definitions"][FRAUD])), leaves(other)
    assert before.keys() == after.keys()
    differences = {path: (before[path], after[path]) for path in before if before[path] != after[path]}
    gate = "Steps[3].Arguments"
    # The condition's right-hand value, and the same number in the failure message.
    assert differences == {
        f".{gate}.Conditions[0].RightValue": (0.9, 0.95),
        f".{gate}.ElseSteps[0].Arguments.ErrorMessage.Std:Join.Values[3]": (0.9, 0.95),
    }


# --- fresh interpreters ------------------------------------------------------------------------
_FRESH_BUILD = """
import json, logging, os, socket, sys
attempts = []
real = socket.socket.connect
def connect(self, address):
    if isinstance(address, tuple) and address and address[0] not in ("127.0.0.1", "::1", "localhost"):
        attempts.append(repr(address))
        raise OSError("network refused")
    return real(self, address)
socket.socket.connect = connect
import boto3
from mlstack.pipelines.builder import build_definition
from tests.test_pipeline_definition import EXAMPLES
light = "sagemaker" not in sys.modules
environ = dict(os.environ)
definitions = {name: build_definition(inputs) for name, inputs in EXAMPLES.items()}
print(json.dumps({
    "definitions": definitions,
    "attempts": attempts,
    "sdk_imported_lazily": light,
    "environ_restored": dict(os.environ) == environ,
    "boto3_default_session": boto3.DEFAULT_SESSION is not None,
    "root_logging_untouched": logging.getLogger().handlers == [] and logging.getLogger().level == logging.WARNING,
    # the builder needs nothing but its own package (mlstack/__init__ only maps the names)
    "layering": sorted(
        m for m in sys.modules
        if m.split(".")[0] in ("pulumi", "pulumi_aws")
        or (m.startswith("mlstack.") and m.split(".")[1] != "pipelines")
    ),
}))
"""


def test_fresh_interpreters_build_identical_bytes_and_leave_no_trace(built: dict[str, Any]) -> None:
    """Two new processes (different hash seeds) agree byte for byte with this one."""
    base = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _FRESH_BUILD],
            cwd=ROOT,
            env={**base, "PYTHONHASHSEED": seed},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in ("1", "2")
    ]
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        results.append(json.loads(stdout))
    first, second = results
    assert first["definitions"] == second["definitions"] == built["definitions"]
    for result in results:
        assert result["attempts"] == []
        assert result["sdk_imported_lazily"]
        assert result["environ_restored"]
        assert not result["boto3_default_session"]
        assert result["root_logging_untouched"]
        assert result["layering"] == []


def test_offline_session_sets_aside_and_restores_the_callers_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    caller = {
        "AWS_ACCESS_KEY_ID": "AKIACALLER",
        "AWS_SECRET_ACCESS_KEY": "caller-secret",
        "AWS_SESSION_TOKEN": "caller-token",
        "AWS_PROFILE": "profile-that-does-not-exist-here",
    }
    for name, value in caller.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("SAGEMAKER_VALIDATE_ROLE", raising=False)
    before = dict(os.environ)
    with recorded_network() as attempts, offline_session("eu-west-1", "some-bucket") as session:
        inside = dict(os.environ)
        assert session.default_bucket() == "some-bucket"  # preset: no S3 lookup
        assert session.boto_region_name == "eu-west-1"
        assert session.sagemaker_config == {}
    assert attempts == []
    assert inside["AWS_ACCESS_KEY_ID"] != caller["AWS_ACCESS_KEY_ID"]
    assert "AWS_SESSION_TOKEN" not in inside and "AWS_PROFILE" not in inside
    assert inside["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert inside["SAGEMAKER_VALIDATE_ROLE"] == "false"
    assert dict(os.environ) == before


# --- inputs ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"s3_uri": "s3://both/"}, "exactly one of s3_uri"),
        ({"feature_group_s3_uris": ()}, "exactly one of s3_uri"),
        ({"feature_group_s3_uris": ("https://not-s3/",)}, "s3:// URIs"),
        ({"feature_group_s3_uris": ("s3://b/" + "k" * 250,)}, "at most 256 characters"),
        ({"s3_uri": "s3://b/", "feature_group_s3_uris": (), "feature_group_name": "g"}, "goes with feature_group"),
        ({"max_wait_seconds": 60}, "at least max_runtime_seconds"),
        ({"use_spot": False}, "spot training only"),
        ({"gate_comparison": "Equals"}, "gate_comparison"),
        ({"gate_metric": "auc.value"}, "gate_metric"),
        ({"validation_fraction": 0.5, "test_fraction": 0.5}, "below 1"),
        ({"bucket": "s3://bucket"}, "bucket name"),
        ({"hyperparameters": {"sagemaker_program": "x.py"}}, "reserved"),
        ({"drop_columns": ("is_fraud",)}, "target"),
        ({"script_sha256": {"train.py": "0" * 64}}, "every step script and the entry point"),
        ({"script_sha256": {**SCRIPTS, "train.py": "not-hex"}}, "sha256 hex digests"),
        ({"entry_point": "custom.py"}, "every step script and the entry point"),
        ({"tracking_server_arn": TRACKING_SERVER}, "go together"),
        ({"tracking_function_arn": TRACKING_FUNCTION}, "go together"),
        ({"tracking_server_arn": "arn:aws:s3:::b", "tracking_function_arn": TRACKING_FUNCTION}, "tracking server"),
        ({"tracking_server_arn": TRACKING_SERVER, "tracking_function_arn": "fn"}, "Lambda function ARN"),
    ],
)
def test_inconsistent_inputs_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(EXAMPLES[FRAUD], **changes)


def test_inputs_are_frozen_and_normalized() -> None:
    inputs = EXAMPLES[FRAUD]
    assert isinstance(inputs.feature_group_s3_uris, tuple) and isinstance(inputs.drop_columns, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        inputs.gate_threshold = 0.5  # type: ignore[misc]
    assert dataclasses.replace(inputs) == inputs
    assert EXAMPLES[FRAUD].effective_max_wait_seconds == 10800
    assert dataclasses.replace(inputs, max_wait_seconds=None).effective_max_wait_seconds == 2 * 5400
    assert EXAMPLES[DEMAND].effective_max_wait_seconds is None
