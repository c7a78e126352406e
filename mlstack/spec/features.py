"""Feature groups of the SageMaker feature store."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .aws import AwsEnum, AwsString
from .base import Slug, SpecModel, fail

FeatureName = AwsString("FeatureName", "feature name")
FeatureType = AwsEnum("FeatureType", "feature type")

# Names the feature store adds to every offline record; a feature may not use them.
RESERVED_FEATURE_NAMES = frozenset({"is_deleted", "write_time", "api_invocation_time"})


class Feature(SpecModel):
    name: FeatureName  # type: ignore[valid-type]
    """Column name (letters, digits, - and _)."""
    type: FeatureType  # type: ignore[valid-type]
    """Integral, Fractional or String."""
    description: str = Field("", max_length=256)


class OnlineStore(SpecModel):
    enabled: bool = True
    """Low-latency store for inference-time lookups."""
    ttl: int | None = Field(None, ge=1)
    """Records expire after this many `ttl_unit`s. None keeps them."""
    ttl_unit: AwsEnum("TtlDurationUnit", "TTL unit") = "Days"  # type: ignore[valid-type]
    storage_type: Literal["Standard", "InMemory"] = "Standard"
    """InMemory is faster but cannot be encrypted with a customer key, so it is refused."""

    @model_validator(mode="after")
    def _encryptable(self) -> OnlineStore:
        if self.storage_type == "InMemory":
            fail(
                "in_memory",
                "InMemory online stores cannot use a customer-managed KMS key; use Standard",
                at=("storage_type",),
            )
        return self


class OfflineStore(SpecModel):
    enabled: bool = True
    """Historical store in S3 (under the project bucket) for training and audit."""
    table_format: AwsEnum("TableFormat", "table format") = "Iceberg"  # type: ignore[valid-type]
    """Glue or Iceberg table in the Glue data catalog."""


class FeatureGroup(SpecModel):
    name: Slug
    """Feature group name; the physical name is `{project}-{env}-{name}`."""
    description: str = Field("", max_length=128)
    record_identifier: FeatureName  # type: ignore[valid-type]
    """Feature that identifies a record (String or Integral)."""
    event_time: FeatureName  # type: ignore[valid-type]
    """Feature that holds the record's event time (String ISO-8601 or Fractional epoch)."""
    features: list[Feature] = Field(min_length=2, max_length=2500)
    """All features, including the record identifier and event time."""
    online_store: OnlineStore = OnlineStore()
    offline_store: OfflineStore = OfflineStore()
    throughput_mode: AwsEnum("ThroughputMode", "throughput mode") = "OnDemand"  # type: ignore[valid-type]

    def feature(self, name: str) -> Feature | None:
        return next((f for f in self.features if f.name == name), None)

    @model_validator(mode="after")
    def _consistent(self) -> FeatureGroup:
        seen: set[str] = set()
        for index, feature in enumerate(self.features):
            at = ("features", index, "name")
            if feature.name.lower() in seen:
                fail("duplicate", "feature '{name}' is defined twice", at=at, name=feature.name)
            seen.add(feature.name.lower())
            if feature.name in RESERVED_FEATURE_NAMES:
                fail(
                    "reserved",
                    "feature name '{name}' is reserved by the feature store",
                    at=at,
                    name=feature.name,
                )
        for role, name, types in (
            ("record_identifier", self.record_identifier, ("String", "Integral")),
            ("event_time", self.event_time, ("String", "Fractional")),
        ):
            feature = self.feature(name)
            if feature is None:
                fail("unknown_feature", "'{name}' is not one of the features", at=(role,), name=name)
            if feature.type not in types:
                fail(
                    "feature_type",
                    "'{name}' must be of type {types}, not {type}",
                    at=(role,),
                    name=name,
                    types=" or ".join(types),
                    type=feature.type,
                )
        if not (self.online_store.enabled or self.offline_store.enabled):
            fail(
                "no_store",
                "enable the online store, the offline store, or both",
                at=("online_store",),
            )
        return self
