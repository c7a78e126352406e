"""The S3 and file layout shared by the pipeline, its step scripts and the monitors.

One place, so the training pipeline (writer) and the monitoring schedules and
deployments (readers) cannot drift apart. Everything lives in the project's
artifact bucket under a per-model prefix:

    s3://<bucket>/pipelines/<model>/code/            step scripts uploaded for the pipeline
    s3://<bucket>/pipelines/<model>/runs/<execution>/ per-execution data, model, evaluation
    s3://<bucket>/models/<model>/                    model artifacts (shared with deploying accounts)
    s3://<bucket>/baselines/<model>/data-quality/    constraints.json + statistics.json of the
                                                     latest registered model (read by Model Monitor)
    s3://<bucket>/monitoring/<model>/                monitor reports
    s3://<bucket>/data-capture/<model>/              endpoint data capture
"""

from __future__ import annotations

# --- inside the processing/training containers -------------------------------------
PROCESSING_ROOT = "/opt/ml/processing"
PREPROCESS_INPUT = f"{PROCESSING_ROOT}/input"  # raw data (one or more CSV/Parquet files)
PREPROCESS_OUTPUTS = {  # output name -> container path (train/validation/test splits, CSV, label first)
    "train": f"{PROCESSING_ROOT}/train",
    "validation": f"{PROCESSING_ROOT}/validation",
    "test": f"{PROCESSING_ROOT}/test",
}
SPLIT_FILE = "data.csv"  # file name inside each split directory; header row, label column first
EVALUATION_MODEL = f"{PROCESSING_ROOT}/model"  # model.tar.gz from training
EVALUATION_TEST = f"{PROCESSING_ROOT}/test"
EVALUATION_OUTPUT = f"{PROCESSING_ROOT}/evaluation"
EVALUATION_FILE = "evaluation.json"
MODEL_FILE = "model.joblib"  # inside model.tar.gz (SM_MODEL_DIR)
FEATURES_FILE = "features.json"  # inside model.tar.gz: ordered feature column names and the label


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
    """Where the pipeline's QualityCheckStep writes constraints.json and statistics.json."""
    return f"s3://{bucket}/baselines/{model}/data-quality"


def data_quality_constraints_uri(bucket: str, model: str) -> str:
    return f"{data_quality_baseline_prefix(bucket, model)}/constraints.json"


def data_quality_statistics_uri(bucket: str, model: str) -> str:
    return f"{data_quality_baseline_prefix(bucket, model)}/statistics.json"


def monitoring_reports_prefix(bucket: str, model: str) -> str:
    return f"s3://{bucket}/monitoring/{model}"


def data_capture_prefix(bucket: str, model: str) -> str:
    return f"s3://{bucket}/data-capture/{model}"
