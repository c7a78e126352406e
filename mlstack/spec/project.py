"""Project metadata, network, alerting, MLflow and per-environment settings."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .aws import AwsEnum, AwsString
from .base import Email, ProjectName, SpecModel, TagKey, TagValue, fail

AccountId = AwsString("AccountId", "AWS account id")
SubnetId = AwsString("SubnetId", "subnet id", prefix="subnet-")
SecurityGroupId = AwsString("SecurityGroupId", "security group id", prefix="sg-")

# Tag keys mlstack sets itself; the spec may not override them.
RESERVED_TAG_KEYS = (
    "project",
    "environment",
    "owner",
    "cost-centre",
    "data-classification",
    "managed-by",
)


class Project(SpecModel):
    name: ProjectName
    """Short project name; the first part of every physical AWS name."""
    description: str = Field("", max_length=256)
    """One line on what the project is for."""
    owner: Email
    """Team or person accountable for the project (tag `owner`)."""
    cost_centre: str = Field(min_length=1, max_length=64, pattern=r"^[\w.:/=+\-@ ]+$")
    """Cost centre billed for the resources (tag `cost-centre`)."""
    data_classification: Literal["public", "internal", "confidential", "restricted"]
    """Highest classification of the data the project handles (tag `data-classification`)."""
    tags: dict[TagKey, TagValue] = Field(default_factory=dict, max_length=40)
    """Extra tags for every taggable resource (AWS allows 50 in all; mlstack sets 6)."""

    @model_validator(mode="after")
    def _no_reserved_tags(self) -> Project:
        clash = sorted(k for k in self.tags if k.lower() in RESERVED_TAG_KEYS)
        if clash:
            fail(
                "reserved_tag",
                "tag '{key}' is set by mlstack from the project fields; remove it here",
                at=("tags", clash[0]),
                key=clash[0],
            )
        return self


class Network(SpecModel):
    """VPC placement for training, processing, models and MLflow."""

    subnet_ids: list[SubnetId] = Field(min_length=1, max_length=16)
    """Private subnets, ideally in two or more availability zones."""
    security_group_ids: list[SecurityGroupId] = Field(min_length=1, max_length=5)
    """Security groups attached to every SageMaker network interface."""


class Subscriber(SpecModel):
    protocol: Literal["email", "https", "sqs", "lambda"]
    """SNS protocol of the subscription."""
    endpoint: str = Field(min_length=3, max_length=2048)
    """Address for the protocol: an e-mail address, an https URL, or an SQS/Lambda ARN."""

    @model_validator(mode="after")
    def _endpoint_matches_protocol(self) -> Subscriber:
        ok = {
            "email": lambda e: "@" in e and " " not in e,
            "https": lambda e: e.startswith("https://"),
            "sqs": lambda e: e.startswith("arn:aws:sqs:"),
            "lambda": lambda e: e.startswith("arn:aws:lambda:"),
        }[self.protocol](self.endpoint)
        if not ok:
            fail(
                "subscriber",
                "'{endpoint}' is not a valid {protocol} endpoint",
                at=("endpoint",),
                endpoint=self.endpoint,
                protocol=self.protocol,
            )
        return self


class Alerts(SpecModel):
    subscribers: list[Subscriber] = Field(default_factory=list, max_length=20)
    """Who is told about approvals, alarms and drift."""


class Mlflow(SpecModel):
    """An optional SageMaker-managed MLflow tracking server."""

    enabled: bool = False
    version: AwsString("MlflowVersion", "MLflow version") = "3.0"  # type: ignore[valid-type]
    """MLflow version SageMaker should run."""
    size: AwsEnum("TrackingServerSize", "tracking server size") = "Small"  # type: ignore[valid-type]
    """Small, Medium or Large."""


class Settings(SpecModel):
    """What differs between environments besides sizes: account, tier and safety rails.
    Set per environment in `environments.<name>.settings`."""

    account_id: AccountId | None = None
    """AWS account the environment deploys into."""
    tier: Literal["dev", "staging", "prod"] | None = None
    """Which rules apply. Defaults to the environment's name when that is dev, staging or prod."""
    protect_stateful: bool | None = None
    """Protect and retain buckets, keys, feature groups and package groups. Default: on in prod."""
    allow_auto_approval: bool | None = None
    """May models registered here be approved automatically? Default: only in dev."""
