"""How a served model is watched: monitors, alarms and drift-triggered retraining."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .aws import AwsEnum
from .base import S3Uri, SpecModel, fail

ProcessingInstanceType = AwsEnum("ProcessingInstanceType", "processing instance type")

# SageMaker Model Monitor accepts hourly, every-N-hours and daily cron schedules only.
Cadence = Literal["hourly", "every_6_hours", "every_12_hours", "daily"]


class DataQuality(SpecModel):
    enabled: bool = True
    cadence: Cadence = "hourly"
    instance_type: ProcessingInstanceType = "ml.m5.large"  # type: ignore[valid-type]
    max_runtime_seconds: int = Field(1800, ge=1, le=3600)
    """Must finish within the hour that the schedule allows."""


class ModelQuality(SpecModel):
    enabled: bool = False
    cadence: Cadence = "daily"
    ground_truth_s3_uri: S3Uri | None = None
    """Where labels for captured predictions arrive (merged by inference id)."""
    inference_attribute: str | None = Field(None, max_length=256)
    probability_attribute: str | None = Field(None, max_length=256)
    probability_threshold: float = Field(0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _needs_ground_truth(self) -> ModelQuality:
        if self.enabled and not self.ground_truth_s3_uri:
            fail(
                "ground_truth",
                "model quality monitoring needs ground_truth_s3_uri",
                at=("ground_truth_s3_uri",),
            )
        return self


class Bias(SpecModel):
    """SageMaker Clarify bias drift monitoring."""

    enabled: bool = False
    cadence: Cadence = "daily"
    facet: str | None = Field(None, max_length=64)
    """Sensitive attribute column (e.g. age_band)."""
    facet_values: list[str | int | float] = Field(default_factory=list, max_length=20)
    """Values of the facet that form the sensitive group."""
    ground_truth_s3_uri: S3Uri | None = None

    @model_validator(mode="after")
    def _needs_facet(self) -> Bias:
        if self.enabled and (not self.facet or not self.ground_truth_s3_uri):
            fail("bias", "bias monitoring needs facet and ground_truth_s3_uri", at=("facet",))
        return self


class Explainability(SpecModel):
    """SageMaker Clarify feature-attribution (SHAP) drift monitoring."""

    enabled: bool = False
    cadence: Cadence = "daily"
    shap_baseline_s3_uri: S3Uri | None = None
    """CSV rows (features only, no header) SHAP compares against, e.g. a sample of the training data."""

    @model_validator(mode="after")
    def _needs_baseline(self) -> Explainability:
        if self.enabled and not self.shap_baseline_s3_uri:
            fail("shap_baseline", "explainability monitoring needs shap_baseline_s3_uri", at=("shap_baseline_s3_uri",))
        return self


class Alarms(SpecModel):
    """CloudWatch alarm thresholds; the rollback alarms of the endpoint use them too."""

    latency_p99_ms: int = Field(500, ge=1, le=600000)
    """ModelLatency p99 above this (milliseconds) raises the alarm."""
    error_5xx_percent: float = Field(1.0, gt=0, le=100)
    """Invocation5XXErrors as a share of invocations."""
    model_errors: int = Field(5, ge=1)
    """ModelError count per period."""
    drift_threshold: float = Field(0.1, gt=0, le=1)
    """The drift alarm fires when any feature's baseline drift distance (reported by Model Monitor) exceeds this."""
    evaluation_periods: int = Field(3, ge=1, le=60)
    period_seconds: Literal[60, 300, 900, 3600] = 60


class Retraining(SpecModel):
    on_drift: bool = True
    """Start the training pipeline when the drift alarm fires. The alarm keeps its state between
    monitoring runs, so one drift episode (one OK -> ALARM transition) starts one retraining."""


class Prometheus(SpecModel):
    """Kubernetes-served models: scrape the serving container and alert in Prometheus."""

    enabled: bool = False
    path: str = Field("/metrics", pattern=r"^/[\w./-]*$")
    scrape_interval_seconds: int = Field(30, ge=5, le=3600)
    requests_metric: str = Field("http_requests_total", pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    """Counter of requests with a `status` (or `code`) label."""
    latency_metric: str = Field("http_request_duration_seconds", pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    """Histogram of request latency in seconds (its _bucket series)."""


MODEL_MONITOR_CLOSED = (
    "Amazon SageMaker Model Monitor is no longer open to new customers (AWS: 'Amazon SageMaker Model "
    "Monitor availability change'); engine model-monitor works only in accounts that already use it"
)


class Monitoring(SpecModel):
    enabled: bool = True
    engine: Literal["mlstack", "model-monitor"] = "mlstack"
    """`mlstack`: a scheduled SageMaker pipeline running open-source drift statistics (PSI, KS) on the
    data capture, publishing CloudWatch metrics (any account). `model-monitor`: SageMaker Model Monitor
    and Clarify schedules, for accounts that still have the service (closed to new customers)."""
    data_quality: DataQuality = DataQuality()
    model_quality: ModelQuality = ModelQuality()
    bias: Bias = Bias()
    explainability: Explainability = Explainability()
    alarms: Alarms = Alarms()
    retraining: Retraining = Retraining()
    prometheus: Prometheus = Prometheus()

    @model_validator(mode="after")
    def _engine_supports(self) -> Monitoring:
        if self.engine == "mlstack" and self.enabled and self.explainability.enabled:
            fail(
                "engine",
                "explainability (SHAP) monitoring runs on SageMaker Clarify: it needs engine model-monitor",
                at=("explainability", "enabled"),
            )
        return self
