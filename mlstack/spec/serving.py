"""How a model version reaches users: endpoint, rollout, scaling, capture."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .aws import AwsEnum, int_range
from .base import Slug, SpecModel, fail
from .batch import BatchScoring

InstanceType = AwsEnum("ProductionVariantInstanceType", "endpoint instance type")
RolloutStrategy = AwsEnum("TrafficRoutingConfigType", "rollout strategy")

_WAIT_MIN, _WAIT_MAX = int_range("WaitIntervalInSeconds")
_TERM_MIN, _TERM_MAX = int_range("TerminationWaitInSeconds")
_EXEC_MIN, _EXEC_MAX = int_range("MaximumExecutionTimeoutInSeconds")
_MEM_MIN, _MEM_MAX = int_range("ServerlessMemorySizeInMB")
_CONC_MIN, _CONC_MAX = int_range("ServerlessMaxConcurrency")
_SAMPLE_MIN, _SAMPLE_MAX = int_range("SamplingPercentage")


class Serverless(SpecModel):
    memory_size_mb: int = Field(2048, ge=_MEM_MIN, le=_MEM_MAX, multiple_of=1024)
    max_concurrency: int = Field(5, ge=_CONC_MIN, le=_CONC_MAX)


class Variant(SpecModel):
    """A/B testing: one production variant per model version, traffic split by weight."""

    name: Slug
    model_version: int | None = Field(None, ge=1)
    """Pinned version in the package group; None = the version resolved for the endpoint."""
    weight: float = Field(ge=0, le=1)
    """Share of traffic (weights are normalised by SageMaker)."""
    instance_type: InstanceType | None = None  # type: ignore[valid-type]
    instance_count: int | None = Field(None, ge=1)


class Shadow(SpecModel):
    """Shadow testing: a candidate receives a copy of the traffic; its answers are only logged."""

    model_version: int = Field(ge=1)
    instance_type: InstanceType | None = None  # type: ignore[valid-type]
    instance_count: int = Field(1, ge=1)


class Rollout(SpecModel):
    """Blue/green deployment with traffic shifting and automatic rollback."""

    strategy: RolloutStrategy = "ALL_AT_ONCE"  # type: ignore[valid-type]
    """ALL_AT_ONCE, CANARY (a slice first) or LINEAR (equal steps)."""
    canary_percent: int = Field(10, ge=1, le=99)
    """CANARY: share of capacity that takes traffic first."""
    linear_step_percent: int = Field(20, ge=1, le=99)
    """LINEAR: share of capacity shifted per step."""
    wait_seconds: int = Field(600, ge=_WAIT_MIN, le=_WAIT_MAX)
    """Baking time after each shift, while rollback alarms are watched."""
    termination_wait_seconds: int = Field(300, ge=_TERM_MIN, le=_TERM_MAX)
    """Time the old fleet is kept after the shift, for a quick rollback."""
    maximum_execution_timeout_seconds: int = Field(3600, ge=_EXEC_MIN, le=_EXEC_MAX)
    """Upper bound SageMaker allows the whole rollout."""
    rollback_on_alarms: bool = True
    """Roll back automatically when the endpoint's 5xx, latency or error alarms fire."""


class Autoscaling(SpecModel):
    enabled: bool = False
    min_capacity: int = Field(1, ge=1)
    max_capacity: int = Field(4, ge=1)
    target_invocations_per_instance: int = Field(1000, ge=1)
    """Target of SageMakerVariantInvocationsPerInstance (per minute)."""
    scale_in_cooldown_seconds: int = Field(300, ge=0, le=3600)
    scale_out_cooldown_seconds: int = Field(60, ge=0, le=3600)

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.max_capacity < self.min_capacity:
            fail(
                "bounds",
                "max_capacity ({max}) is below min_capacity ({min})",
                at=("max_capacity",),
                max=self.max_capacity,
                min=self.min_capacity,
            )
        return self


class DataCapture(SpecModel):
    """Log prediction inputs and outputs to S3 for monitoring and audit."""

    enabled: bool = True
    sampling_percentage: int = Field(100, ge=max(_SAMPLE_MIN or 0, 1), le=_SAMPLE_MAX)
    capture: Literal["Input", "Output", "InputAndOutput"] = "InputAndOutput"


class Kubernetes(SpecModel):
    """Serve on a Kubernetes cluster instead of a SageMaker endpoint."""

    runtime: Literal["deployment", "kserve"] = "deployment"
    """A plain Deployment + Service + HPA, or a KServe InferenceService."""
    namespace: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    image: str = Field(min_length=3, max_length=512, pattern=r"^\S+$")
    """Serving image (pin a digest or tag)."""
    port: int = Field(8080, ge=1, le=65535)
    replicas: int = Field(2, ge=1, le=100)
    max_replicas: int = Field(6, ge=1, le=1000)
    cpu: str = Field("500m", pattern=r"^\d+(\.\d+)?m?$")
    memory: str = Field("1Gi", pattern=r"^\d+(Ki|Mi|Gi)$")
    iam_role_arn: str | None = Field(None, pattern=r"^arn:aws:iam::\d{12}:role/[\w+=,.@/-]+$")
    """An existing role the pods assume (IRSA) to read the model artifact: it must trust the cluster's
    OIDC provider for this namespace's service account (named like the model). Without it mlstack
    creates the role, which needs `oidc_provider_arn`."""
    oidc_provider_arn: str | None = Field(
        None,
        max_length=len("arn:aws:iam::123456789012:oidc-provider/") + 255,  # IAM: a provider URL has <= 255
        pattern=r"^arn:aws:iam::\d{12}:oidc-provider/[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(/[-A-Za-z0-9._~]+)*$",
    )
    """The cluster's IAM OIDC provider, in this environment's account (EKS:
    arn:aws:iam::<account>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<id>). mlstack then creates
    the pods' IRSA role: only this namespace's service account may assume it, and it may only read the
    model's artifacts and decrypt them through S3. Required unless `iam_role_arn` is given."""

    @model_validator(mode="after")
    def _credentials(self) -> Kubernetes:
        if self.iam_role_arn is None and self.oidc_provider_arn is None:
            fail(
                "irsa",
                "the model download needs AWS credentials: give `oidc_provider_arn` (the cluster's IAM OIDC "
                "provider; mlstack creates the role) or `iam_role_arn` (an existing IRSA role)",
                at=("oidc_provider_arn",),
            )
        if self.iam_role_arn is not None and self.oidc_provider_arn is not None:
            fail(
                "irsa",
                "give `iam_role_arn` (an existing role) or `oidc_provider_arn` (mlstack creates the role), not both "
                "(an overlay unsets the base's with `oidc_provider_arn: null`)",
                at=("oidc_provider_arn",),
            )
        return self


class Serving(SpecModel):
    enabled: bool = True
    """Serve in real time (an endpoint, or Kubernetes). `batch` scoring runs either way: set
    `enabled: false` with a `batch` section to score in batches only."""
    target: Literal["sagemaker", "kubernetes"] = "sagemaker"
    model_version: int | None = Field(None, ge=1)
    """Pin a version of the package group; None = the latest Approved version."""
    when_unapproved: Literal["fail", "latest", "skip"] = "fail"
    """No approved version: fail, deploy the newest version, or skip the endpoint.
    Only `fail` is allowed in staging and prod."""
    instance_type: InstanceType = "ml.m5.large"  # type: ignore[valid-type]
    instance_count: int = Field(1, ge=1, le=100)
    serverless: Serverless | None = None
    """Serverless inference instead of instances (no data capture, rollout or autoscaling)."""
    variants: list[Variant] = Field(default_factory=list, max_length=10)
    """A/B variants; empty = one variant serving the resolved version."""
    shadow: Shadow | None = None
    rollout: Rollout = Rollout()
    autoscaling: Autoscaling = Autoscaling()
    data_capture: DataCapture = DataCapture()
    kubernetes: Kubernetes | None = None
    batch: BatchScoring | None = None
    """Batch scoring of files or a feature group on a schedule or as input arrives."""

    @model_validator(mode="after")
    def _consistent(self) -> Serving:
        if self.target == "kubernetes" and self.kubernetes is None:
            fail("k8s", "target kubernetes needs a `kubernetes` section", at=("target",))
        if self.target == "sagemaker" and self.kubernetes is not None:
            fail("k8s", "the `kubernetes` section needs target: kubernetes", at=("kubernetes",))
        if self.serverless is not None:
            for field, on in (
                ("data_capture", self.data_capture.enabled),
                ("autoscaling", self.autoscaling.enabled),
                ("shadow", self.shadow is not None),
                ("variants", len(self.variants) > 1),
            ):
                if on:
                    fail(
                        "serverless",
                        "serverless endpoints do not support {field}",
                        at=(field,),
                        field=field,
                    )
        names = [v.name for v in self.variants]
        for index, name in enumerate(names):
            if names.index(name) != index:
                fail(
                    "duplicate",
                    "variant '{name}' is defined twice",
                    at=("variants", index, "name"),
                    name=name,
                )
        if self.variants and sum(v.weight for v in self.variants) <= 0:
            fail("weights", "at least one variant needs a weight above 0", at=("variants",))
        if self.autoscaling.enabled and self.autoscaling.min_capacity > self.instance_count:
            fail(
                "bounds",
                "min_capacity ({min}) is above instance_count ({count})",
                at=("autoscaling", "min_capacity"),
                min=self.autoscaling.min_capacity,
                count=self.instance_count,
            )
        return self
