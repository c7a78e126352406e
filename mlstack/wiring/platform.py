"""Wiring: one environment of the spec -> the components that implement it.

This is the only place that knows both the spec and the components. Components
get plain, typed arguments (names, ARNs, tags, flags) and never see the spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as kubernetes

from mlstack.components.alerting import ModelAlerting
from mlstack.components.batch_scoring import BatchScoring
from mlstack.components.endpoint import Endpoint
from mlstack.components.feature_store import FeatureGroupArgs, FeatureStore, FeatureStoreArgs
from mlstack.components.foundation import Foundation, FoundationArgs
from mlstack.components.k8s_serving import KubernetesServing
from mlstack.components.mlflow_server import MlflowServer, MlflowServerArgs
from mlstack.components.model_registry import ModelCardArgs, ModelRegistry, ModelRegistryArgs
from mlstack.components.training import TrainingPipeline
from mlstack.spec import EnvironmentSpec, ModelSpec
from mlstack.spec.naming import Names, required_tags
from mlstack.wiring.batch import batch_output, build_batch, resolve_versions
from mlstack.wiring.monitoring import build_alerting, build_monitor, build_prometheus, build_quality_monitors
from mlstack.wiring.serving import (
    ServingChoice,
    build_endpoint,
    build_kubernetes,
    version_output,
    warn,
)
from mlstack.wiring.training import build_training, check_scripts


@dataclass(frozen=True)
class Platform:
    names: Names
    tags: dict[str, str]
    foundation: Foundation
    feature_store: FeatureStore | None = None
    registries: dict[str, ModelRegistry] = field(default_factory=dict)
    mlflow: MlflowServer | None = None
    training: dict[str, TrainingPipeline] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    kubernetes: dict[str, KubernetesServing] = field(default_factory=dict)
    batch: dict[str, BatchScoring] = field(default_factory=dict)


def build_platform(env: EnvironmentSpec, region: str, registry: str | None = None) -> Platform:
    """Everything one environment deploys. `registry`: "live" (default), "stand-in" or a snapshot file."""
    check_scripts(env)
    names = Names.for_environment(env, region)
    tags = required_tags(env)
    choices, batch_versions = resolve_versions(env, names, registry)
    foundation = Foundation(
        "foundation",
        FoundationArgs(
            account_id=env.account_id,
            region=region,
            key_alias=names.kms_alias(),
            bucket_name=names.artifact_bucket(),
            role_name=names.sagemaker_role(),
            tags=tags,
            protect=env.protect_stateful,
            share_models_with=_accounts_to_share_with(env),
            vpc_subnet_ids=env.spec.subnet_ids,
            vpc_security_group_ids=env.spec.security_group_ids,
        ),
    )
    feature_store = _feature_store(env, names, tags, foundation, region)
    registries = {m.name: _registry(env, names, tags, foundation, model=m, region=region) for m in env.spec.models}
    training = {
        m.name: build_training(
            env, names, tags, foundation, feature_store=feature_store, model=m, registry=registries[m.name]
        )
        for m in env.spec.models
    }
    endpoints, k8s, alerting = _serving(env, names, tags, foundation, choices)
    models = {m.name: m for m in env.spec.models}
    batch = {
        name: build_batch(
            env,
            names,
            tags,
            foundation,
            model=models[name],
            version=version,
            feature_store=feature_store,
            alarm_topic_arn=alerting[name].topic_arn if name in alerting else None,
        )
        for name, version in batch_versions.items()
        if version is not None
    }
    platform = Platform(
        names=names,
        tags=tags,
        foundation=foundation,
        feature_store=feature_store,
        registries=registries,
        mlflow=_mlflow(env, names, tags, foundation),
        training=training,
        endpoints=endpoints,
        kubernetes=k8s,
        batch=batch,
    )
    pulumi.export("environment", env.name)
    pulumi.export("artifact_bucket", foundation.bucket.name)
    pulumi.export("kms_key_arn", foundation.key.arn)
    pulumi.export("sagemaker_role_arn", foundation.role.arn)
    pulumi.export("model_package_groups", {k: r.group_name for k, r in platform.registries.items()})
    if platform.feature_store:
        pulumi.export("feature_groups", platform.feature_store.arns)
    pulumi.export("training_pipelines", {k: t.arn for k, t in training.items()})
    versions = version_output(choices)
    for name, chosen in batch_output(batch_versions).items():  # a model's batch version sits beside its endpoint's
        versions[name] = {**(versions.get(name) or {}), "batch": chosen}  # type: ignore[dict-item]
    pulumi.export("model_versions", versions)
    if batch:
        pulumi.export("batch_pipelines", {k: b.pipeline.arn for k, b in batch.items()})
    pulumi.export("endpoints", {k: e.endpoint.name for k, e in endpoints.items()})
    warn(choices)
    if platform.mlflow:
        pulumi.export("mlflow_tracking_server_arn", platform.mlflow.arn)
    return platform


def _serving(
    env: EnvironmentSpec,
    names: Names,
    tags: dict[str, str],
    foundation: Foundation,
    choices: dict[str, ServingChoice | None],
) -> tuple[dict[str, Endpoint], dict[str, KubernetesServing], dict[str, ModelAlerting]]:
    endpoints: dict[str, Endpoint] = {}
    k8s: dict[str, KubernetesServing] = {}
    alerts: dict[str, ModelAlerting] = {}
    provider: pulumi.ProviderResource | None = None
    for model in env.spec.models:
        choice = choices.get(model.name)
        if choice is None or model.serving is None:
            continue
        if model.serving.target == "sagemaker":
            # Alerts first: the endpoint's rollback alarms notify its topic.
            alerting = build_alerting(env, names, tags, foundation, model=model)
            if alerting:
                alerts[model.name] = alerting
            actions = [alerting.topic_arn] if alerting else []
            endpoint = build_endpoint(env, names, tags, foundation, model=model, choice=choice, alarm_actions=actions)
            endpoints[model.name] = endpoint
            build_monitor(
                env, names, tags, foundation, model=model, choice=choice, endpoint=endpoint, alerting=alerting
            )
            build_quality_monitors(env, names, tags, foundation, model=model, endpoint=endpoint)
        else:
            if provider is None:
                # The cluster comes from the stack config (mlstack:kubeContext) or the ambient kubeconfig.
                context = pulumi.Config("mlstack").get("kubeContext")
                provider = kubernetes.Provider("kubernetes", context=context)
            k8s[model.name] = build_kubernetes(
                names, tags, model=model, choice=choice, provider=provider, kms_key_arn=foundation.key.arn
            )
            build_prometheus(model, tags, k8s[model.name], provider)
    return endpoints, k8s, alerts


def _accounts_to_share_with(env: EnvironmentSpec) -> list[str]:
    """Every account some model is shared with, except this environment's own."""
    accounts = {a for m in env.spec.models for a in m.registry.share_with_accounts}
    return sorted(accounts - {env.account_id})


def _feature_store(
    env: EnvironmentSpec, names: Names, tags: dict[str, str], foundation: Foundation, region: str
) -> FeatureStore | None:
    groups = env.spec.feature_groups
    if not groups:
        return None
    return FeatureStore(
        "feature-store",
        FeatureStoreArgs(
            groups=[
                FeatureGroupArgs(
                    key=group.name,
                    name=names.feature_group(group.name),
                    description=group.description,
                    record_identifier=group.record_identifier,
                    event_time=group.event_time,
                    features=[(f.name, f.type) for f in group.features],
                    online_store=group.online_store.enabled,
                    ttl=(group.online_store.ttl, group.online_store.ttl_unit) if group.online_store.ttl else None,
                    offline_store=group.offline_store.enabled,
                    table_format=group.offline_store.table_format,
                    throughput_mode=group.throughput_mode,
                )
                for group in groups
            ],
            role_arn=foundation.role.arn,
            role_name=foundation.role.name,
            kms_key_arn=foundation.key.arn,
            offline_store_s3_uri=pulumi.Output.concat("s3://", foundation.bucket.name, "/feature-store"),
            region=region,
            account_id=env.account_id,
            tags=tags,
            protect=env.protect_stateful,
        ),
    )


def _registry(
    env: EnvironmentSpec, names: Names, tags: dict[str, str], foundation: Foundation, *, model: ModelSpec, region: str
) -> ModelRegistry:
    card = model.registry.model_card
    return ModelRegistry(
        f"{model.name}-registry",
        ModelRegistryArgs(
            group_name=names.model_package_group(model.name),
            description=model.description,
            region=region,
            account_id=env.account_id,
            kms_key_arn=foundation.key.arn,
            topic_name=names.topic(f"{model.name}-approvals"),
            rule_name=names.event_rule(f"{model.name}-package-state"),
            share_with_accounts=sorted(set(model.registry.share_with_accounts) - {env.account_id}),
            subscribers=[(s.protocol, s.endpoint) for s in env.spec.alerts.subscribers],
            history_log_group=names.registry_log_group(model.name),
            endpoint_name=(
                names.endpoint(model.name)
                if model.serving is not None and model.serving.target == "sagemaker"
                else None
            ),
            model_card=(
                ModelCardArgs(
                    card_name=names.sagemaker(f"{model.name}-card"),
                    description=card.description,
                    intended_uses=card.intended_uses,
                    owner=card.owner or env.spec.project.owner,
                    risk_rating=card.risk_rating,
                )
                if card
                else None
            ),
            tags=tags,
            protect=env.protect_stateful,
        ),
    )


def _mlflow(env: EnvironmentSpec, names: Names, tags: dict[str, str], foundation: Foundation) -> MlflowServer | None:
    mlflow = env.spec.mlflow
    if not mlflow.enabled:
        return None
    return MlflowServer(
        "mlflow",
        MlflowServerArgs(
            server_name=names.mlflow_server(),
            role_name=names.role("mlflow"),
            bucket_name=foundation.bucket.name,
            kms_key_arn=foundation.key.arn,
            account_id=env.account_id,
            mlflow_version=mlflow.version,
            size=mlflow.size,
            tags=tags,
            protect=env.protect_stateful,
        ),
    )
