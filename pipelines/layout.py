"""The S3 and file layout shared by the pipeline, its step scripts and the monitors.

One place, so the training pipeline (writer) and the monitoring schedules and
deployments (readers) cannot drift apart. Everything lives in the project's
artifact bucket under a per-model prefix:

    s3://<bucket>/pipelines/<model>/code/            step scripts uploaded for the pipeline (STEP_SCRIPTS)
    s3://<bucket>/pipelines/<model>/runs/<execution>/ per-execution data, model, evaluation
    s3://<bucket>/models/<model>/                    model artifacts (shared with deploying accounts)
    s3://<bucket>/baselines/<model>/data-quality/<execution>/
                                                     constraints.json + statistics.json of the model
                                                     registered by that pipeline execution
    s3://<bucket>/monitoring/<model>/code/           the drift monitor's script (MONITOR_SCRIPTS)
    s3://<bucket>/monitoring/<model>/runs/<execution>/ its window manifest and report per run
    s3://<bucket>/data-capture/<model>/              endpoint data capture

Data-quality baselines are per execution, so a model package's recorded baseline is
never overwritten by a later run. Nothing here names "the current baseline": the
monitoring schedule must take the baseline URIs of the model package that is actually
*deployed*, as recorded in the package (DescribeModelPackage:
DriftCheckBaselines.ModelDataQuality.Constraints.S3Uri and .Statistics.S3Uri; the same
URIs are in ModelMetrics.ModelDataQuality). The deploying side resolves the package
version with boto3 and passes those URIs to the schedule; `data_quality_baseline_prefix`
is only the parent of all of them (for IAM scoping).

Every pipeline execution also records its lineage: preprocess.py writes LINEAGE_FILE to
s3://<bucket>/pipelines/<model>/runs/<execution>/lineage/lineage.json, and the registered
model package points at it (METADATA_LINEAGE); see "lineage" below for the JSON layout.

The model's inference code travels inside model.tar.gz: train.py copies inference.py to
<model dir>/code/, which the serving container sees as SERVING_CODE_DIR, and the
registered model's container environment (SERVING_ENVIRONMENT) points the scikit-learn
and XGBoost framework containers at it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping

# --- the step scripts ---------------------------------------------------------------
# Bundled scripts (pipelines/steps/) the deploying program uploads under code_prefix: the
# processing steps run one each, the training job gets the whole prefix as its code channel
# (train.py packs inference.py from there into the model).
INFERENCE_SCRIPT = "inference.py"
STEP_SCRIPTS = ("preprocess.py", "train.py", "evaluate.py", INFERENCE_SCRIPT)
# The drift monitor's: the processing job's script (uploaded under monitoring/<model>/code/) and
# the code of its two Lambda functions (packaged with them).
MONITOR_SCRIPTS = ("monitor.py", "monitor_lambda.py")
# Batch scoring's own step: a feature group's latest records as the transform's input (with monitor.py).
BATCH_SCRIPTS = ("batch_input.py",)
# The MLflow REST client both Lambda archives hold beside their handler module.
MLFLOW_CLIENT_SCRIPT = "mlflow_rest.py"
# The training pipeline's MLflow step (a Lambda function, created only with a tracking server).
TRACKING_LAMBDA_SCRIPT = "tracking_lambda.py"
TRACKING_HANDLER = "tracking_lambda.log_training_run"
LAMBDA_SCRIPTS = ("monitor_lambda.py", TRACKING_LAMBDA_SCRIPT, MLFLOW_CLIENT_SCRIPT)

# --- inside the processing/training containers -------------------------------------
PROCESSING_ROOT = "/opt/ml/processing"
PREPROCESS_INPUT = f"{PROCESSING_ROOT}/input"  # raw data (one or more CSV/Parquet files)
PREPROCESS_OUTPUTS = {  # output name -> container path (train/validation/test splits, CSV, label first)
    "train": f"{PROCESSING_ROOT}/train",
    "validation": f"{PROCESSING_ROOT}/validation",
    "test": f"{PROCESSING_ROOT}/test",
}
SPLIT_FILE = "data.csv"  # file name inside each split directory; header row, label column first
COLUMNS_FILE = "columns.json"  # beside SPLIT_FILE: the label and which feature columns are categorical
# Data-quality baseline dataset: the train split's feature columns only (no label), in the
# model's feature order with a header row: what endpoint data capture records as input.
PREPROCESS_BASELINE_OUTPUT = "baseline"  # output name of the preprocessing step
PREPROCESS_BASELINE = f"{PROCESSING_ROOT}/baseline"
BASELINE_FILE = "baseline.csv"  # file name inside PREPROCESS_BASELINE
EVALUATION_MODEL = f"{PROCESSING_ROOT}/model"  # model.tar.gz from training
EVALUATION_TEST = f"{PROCESSING_ROOT}/test"
EVALUATION_OUTPUT = f"{PROCESSING_ROOT}/evaluation"
EVALUATION_FILE = "evaluation.json"
MODEL_FILE = "model.joblib"  # inside model.tar.gz (SM_MODEL_DIR)
FEATURES_FILE = "features.json"  # inside model.tar.gz: ordered feature column names and the label
MODEL_CODE_DIR = "code"  # inside model.tar.gz: the inference code (a copy of INFERENCE_SCRIPT)

# --- lineage of a registered model version --------------------------------------------
# preprocess.py writes <LINEAGE_DIR>/lineage.json (processing output LINEAGE_OUTPUT); the
# registered package's metadata holds its S3 URI and a few short facts (METADATA_*). Layout,
# sorted keys, no clock: the same execution over the same files gives the same bytes.
#   {
#     "version": 1,
#     "pipeline_execution_arn": "arn:aws:sagemaker:...:pipeline/<name>/execution/<id>" | null,
#     "data": {
#       "sources": ["s3://..."],      # the execution's InputDataUri parameters, in order
#       "files": [{"path": "data-<i>/<key below sources[i]>", "sha256": "<hex>", "bytes": <int>,
#                  "rows": <int>}],   # every file preprocess.py read, sorted by path
#       "rows": <int>                 # rows split into train/validation/test (deleted records not counted)
#     },
#     "code": {"<script>": "<sha256 hex>"},   # every script uploaded for the pipeline (entry point too)
#     "code_sha256": "<hex>",                 # code_sha256(code): what METADATA_CODE_SHA256 holds
#     "training": {"image": ..., "inference_image": ..., "framework": ..., "framework_version": ...,
#                  "instance_type": ..., "instance_count": <int>, "hyperparameters": {...},
#                  "algorithm": <str | null>, "problem_type": ...},
#     "feature_group": "<feature group name>" | null,
#     "model_package_group": "<name>"
#   }
# Definition-time facts (all but version, pipeline_execution_arn and data) reach the job as one JSON
# document, split over environment variables LINEAGE_CONTEXT_ENV_000, _001, ...: a container
# argument or environment value holds at most 256 characters (botocore: ContainerArgument,
# ProcessingEnvironmentValue), too few for hashes, images and hyperparameters together.
LINEAGE_OUTPUT = "lineage"  # output name of the preprocessing step
LINEAGE_DIR = f"{PROCESSING_ROOT}/lineage"
LINEAGE_FILE = "lineage.json"
LINEAGE_VERSION = 1
LINEAGE_CONTEXT_ENV = "MLSTACK_LINEAGE_CONTEXT"
LINEAGE_CONTEXT_CHUNK = 256  # characters per environment value (AWS's maximum)
LINEAGE_CONTEXT_MAX_CHUNKS = 100  # a processing job takes at most 100 environment variables
# Model package metadata (CustomerMetadataProperties): values of at most 256 characters of
# letters, digits, spaces and _.:/=+-@ (botocore: CustomerMetadataValue), so only short facts.
METADATA_LINEAGE = "mlstack:lineage"  # S3 URI of the execution's lineage.json
METADATA_EXECUTION_ARN = "mlstack:pipeline-execution-arn"
METADATA_CODE_SHA256 = "mlstack:code-sha256"  # code_sha256() of the step scripts
METADATA_TRAINING_IMAGE = "mlstack:training-image"
# With MLflow: the run the tracking step logged, or MLFLOW_NO_RUN when logging failed.
METADATA_MLFLOW_RUN_ID = "mlstack:mlflow-run-id"
MLFLOW_NO_RUN = "none"


def code_sha256(hashes: Mapping[str, str]) -> str:
    """One digest over scripts: sha256 of their `sha256sum` lines ("<hex>  <name>\n") sorted by name.

    Reproduce it from the scripts with: sha256sum <scripts, sorted by name> | sha256sum
    """
    lines = "".join(f"{hashes[name]}  {name}\n" for name in sorted(hashes))
    return hashlib.sha256(lines.encode()).hexdigest()


def lineage_environment(context: Mapping[str, object]) -> dict[str, str]:
    """`context` as compact JSON split over LINEAGE_CONTEXT_ENV_000, _001, ... (256 characters each).

    ASCII only, so a character is a byte; preprocess.py joins the values in name order.
    """
    text = json.dumps(context, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    size = LINEAGE_CONTEXT_CHUNK
    chunks = [text[start : start + size] for start in range(0, len(text), size)]
    if len(chunks) > LINEAGE_CONTEXT_MAX_CHUNKS:
        raise ValueError(
            f"the lineage context needs {len(chunks)} environment variables; AWS allows {LINEAGE_CONTEXT_MAX_CHUNKS}"
        )
    return {f"{LINEAGE_CONTEXT_ENV}_{index:03d}": chunk for index, chunk in enumerate(chunks)}


# --- inside the serving container (scikit-learn / XGBoost framework images) -----------
SERVING_MODEL_DIR = "/opt/ml/model"  # where SageMaker extracts model.tar.gz
SERVING_CODE_DIR = f"{SERVING_MODEL_DIR}/{MODEL_CODE_DIR}"
# The framework containers' script-mode serving: import SAGEMAKER_PROGRAM from
# SAGEMAKER_SUBMIT_DIRECTORY and use its model_fn/input_fn/predict_fn/output_fn. A request
# without an Accept header gets SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT (the containers'
# own default is JSON); CSV is what data capture and Model Monitor expect.
SERVING_ENVIRONMENT = {  # the registered model's container environment
    "SAGEMAKER_PROGRAM": INFERENCE_SCRIPT,
    "SAGEMAKER_SUBMIT_DIRECTORY": SERVING_CODE_DIR,
    "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv",
}
SERVING_CONTENT_TYPES = ("text/csv", "application/json")  # request and response types inference.py speaks
DATA_QUALITY_CONSTRAINTS_FILE = "constraints.json"  # what a data-quality baselining job writes
DATA_QUALITY_STATISTICS_FILE = "statistics.json"


def evaluation_json_path(metric: str) -> str:
    """JsonGet path of a metric in evaluation.json: {"metrics": {<metric>: {"value": <float>}}}."""
    return f"metrics.{metric}.value"


# --- S3 -----------------------------------------------------------------------------
def model_prefix(bucket: str, model: str) -> str:
    return f"s3://{bucket}/pipelines/{model}"


def code_prefix(bucket: str, model: str) -> str:
    return f"{model_prefix(bucket, model)}/code"


def runs_prefix(bucket: str, model: str) -> str:
    return f"{model_prefix(bucket, model)}/runs"


def artifacts_prefix(bucket: str, model: str) -> str:
    return f"s3://{bucket}/models/{model}"


def data_quality_baseline_prefix(bucket: str, model: str) -> str:
    """Parent of every execution's data-quality baseline (<prefix>/<execution id>/).

    Not a baseline itself: each pipeline execution writes constraints.json and
    statistics.json under its own execution id, and the registered model package records
    those URIs. Use this prefix for IAM scoping, never as the URI a monitor reads.
    """
    return f"s3://{bucket}/baselines/{model}/data-quality"


def monitoring_reports_prefix(bucket: str, model: str) -> str:
    return f"s3://{bucket}/monitoring/{model}"


def data_capture_prefix(bucket: str, model: str) -> str:
    return f"s3://{bucket}/data-capture/{model}"


def baseline_dataset_prefix(constraints_uri: str) -> str | None:
    """The baseline dataset (BASELINE_FILE) written by the pipeline execution that recorded
    `constraints_uri` (s3://<bucket>/baselines/<model>/data-quality/<execution>/constraints.json):
    s3://<bucket>/pipelines/<model>/runs/<execution>/baseline. None for any other URI."""
    match = re.fullmatch(r"s3://([^/]+)/baselines/([^/]+)/data-quality/([^/]+)/[^/]+", constraints_uri)
    if match is None:
        return None
    bucket, model, execution = match.groups()
    return f"{runs_prefix(bucket, model)}/{execution}/{PREPROCESS_BASELINE_OUTPUT}"


def batch_prefix(bucket: str, model: str) -> str:
    """Batch scoring of `model`: code/, runs/<execution>/ (input, monitor report), output/ by default."""
    return f"s3://{bucket}/batch/{model}"
