"""The plain, typed inputs of a model's batch-scoring pipeline (`pipelines.batch_builder`).

No SageMaker import here: the wiring builds and validates inputs without paying for the SDK.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .inputs import PROBLEM_TYPES, Vpc

CONTENT_TYPES = ("text/csv", "application/json")
STRATEGIES = ("MultiRecord", "SingleRecord")
PAYLOAD_LIMIT_MB = 100  # CreateTransformJob: MaxConcurrentTransforms x MaxPayloadInMB <= 100 MB
_ARN = re.compile(r"^arn:aws[\w-]*:[\w-]+:")
_PACKAGE_ARN = re.compile(r"^arn:aws[\w-]*:sagemaker:[\w-]+:\d{12}:model-package/[\w-]+/\d+$")


@dataclass(frozen=True, kw_only=True)
class FeatureGroupSource:
    """Score the latest record per entity of a feature group's offline store."""

    offline_store_s3_uri: str
    """The offline store's resolved data prefix (Parquet files)."""
    record_identifier: str
    event_time: str


@dataclass(frozen=True, kw_only=True)
class BatchMonitor:
    """Drift of each run's scored input against the version's training baseline."""

    baseline_s3_uri: str
    """Prefix holding baseline.csv of the scored version."""
    publish_function_arn: str
    """Lambda that publishes the report's metrics (CloudWatch, MLflow)."""
    metrics_namespace: str
    drift_threshold: float = 0.1
    probability_threshold: float = 0.5
    instance_type: str = "ml.m5.large"
    max_runtime_seconds: int = 1800
    tracking_server_arn: str | None = None


@dataclass(frozen=True, kw_only=True)
class BatchPipelineInputs:
    """Everything the batch-scoring pipeline definition depends on, as plain values."""

    pipeline_name: str
    model_name: str
    """The per-model key of `pipelines.layout` (batch/<model>/) and the Model metric dimension."""
    region: str
    bucket: str
    """The artifact bucket: code, each run's prepared input and monitor report."""
    role_arn: str
    """The model's and the jobs' role: reads the artifact and the input, writes the output."""
    kms_key_arn: str
    """Encrypts every job's volume and output."""
    model_package_arn: str
    """The version to score with (resolved like real-time serving)."""
    model_data_url: str
    """Its model.tar.gz: the feature-group step reads the feature order from it."""
    problem_type: str
    output_s3_uri: str
    """Each run writes its predictions under <output_s3_uri>/<execution id>/."""
    input_s3_uri: str | None = None
    feature_group: FeatureGroupSource | None = None
    content_type: str = "text/csv"
    strategy: str = "MultiRecord"
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    max_payload_mb: int = 6
    max_concurrent_transforms: int = 1
    processing_instance_type: str = "ml.m5.large"
    framework_version: str = "1.2-1"
    """Version of the SageMaker scikit-learn image the feature-group and monitor steps run in."""
    monitor: BatchMonitor | None = None
    vpc: Vpc | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", dict(sorted(self.tags.items())))
        problems = []
        if (self.input_s3_uri is None) == (self.feature_group is None):
            problems.append("give exactly one of input_s3_uri and feature_group")
        if self.feature_group is not None and self.content_type != "text/csv":
            problems.append("a feature group is scored as text/csv")
        if self.content_type not in CONTENT_TYPES:
            problems.append(f"content_type must be one of {', '.join(CONTENT_TYPES)}")
        if self.strategy not in STRATEGIES:
            problems.append(f"strategy must be one of {', '.join(STRATEGIES)}")
        if self.problem_type not in PROBLEM_TYPES:
            problems.append(f"problem_type must be one of {', '.join(PROBLEM_TYPES)}")
        if not _PACKAGE_ARN.match(self.model_package_arn):
            problems.append("model_package_arn must be a versioned model package ARN")
        for name in ("role_arn", "kms_key_arn"):
            if not _ARN.match(getattr(self, name)):
                problems.append(f"{name} must be an ARN")
        uris = [self.output_s3_uri, self.model_data_url, self.input_s3_uri]
        if self.feature_group:
            uris.append(self.feature_group.offline_store_s3_uri)
        if self.monitor:
            uris.append(self.monitor.baseline_s3_uri)
        if any(uri is not None and not uri.startswith("s3://") for uri in uris):
            problems.append("every location must be an s3:// URI")
        if self.instance_count < 1 or self.max_payload_mb < 1 or self.max_concurrent_transforms < 1:
            problems.append("instance_count, max_payload_mb and max_concurrent_transforms must be at least 1")
        if self.max_payload_mb * self.max_concurrent_transforms > PAYLOAD_LIMIT_MB:
            problems.append(f"max_concurrent_transforms x max_payload_mb must be at most {PAYLOAD_LIMIT_MB} MB")
        if problems:
            raise ValueError("; ".join(problems))
