"""The plain, typed inputs of a model's drift-monitoring pipeline (`pipelines.monitor_builder`).

No SageMaker import here: the wiring builds and validates inputs without paying for the SDK.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .inputs import PROBLEM_TYPES, Vpc

# Hours of data capture each run reads, by the spec's cadence (the run's own period).
WINDOW_HOURS = {"hourly": 1, "every_6_hours": 6, "every_12_hours": 12, "daily": 24}
_ARN = re.compile(r"^arn:aws[\w-]*:[\w-]+:")


@dataclass(frozen=True, kw_only=True)
class MonitorPipelineInputs:
    """Everything the monitoring pipeline definition depends on, as plain values."""

    pipeline_name: str
    model_name: str
    """The per-model key of `pipelines.layout`'s prefixes and the `Model` metric dimension."""
    region: str
    bucket: str
    """The artifact bucket: code, data capture, reports and manifests live in it."""
    role_arn: str
    """Runs the processing job (reads its inputs, writes the report); nothing else."""
    kms_key_arn: str
    """Encrypts the job's volume and its report."""
    problem_type: str
    capture_s3_uri: str
    """The endpoint's data-capture prefix (…/data-capture/<model>/<endpoint>/)."""
    baseline_s3_uri: str
    """Prefix holding baseline.csv of the *deployed* version (the pipeline parameter's default)."""
    prepare_function_arn: str
    """Lambda that lists the run's window of capture files into a manifest."""
    publish_function_arn: str
    """Lambda that publishes the report's metrics (CloudWatch, MLflow)."""
    metrics_namespace: str
    cadence: str = "hourly"
    ground_truth_s3_uri: str | None = None
    drift_threshold: float = 0.1
    probability_threshold: float = 0.5
    facet: str | None = None
    facet_values: Sequence[str] = ()
    tracking_server_arn: str | None = None
    instance_type: str = "ml.m5.large"
    framework_version: str = "1.2-1"
    """Version of the SageMaker scikit-learn image the monitor script runs in."""
    max_runtime_seconds: int = 1800
    vpc: Vpc | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "facet_values", tuple(str(v) for v in self.facet_values))
        object.__setattr__(self, "tags", dict(sorted(self.tags.items())))
        problems = []
        if self.cadence not in WINDOW_HOURS:
            problems.append(f"cadence must be one of {', '.join(WINDOW_HOURS)}")
        if self.problem_type not in PROBLEM_TYPES:
            problems.append(f"problem_type must be one of {', '.join(PROBLEM_TYPES)}")
        for name in ("role_arn", "prepare_function_arn", "publish_function_arn", "kms_key_arn"):
            if not _ARN.match(getattr(self, name)):
                problems.append(f"{name} must be an ARN")
        for name in (
            "capture_s3_uri",
            "baseline_s3_uri",
            *(("ground_truth_s3_uri",) if self.ground_truth_s3_uri else ()),
        ):
            if not str(getattr(self, name)).startswith("s3://"):
                problems.append(f"{name} must be an s3:// URI")
        if self.facet and not self.facet_values:
            problems.append("a facet needs facet_values")
        if not self.drift_threshold > 0:
            problems.append("drift_threshold must be above 0")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def window_hours(self) -> int:
        return WINDOW_HOURS[self.cadence]
