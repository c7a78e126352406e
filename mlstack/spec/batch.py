"""Batch scoring: a model version scores files on a schedule or as they arrive, no endpoint needed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from . import schedule as schedules
from .aws import AwsEnum, int_range
from .base import S3Uri, Slug, SpecModel, fail

TransformInstanceType = AwsEnum("TransformInstanceType", "batch transform instance type")
BatchStrategy = AwsEnum("BatchStrategy", "batch strategy")

_COUNT_MIN, _ = int_range("TransformInstanceCount")
_PAYLOAD_MIN, _ = int_range("MaxPayloadInMB")
_CONCURRENT_MIN, _ = int_range("MaxConcurrentTransforms")
# CreateTransformJob: "The value of MaxPayloadInMB cannot be greater than 100 MB. If you specify
# the MaxConcurrentTransforms parameter, the value of (MaxConcurrentTransforms * MaxPayloadInMB)
# also cannot exceed 100 MB." (botocore's model gives only the minimums.)
PAYLOAD_LIMIT_MB = 100


class BatchScoring(SpecModel):
    """A SageMaker pipeline per model: a batch transform of the served version over the input,
    each input record joined with its prediction, then drift of that input against the
    version's training baseline, published like the endpoint monitor's."""

    input_s3_uri: S3Uri | None = None
    """Prefix of the files to score: headerless CSV with the features in training order (each
    line one record), or JSON requests one a line (`content_type: application/json`)."""
    feature_group: Slug | None = None
    """Score the latest record of every entity in this feature group's offline store instead
    (a first step writes it as CSV in the model's feature order)."""
    output_s3_uri: S3Uri | None = None
    """Where each run writes its predictions, under `<execution id>/`; default the artifact
    bucket's `batch/<model>/output/`."""
    content_type: Literal["text/csv", "application/json"] = "text/csv"
    """What the input files hold (and what the predictions are written as)."""
    strategy: BatchStrategy = "MultiRecord"  # type: ignore[valid-type]
    """MultiRecord sends as many lines as fit in `max_payload_mb` per request; SingleRecord one."""
    instance_type: TransformInstanceType = "ml.m5.large"  # type: ignore[valid-type]
    instance_count: int = Field(1, ge=_COUNT_MIN, le=100)
    max_payload_mb: int = Field(6, ge=max(_PAYLOAD_MIN or 0, 1), le=PAYLOAD_LIMIT_MB)
    """Largest request sent to the model container."""
    max_concurrent_transforms: int = Field(1, ge=max(_CONCURRENT_MIN or 0, 1), le=PAYLOAD_LIMIT_MB)
    """Parallel requests per instance; times `max_payload_mb` at most 100 MB (AWS's limit)."""
    schedule: str | None = Field(None, max_length=256)
    """Score on a schedule: EventBridge Scheduler `cron(0 2 * * ? *)` (nightly at 02:00 UTC),
    `rate(6 hours)` or a one-time `at(...)`."""
    on_new_input: bool = False
    """Also score whenever an object is created under `input_s3_uri` (an EventBridge rule; the
    input bucket must send its events to EventBridge). Each run scores the whole prefix."""
    model_version: int | None = Field(None, ge=1)
    """Pin a version of the package group; None = the version real-time serving resolves (the
    latest Approved). Staging and prod score only Approved versions."""
    monitor: bool = True
    """Drift of each run's input against the version's training baseline (mlstack's monitor)."""

    @model_validator(mode="after")
    def _consistent(self) -> BatchScoring:
        if (self.input_s3_uri is None) == (self.feature_group is None):
            fail("batch_input", "give exactly one of `input_s3_uri` and `feature_group`", at=("input_s3_uri",))
        if self.feature_group is not None and self.content_type != "text/csv":
            fail(
                "batch_input",
                "a feature group is scored as CSV: content_type must be text/csv",
                at=("content_type",),
            )
        if self.schedule is None and not self.on_new_input:
            fail(
                "batch_trigger",
                "nothing starts the batch pipeline: give a `schedule` and/or `on_new_input: true`",
                at=("schedule",),
            )
        if self.on_new_input and self.input_s3_uri is None:
            fail("batch_trigger", "on_new_input watches `input_s3_uri`, which is not set", at=("on_new_input",))
        if self.schedule is not None and (reason := schedules.problem(self.schedule)):
            fail(
                "schedule",
                "'{value}' is not an EventBridge Scheduler expression: {reason}",
                at=("schedule",),
                value=self.schedule,
                reason=reason,
            )
        if self.max_concurrent_transforms * self.max_payload_mb > PAYLOAD_LIMIT_MB:
            fail(
                "payload",
                "max_concurrent_transforms times max_payload_mb is {total} MB; AWS allows at most {limit} MB",
                at=("max_concurrent_transforms",),
                total=self.max_concurrent_transforms * self.max_payload_mb,
                limit=PAYLOAD_LIMIT_MB,
            )
        return self
