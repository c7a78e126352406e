"""How a model is trained, judged and registered."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from . import hyperparameters as bundled
from . import schedule as schedules
from .aws import AwsEnum, AwsString
from .base import ColumnName, S3Uri, Slug, SpecModel, fail
from .locate import did_you_mean

TrainingInstanceType = AwsEnum("TrainingInstanceType", "training instance type")
ProcessingInstanceType = AwsEnum("ProcessingInstanceType", "processing instance type")
HyperParameterKey = AwsString("HyperParameterKey", "hyperparameter name")


class DataSource(SpecModel):
    """Where the training data comes from: feature groups of this spec, or an S3 prefix."""

    feature_groups: list[Slug] = Field(default_factory=list)
    """The feature group (by spec name) whose offline store is the training data."""
    s3_uri: S3Uri | None = None
    """A CSV/Parquet prefix to read instead of feature groups."""
    target: ColumnName
    """Label column."""
    categorical: list[ColumnName] = Field(default_factory=list, max_length=500)
    """Feature columns whose values are categories (text, or codes such as a merchant category
    code): train.py encodes each as its category's position among those seen in training and
    records them in the model, so serving encodes the same way (unseen = missing)."""
    exclude: list[ColumnName] = Field(default_factory=list, max_length=500)
    """Columns that are not features (ids, free text). A feature group's record identifier and
    event time never are; every other text column must be listed here or in `categorical`."""
    header: bool = True
    """Whether the s3_uri's CSV files start with a header row; without one, `columns` names them."""
    columns: list[ColumnName] | None = Field(None, min_length=2, max_length=1000)
    """The columns of headerless CSV files, in file order (s3_uri with `header: false`)."""
    validation_fraction: float = Field(0.15, gt=0, lt=0.5)
    test_fraction: float = Field(0.15, gt=0, lt=0.5)

    @model_validator(mode="after")
    def _one_source(self) -> DataSource:
        if bool(self.feature_groups) == bool(self.s3_uri):
            fail("data_source", "set exactly one of feature_groups or s3_uri", at=("feature_groups",))
        self._check_columns()
        if len(self.feature_groups) > 1:
            fail(
                "data_source",
                "training from several feature groups (a join) is not supported yet: "
                "list one group, or point s3_uri at a joined dataset",
                at=("feature_groups", 1),
            )
        return self

    def _check_columns(self) -> None:
        if not self.header and self.s3_uri is None:
            fail(
                "header",
                "header: false describes s3_uri CSV files; a feature group's data has its names",
                at=("header",),
            )
        if not self.header and self.columns is None:
            fail("columns", "header: false needs `columns`: the CSV's column names, in file order", at=("header",))
        if self.header and self.columns is not None:
            fail(
                "columns", "`columns` names the columns of headerless CSV files: set header: false too", at=("columns",)
            )
        for field in ("categorical", "exclude", "columns"):
            names = getattr(self, field) or []
            for index, name in enumerate(names):
                if names.index(name) != index:
                    fail("duplicate", "'{name}' is listed twice", at=(field, index), name=name)
                if name == self.target and field != "columns":
                    fail(
                        "target",
                        "'{name}' is the target; it cannot also be {field}",
                        at=(field, index),
                        name=name,
                        field=field,
                    )
        for index, name in enumerate(self.categorical):
            if name in self.exclude:
                fail("both", "'{name}' is both categorical and excluded", at=("categorical", index), name=name)
        if self.columns is not None:
            for field, names in (
                ("target", [self.target]),
                ("categorical", self.categorical),
                ("exclude", self.exclude),
            ):
                for index, name in enumerate(names):
                    if name not in self.columns:
                        at = (field,) if field == "target" else (field, index)
                        fail(
                            "column",
                            "'{name}' is not one of `columns`{hint} (columns: {columns})",
                            at=at,
                            name=name,
                            hint=did_you_mean(name, self.columns),
                            columns=", ".join(self.columns),
                        )


class Spot(SpecModel):
    enabled: bool = False
    """Train on spot capacity (up to 90% cheaper); checkpoints go to the project bucket."""
    max_wait_minutes: int = Field(120, ge=1, le=40320)
    """Total time to wait for spot capacity and train; at least `max_runtime_minutes`."""


class Training(SpecModel):
    framework: Literal["sklearn", "xgboost", "pytorch"]
    """Framework whose SageMaker image runs the training script."""
    framework_version: str = Field(pattern=r"^\d+\.\d+(\.\d+)?(-\d+)?$")
    """Version of the framework image, e.g. 1.2-1 for scikit-learn, 1.7-1 for XGBoost."""
    py_version: str = Field("py3", pattern=r"^py3\d*$")
    """Python tag of the framework image (PyTorch images need an exact one, e.g. py311)."""
    entry_point: str = Field("train.py", pattern=r"^[\w\-]+\.py$")
    """Training script in `pipelines/steps/`."""
    instance_type: TrainingInstanceType = "ml.m5.xlarge"  # type: ignore[valid-type]
    instance_count: int = Field(1, ge=1, le=100)
    volume_size_gb: int = Field(30, ge=1, le=16384)
    max_runtime_minutes: int = Field(60, ge=1, le=40320)
    """Hard stop for the training job (AWS allows up to 28 days)."""
    hyperparameters: dict[HyperParameterKey, str | int | float | bool] = Field(  # type: ignore[valid-type]
        default_factory=dict, max_length=100
    )
    """With the bundled train.py: `algorithm` (xgboost, hist_gradient_boosting or random_forest)
    and only hyperparameters that algorithm takes, of the kind it takes (train.py's table)."""
    spot: Spot = Spot()
    processing_instance_type: ProcessingInstanceType = "ml.m5.xlarge"  # type: ignore[valid-type]
    """Instance type for the preprocessing, baseline and evaluation steps."""
    schedule: str | None = Field(None, max_length=256)
    """Retrain on a schedule: EventBridge Scheduler `rate(7 days)`, `cron(0 3 ? * MON *)` (six fields;
    exactly one of day-of-month and day-of-week is `?`) or a one-time `at(2030-01-31T03:00:00)`."""

    @model_validator(mode="after")
    def _consistent(self) -> Training:
        if self.framework == "pytorch" and self.entry_point == "train.py":
            fail(
                "entry_point",
                "the bundled train.py trains scikit-learn and XGBoost models; "
                "give PyTorch training its own entry_point script in pipelines/steps/",
                at=("entry_point",),
            )
        if self.spot.enabled and self.spot.max_wait_minutes < self.max_runtime_minutes:
            fail(
                "spot_wait",
                "max_wait_minutes ({wait}) must be at least max_runtime_minutes ({run})",
                at=("spot", "max_wait_minutes"),
                wait=self.spot.max_wait_minutes,
                run=self.max_runtime_minutes,
            )
        if self.schedule is not None and (reason := schedules.problem(self.schedule)):
            fail(
                "schedule",
                "'{value}' is not an EventBridge Scheduler expression: {reason}",
                at=("schedule",),
                value=self.schedule,
                reason=reason,
            )
        for key, value in self.hyperparameters.items():
            if len(str(value)) > 2500:
                fail(
                    "hyperparameter",
                    "value longer than 2500 characters",
                    at=("hyperparameters", key),
                )
        if self.entry_point == bundled.BUNDLED_ENTRY_POINT:
            for key, kind, message in bundled.problems(self.hyperparameters)[:1]:
                fail(kind, "{message}", at=("hyperparameters", key) if key else ("hyperparameters",), message=message)
        return self


class EvaluationGate(SpecModel):
    """The quality gate: a model is registered only if `metric comparison threshold` holds."""

    metric: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][\w]*$")
    """Key in evaluation.json's `metrics` written by the evaluation step (e.g. auc, rmse)."""
    comparison: Literal["GreaterThanOrEqualTo", "GreaterThan", "LessThanOrEqualTo", "LessThan"]
    threshold: float


class ModelCard(SpecModel):
    """Fields of the SageMaker model card kept with the model group."""

    description: str = Field(min_length=1, max_length=1024)
    intended_uses: str = Field(min_length=1, max_length=2048)
    risk_rating: Literal["High", "Medium", "Low", "Unknown"] = "Unknown"
    owner: str | None = Field(None, max_length=256)
    """Defaults to the project owner."""


class Registry(SpecModel):
    approval: Literal["manual", "auto"] = "manual"
    """How versions that pass the gate are registered: PendingManualApproval, or Approved
    where the environment allows auto-approval."""
    share_with_accounts: list[AwsString("AccountId", "AWS account id")] = Field(  # type: ignore[valid-type]
        default_factory=list, max_length=20
    )
    """Accounts that may read the model package group (e.g. the prod account)."""
    model_card: ModelCard | None = None
