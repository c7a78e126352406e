"""The whole project spec, and the rules that depend on the environment."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from pydantic import Field, ValidationInfo, model_validator

from . import hyperparameters as bundled
from .aws import AwsEnum
from .base import EnvironmentName, Slug, SpecModel, fail
from .errors import format_path
from .features import FeatureGroup
from .locate import did_you_mean, locate
from .monitoring import Monitoring
from .project import Alerts, Mlflow, Network, Project, Settings
from .serving import Serving
from .step_scripts import bundled_script, literals
from .training import DataSource, EvaluationGate, Registry, Training

Tier = Literal["dev", "staging", "prod"]
TIERS: tuple[str, ...] = ("dev", "staging", "prod")


@cache
def evaluation_metrics() -> dict[str, tuple[str, ...]]:
    """Per problem type, the metrics the bundled evaluation step writes: evaluate.py's METRICS."""
    return literals(bundled_script("evaluate.py"), {"METRICS"})["METRICS"]  # type: ignore[return-value]


class ModelSpec(SpecModel):
    name: Slug
    """Model name; its package group, pipeline and endpoint are named after it."""
    description: str = Field("", max_length=1024)
    problem_type: AwsEnum("ProblemType", "problem type") = "BinaryClassification"  # type: ignore[valid-type]
    """BinaryClassification, MulticlassClassification or Regression: picks metrics and monitors."""
    data: DataSource
    training: Training
    evaluation: EvaluationGate
    registry: Registry = Registry()
    serving: Serving | None = None
    """None = train and register only."""
    monitoring: Monitoring = Monitoring()

    @model_validator(mode="after")
    def _training_fits(self) -> ModelSpec:
        training = self.training
        if training.entry_point != bundled.BUNDLED_ENTRY_POINT:
            return self
        for key, kind, message in bundled.fit_problems(training.hyperparameters, training.framework, self.problem_type):
            fail(kind, "{message}", at=("training", "hyperparameters", key), message=message)
        return self

    @model_validator(mode="after")
    def _gate_metric_exists(self) -> ModelSpec:
        written = evaluation_metrics()[self.problem_type]
        if self.evaluation.metric not in written:
            fail(
                "metric",
                "the evaluation step writes no '{metric}' for {problem} models (it writes: {written})",
                at=("evaluation", "metric"),
                metric=self.evaluation.metric,
                problem=self.problem_type,
                written=", ".join(written),
            )
        return self


class ProjectSpec(SpecModel):
    """One ML project, as deployed to one environment (base merged with its overlay)."""

    version: Literal[1] = 1
    """Spec format version."""
    project: Project
    settings: Settings = Settings()
    network: Network | None = None
    """VPC placement; None = SageMaker-managed networking."""
    alerts: Alerts = Alerts()
    feature_groups: list[FeatureGroup] = Field(default_factory=list, max_length=50)
    models: list[ModelSpec] = Field(default_factory=list, max_length=50)
    mlflow: Mlflow = Mlflow()

    def feature_group(self, name: str) -> FeatureGroup | None:
        return next((g for g in self.feature_groups if g.name == name), None)

    @property
    def subnet_ids(self) -> tuple[str, ...]:
        """VPC subnets for jobs and models; empty without a `network` section."""
        return tuple(self.network.subnet_ids) if self.network else ()

    @property
    def security_group_ids(self) -> tuple[str, ...]:
        return tuple(self.network.security_group_ids) if self.network else ()

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> ProjectSpec:
        tree = (info.context or {}).get("tree")
        for kind, section, items in (
            ("feature group", "feature_groups", self.feature_groups),
            ("model", "models", self.models),
        ):
            names = [item.name for item in items]
            for index, name in enumerate(names):
                first = names.index(name)
                if first != index:
                    fail(
                        "duplicate",
                        "{kind} '{name}' is defined twice (first at {first})",
                        at=(section, index, "name"),
                        kind=kind,
                        name=name,
                        first=_where(tree, (section, first, "name")),
                    )
        for index, model in enumerate(self.models):
            _check_data_source(self, index, model.data)
            if model.serving and model.serving.batch:
                _check_batch_source(self, index, model.serving.batch.feature_group)
        return self

    @model_validator(mode="after")
    def _environment_rules(self, info: ValidationInfo) -> ProjectSpec:
        context: dict[str, Any] = info.context or {}
        environment = context.get("environment")
        if environment is None:
            return self
        tier = self.settings.tier or (environment if environment in TIERS else None)
        if tier is None:
            fail(
                "tier",
                "environment '{env}' is not dev, staging or prod: set settings.tier to say which rules apply",
                at=("settings",),
                env=environment,
            )
        if self.settings.account_id is None:
            fail("account", "every environment needs settings.account_id", at=("settings",))
        auto_ok = self.settings.allow_auto_approval
        auto_ok = tier == "dev" if auto_ok is None else auto_ok
        for index, model in enumerate(self.models):
            if model.registry.approval == "auto" and not auto_ok:
                fail(
                    "approval",
                    "auto-approval is not allowed in {tier} (settings.allow_auto_approval); use manual",
                    at=("models", index, "registry", "approval"),
                    tier=tier,
                )
            if model.serving and model.serving.enabled:
                _check_serving_tier(tier, index, model.serving)
            elif model.serving and model.serving.batch:  # batch scoring only
                _check_approved_only(tier, index, model.serving)
        return self


def _where(tree: Any, parts: tuple[str | int, ...]) -> str:
    """'line N' of `parts` in the YAML tree being validated, or the path without one."""
    if tree is None:
        return format_path(parts)
    (line, _), walked = locate(tree, parts)
    return f"line {line + 1}" if walked == parts else format_path(parts)


def _check_data_source(spec: ProjectSpec, index: int, data: DataSource) -> None:
    found_target = data.s3_uri is not None
    for position, name in enumerate(data.feature_groups):
        group = spec.feature_group(name)
        if group is None:
            known = ", ".join(g.name for g in spec.feature_groups) or "none defined"
            fail(
                "unknown_group",
                "no feature group '{name}' in feature_groups (known: {known})",
                at=("models", index, "data", "feature_groups", position),
                name=name,
                known=known,
            )
        if not group.offline_store.enabled:
            fail(
                "offline_store",
                "feature group '{name}' has no offline store to train from",
                at=("models", index, "data", "feature_groups", position),
                name=name,
            )
        found_target = found_target or group.feature(data.target) is not None
        _check_feature_columns(index, data, group)
    if not found_target:
        fail(
            "target",
            "target '{target}' is not a feature of {groups}",
            at=("models", index, "data", "target"),
            target=data.target,
            groups=", ".join(data.feature_groups),
        )


def _check_batch_source(spec: ProjectSpec, index: int, name: str | None) -> None:
    if name is None:
        return
    at = ("models", index, "serving", "batch", "feature_group")
    group = spec.feature_group(name)
    if group is None:
        known = ", ".join(g.name for g in spec.feature_groups) or "none defined"
        fail(
            "unknown_group",
            "no feature group '{name}' in feature_groups (known: {known})",
            at=at,
            name=name,
            known=known,
        )
    if not group.offline_store.enabled:
        fail("offline_store", "feature group '{name}' has no offline store to score from", at=at, name=name)


def _check_feature_columns(index: int, data: DataSource, group: FeatureGroup) -> None:
    """`categorical` and `exclude` name the group's features, and every text feature is in one of them."""
    names = [feature.name for feature in group.features]
    for field in ("categorical", "exclude"):
        for position, name in enumerate(getattr(data, field)):
            if name not in names:
                fail(
                    "column",
                    "'{name}' is not a feature of feature group '{group}'{hint}",
                    at=("models", index, "data", field, position),
                    name=name,
                    group=group.name,
                    hint=did_you_mean(name, names),
                )
    keys = {group.record_identifier, group.event_time, data.target}
    unlisted = [
        feature.name
        for feature in group.features
        if feature.type == "String"
        and feature.name not in keys
        and feature.name not in data.categorical
        and feature.name not in data.exclude
    ]
    if unlisted:
        fail(
            "text_feature",
            "feature group '{group}' has text feature(s) {names} the model cannot use as numbers: list each "
            "under categorical (encoded as categories) or exclude (not a feature)",
            at=("models", index, "data"),
            group=group.name,
            names=", ".join(unlisted),
        )


def _check_approved_only(tier: str, index: int, serving: Serving) -> None:
    """Endpoints and batch scoring in staging and prod serve Approved versions only."""
    if tier in ("staging", "prod") and serving.when_unapproved != "fail":
        fail(
            "unapproved",
            "only approved versions may be deployed in {tier}: when_unapproved must be fail",
            at=("models", index, "serving", "when_unapproved"),
            tier=tier,
        )


def _check_serving_tier(tier: str, index: int, serving: Serving) -> None:
    at = ("models", index, "serving")
    _check_approved_only(tier, index, serving)
    if tier != "prod" or serving.target != "sagemaker":
        return
    if serving.serverless is not None:
        fail(
            "prod",
            "prod endpoints need data capture and a canary rollout; serverless has neither",
            at=(*at, "serverless"),
        )
    if serving.instance_count < 2:
        fail(
            "prod",
            "prod needs at least 2 instances per production variant, for availability across zones",
            at=(*at, "instance_count"),
        )
    for position, variant in enumerate(serving.variants):
        if variant.instance_count is not None and variant.instance_count < 2:
            fail(
                "prod",
                "prod needs at least 2 instances per production variant",
                at=(*at, "variants", position, "instance_count"),
            )
    if serving.rollout.strategy not in ("CANARY", "LINEAR"):
        fail(
            "prod",
            "prod endpoints must roll out with CANARY or LINEAR, not ALL_AT_ONCE",
            at=(*at, "rollout", "strategy"),
        )
    if not serving.rollout.rollback_on_alarms:
        fail(
            "prod",
            "prod rollouts must roll back automatically on alarms",
            at=(*at, "rollout", "rollback_on_alarms"),
        )
    if not serving.data_capture.enabled:
        fail(
            "prod",
            "prod endpoints must capture inputs and outputs",
            at=(*at, "data_capture", "enabled"),
        )


class SpecFile(ProjectSpec):
    """The file as written: the base spec plus one overlay per environment.

    Overlays are deep-merged into the base (lists of named items merge by `name`)
    and each result is validated as a ProjectSpec.
    """

    environments: dict[EnvironmentName, dict[str, Any]] = Field(min_length=1)
    """Per-environment overlays of any part of the spec above; `settings` usually."""
