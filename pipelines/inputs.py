"""The plain, typed inputs of the training pipeline: everything `pipelines.builder` needs.

No SageMaker import here: constructing and validating inputs is instant, so a spec
validator can build them without paying for the SDK (~2 s to import).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from . import layout

Framework = Literal["sklearn", "xgboost", "pytorch"]
Comparison = Literal["GreaterThanOrEqualTo", "GreaterThan", "LessThanOrEqualTo", "LessThan"]
ApprovalStatus = Literal["PendingManualApproval", "Approved"]
ProblemType = Literal["BinaryClassification", "MulticlassClassification", "Regression"]
HyperparameterValue = str | int | float | bool

FRAMEWORKS: tuple[str, ...] = ("sklearn", "xgboost", "pytorch")
COMPARISONS: tuple[str, ...] = ("GreaterThanOrEqualTo", "GreaterThan", "LessThanOrEqualTo", "LessThan")
APPROVAL_STATUSES: tuple[str, ...] = ("PendingManualApproval", "Approved")
PROBLEM_TYPES: tuple[str, ...] = ("BinaryClassification", "MulticlassClassification", "Regression")

# The training script gets the problem type as this hyperparameter (`--problem-type`).
PROBLEM_TYPE_HYPERPARAMETER = "problem-type"

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_METRIC = re.compile(r"^[A-Za-z_]\w*$")
_SCRIPT = re.compile(r"^[\w\-]+\.py$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_LAMBDA_ARN = re.compile(r"^arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:[\w-]+$")
STEPS_DIR = Path(__file__).resolve().parent / "steps"


def script_sha256(scripts: Iterable[str], directory: Path = STEPS_DIR) -> dict[str, str]:
    """sha256 (hex) of each script in `directory`, by name: the code a pipeline's lineage records."""
    return {name: hashlib.sha256((directory / name).read_bytes()).hexdigest() for name in sorted(set(scripts))}


def bundled_script_sha256() -> dict[str, str]:
    """The bundled step scripts' hashes (layout.STEP_SCRIPTS in pipelines/steps/)."""
    return script_sha256(layout.STEP_SCRIPTS)


@dataclass(frozen=True, kw_only=True)
class Vpc:
    """Subnets and security groups the pipeline's jobs run in."""

    subnet_ids: Sequence[str]
    security_group_ids: Sequence[str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "subnet_ids", tuple(self.subnet_ids))
        object.__setattr__(self, "security_group_ids", tuple(self.security_group_ids))
        if not self.subnet_ids or not self.security_group_ids:
            raise ValueError("vpc needs at least one subnet id and one security group id")


@dataclass(frozen=True, kw_only=True)
class TrainingPipelineInputs:
    """Everything the training pipeline definition depends on, as plain values.

    Same inputs, same definition (byte for byte): nothing here is looked up at build time.
    Sequences are stored as tuples, mappings copied, numbers that JSON spells differently
    (1 vs 1.0) normalized; an inconsistent combination raises ValueError listing every problem.
    """

    # --- identity and where things go ---------------------------------------------------
    pipeline_name: str
    """Physical pipeline name; jobs are named by SageMaker (pipelines-<execution>-...)."""
    model_name: str
    """Short model name: the per-model key in every S3 prefix of `pipelines.layout`."""
    region: str
    """AWS region of the pipeline: picks the regional ECR images."""
    role_arn: str
    """Role every job of the pipeline runs as."""
    bucket: str
    """Artifact bucket name (not a URI): code, run data, model artifacts and baselines."""
    kms_key_arn: str
    """Key for job volumes, job outputs and model artifacts."""

    # --- training -----------------------------------------------------------------------
    framework: Framework
    framework_version: str
    """Version of the framework image, e.g. 1.2-1 (scikit-learn), 1.7-1 (XGBoost), 2.3 (PyTorch)."""
    py_version: str = "py3"
    """Python tag of the framework image; PyTorch images need an exact one such as py311."""
    entry_point: str = "train.py"
    """Training script, uploaded next to the other step scripts under layout.code_prefix."""
    training_instance_type: str = "ml.m5.xlarge"
    training_instance_count: int = 1
    training_volume_size_gb: int = 30
    max_runtime_seconds: int = 3600
    hyperparameters: Mapping[str, HyperparameterValue] = field(default_factory=dict)
    """Passed to the script as --name value; `algorithm` picks the estimator for train.py."""
    script_sha256: Mapping[str, str] = field(default_factory=bundled_script_sha256)
    """sha256 of every uploaded step script (layout.STEP_SCRIPTS and entry_point), recorded as lineage."""
    use_spot: bool = False
    """Managed spot training, checkpointing to the run prefix so an interruption resumes."""
    max_wait_seconds: int | None = None
    """Spot only: runtime plus time waiting for capacity; defaults to twice max_runtime_seconds."""
    problem_type: ProblemType = "BinaryClassification"

    # --- data ---------------------------------------------------------------------------
    processing_instance_type: str = "ml.m5.xlarge"
    """Instance type of the preprocessing, baseline and evaluation jobs."""
    processing_framework_version: str = "1.2-1"
    """scikit-learn processing image version for the preprocessing step."""
    feature_group_s3_uris: Sequence[str] = ()
    """Offline-store S3 URIs of feature groups (Parquet); exclusive with `s3_uri`."""
    s3_uri: str | None = None
    """A CSV/Parquet S3 prefix; exclusive with `feature_group_s3_uris`."""
    feature_group_name: str | None = None
    """The feature group behind `feature_group_s3_uris`, recorded as lineage; None for S3 data."""
    target: str
    """Label column."""
    drop_columns: Sequence[str] = ()
    """Columns never used as features (record id, event time, the spec's `exclude`)."""
    categorical_columns: Sequence[str] = ()
    """Feature columns train.py encodes as categories (recorded in the model)."""
    column_names: Sequence[str] = ()
    """The columns of headerless CSV input, in file order; empty = the files have a header row."""
    validation_fraction: float = 0.15
    test_fraction: float = 0.15
    seed: int = 42
    """Seed of the train/validation/test split."""

    # --- gate and registry --------------------------------------------------------------
    gate_metric: str
    """Key in evaluation.json's `metrics`, e.g. auc or rmse."""
    gate_comparison: Comparison
    """How `metric` must compare with `threshold` for the model to be registered."""
    gate_threshold: float
    model_package_group_name: str
    approval_status: ApprovalStatus = "PendingManualApproval"

    # --- optional -----------------------------------------------------------------------
    vpc: Vpc | None = None
    """Run every job in these subnets; None = SageMaker-managed network."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of every job the pipeline starts."""
    tracking_server_arn: str | None = None
    """SageMaker MLflow tracking server: each execution logs a run to it (a Lambda step after
    Evaluate) and the registered version records the run id. None = no MLflow step."""
    tracking_function_arn: str | None = None
    """The Lambda function that logs the run (steps/tracking_lambda.py); goes with tracking_server_arn."""

    def __post_init__(self) -> None:
        for name in ("feature_group_s3_uris", "drop_columns", "categorical_columns", "column_names"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("gate_threshold", "validation_fraction", "test_fraction"):
            object.__setattr__(self, name, float(getattr(self, name)))  # 1 and 1.0: one definition
        object.__setattr__(self, "hyperparameters", dict(self.hyperparameters))
        object.__setattr__(self, "script_sha256", dict(sorted(self.script_sha256.items())))
        object.__setattr__(self, "tags", dict(self.tags))
        problems = _problems(self)
        if problems:
            raise ValueError("invalid TrainingPipelineInputs: " + "; ".join(problems))

    @property
    def data_uris(self) -> tuple[str, ...]:
        """The S3 URIs the preprocessing step reads, one processing input each."""
        return (self.s3_uri,) if self.s3_uri else self.feature_group_s3_uris

    @property
    def experiment_name(self) -> str:
        """The MLflow experiment of the runs: the pipeline's name, unique per project, environment and model."""
        return self.pipeline_name

    @property
    def effective_max_wait_seconds(self) -> int | None:
        """Spot wait limit sent to SageMaker; None without spot."""
        if not self.use_spot:
            return None
        return self.max_wait_seconds or 2 * self.max_runtime_seconds

    def __hash__(self) -> int:  # dict fields are not hashable; hash what identifies a pipeline
        return hash((self.pipeline_name, self.model_name, self.region))


def _problems(inputs: TrainingPipelineInputs) -> list[str]:
    """Every contradiction in the inputs (empty when consistent)."""
    checks: list[tuple[bool, str]] = [
        (inputs.framework in FRAMEWORKS, f"framework must be one of {FRAMEWORKS}"),
        (inputs.gate_comparison in COMPARISONS, f"gate_comparison must be one of {COMPARISONS}"),
        (inputs.approval_status in APPROVAL_STATUSES, f"approval_status must be one of {APPROVAL_STATUSES}"),
        (inputs.problem_type in PROBLEM_TYPES, f"problem_type must be one of {PROBLEM_TYPES}"),
        (bool(_BUCKET.match(inputs.bucket)), f"bucket must be a bucket name, not {inputs.bucket!r}"),
        (bool(_METRIC.match(inputs.gate_metric)), "gate_metric must be an identifier (it is a JSON path segment)"),
        (bool(_SCRIPT.match(inputs.entry_point)), "entry_point must be a file name such as train.py"),
        (inputs.role_arn.startswith("arn:") and ":role/" in inputs.role_arn, "role_arn must be an IAM role ARN"),
        (inputs.kms_key_arn.startswith("arn:"), "kms_key_arn must be a KMS key ARN"),
        (bool(inputs.model_name) and "/" not in inputs.model_name, "model_name must be a non-empty key segment"),
        (bool(inputs.target), "target must name the label column"),
        (bool(inputs.s3_uri) != bool(inputs.feature_group_s3_uris), "set exactly one of s3_uri, feature_group_s3_uris"),
        (all(uri.startswith("s3://") for uri in inputs.data_uris), "data sources must be s3:// URIs"),
        # preprocess.py gets each as an argument for the lineage (a container argument: 256 characters).
        (all(len(uri) <= 256 for uri in inputs.data_uris), "data source URIs must be at most 256 characters"),
        (inputs.validation_fraction > 0 and inputs.test_fraction > 0, "split fractions must be positive"),
        (inputs.validation_fraction + inputs.test_fraction < 1, "validation + test fractions must be below 1"),
        (inputs.training_instance_count >= 1, "training_instance_count must be at least 1"),
        (inputs.max_runtime_seconds >= 1, "max_runtime_seconds must be positive"),
        (inputs.target not in inputs.drop_columns, "the target cannot be a dropped column"),
        (inputs.target not in inputs.categorical_columns, "the target cannot be a categorical column"),
        (not set(inputs.drop_columns) & set(inputs.categorical_columns), "a column cannot be dropped and categorical"),
        (
            all("," not in name for name in (*inputs.drop_columns, *inputs.categorical_columns, *inputs.column_names)),
            "column names cannot contain commas (the step scripts take comma-separated lists)",
        ),
        (
            not {PROBLEM_TYPE_HYPERPARAMETER, "problem_type"} & set(inputs.hyperparameters),
            "the problem type hyperparameter comes from problem_type",
        ),
        (not any(key.startswith("sagemaker_") for key in inputs.hyperparameters), "sagemaker_* keys are reserved"),
        (
            {*layout.STEP_SCRIPTS, inputs.entry_point} <= set(inputs.script_sha256),
            "script_sha256 must hash every step script and the entry point",
        ),
        (
            all(_SCRIPT.match(name) and _SHA256.match(digest) for name, digest in inputs.script_sha256.items()),
            "script_sha256 maps script file names to lowercase sha256 hex digests",
        ),
        (not (inputs.feature_group_name and inputs.s3_uri), "feature_group_name goes with feature_group_s3_uris"),
        (
            bool(inputs.tracking_server_arn) == bool(inputs.tracking_function_arn),
            "tracking_server_arn and tracking_function_arn go together",
        ),
        (
            not inputs.tracking_server_arn or ":mlflow-tracking-server/" in inputs.tracking_server_arn,
            "tracking_server_arn must be a SageMaker MLflow tracking server ARN",
        ),
        (
            not inputs.tracking_function_arn or bool(_LAMBDA_ARN.match(inputs.tracking_function_arn)),
            "tracking_function_arn must be a Lambda function ARN",
        ),
    ]
    wait = inputs.effective_max_wait_seconds
    if wait is not None:
        checks.append((wait >= inputs.max_runtime_seconds, "max_wait_seconds must be at least max_runtime_seconds"))
    elif inputs.max_wait_seconds is not None:
        checks.append((False, "max_wait_seconds applies to spot training only (use_spot=True)"))
    return [message for ok, message in checks if not ok]
