"""Wiring of serving: which model version each endpoint deploys, and the endpoints themselves.

The version is resolved when the program runs: against the live registry (boto3) under
`pulumi up`/`preview`, and offline under `mlstack plan`/`check` from a registry snapshot
(`--registry-snapshot`) or an explicit stand-in — offline never calls AWS. The choice
(version, ARN, source) is exported as the stack output `model_versions`, so every plan
shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi

from mlstack.components.endpoint import (
    AlarmArgs,
    AutoscalingArgs,
    DataCaptureArgs,
    Endpoint,
    EndpointArgs,
    RolloutArgs,
    VariantArgs,
)
from mlstack.components.foundation import Foundation
from mlstack.components.k8s_serving import KubernetesServing, KubernetesServingArgs
from mlstack.pipelines import layout
from mlstack.registry.versions import (
    LiveRegistry,
    ResolvedVersion,
    SnapshotRegistry,
    VersionResolutionError,
    resolve,
    stand_in,
)
from mlstack.spec import EnvironmentSpec, ModelSpec, Problem, SpecError
from mlstack.spec.naming import Names, fit

LIVE = "live"
STAND_IN = "stand-in"

# The rollback alarms of an endpoint, by role (monitoring adds its own alarms).
ROLLBACK_ALARMS = ("latency-p99", "error-5xx-rate", "model-errors")


@dataclass(frozen=True)
class ServingChoice:
    """What one model serves: the resolved version per variant (and shadow)."""

    primary: ResolvedVersion
    variants: dict[str, ResolvedVersion]
    shadow: ResolvedVersion | None

    @property
    def warning(self) -> str | None:
        return self.primary.warning


def registry_for(setting: str | None, env: EnvironmentSpec, names: Names):  # type: ignore[no-untyped-def]
    """The registry to resolve against: live (boto3), a snapshot file, or the offline stand-in."""
    if not setting or setting == LIVE:
        import boto3

        return LiveRegistry(boto3.client("sagemaker", region_name=names.region), account_id=env.account_id)
    if setting == STAND_IN:
        return None
    return SnapshotRegistry.load(Path(setting))


def resolve_one(  # type: ignore[no-untyped-def]
    registry, env: EnvironmentSpec, names: Names, model: ModelSpec, pinned: int | None, *, shadow: bool = False
):
    group = names.model_package_group(model.name)
    serving = model.serving
    assert serving is not None
    if registry is None:
        return stand_in(
            group, names.region, env.account_id, version=pinned or 1, bucket=names.artifact_bucket(), model=model.name
        )
    return resolve(
        registry,
        group,
        pinned=pinned,
        # A shadow's answers never reach users: a pending candidate may be shadow-tested anywhere.
        require_approved=env.tier in ("staging", "prod") and not shadow,
        when_unapproved=serving.when_unapproved,
        model=model.name,
        environment=env.name,
        on_skip=pulumi.log.warn,
    )


def resolve_serving(  # type: ignore[no-untyped-def]
    env: EnvironmentSpec, names: Names, registry
) -> dict[str, ServingChoice | None]:
    """The version each served model deploys; None where the spec says to skip. Raises SpecError.
    `registry`: what `registry_for` gives."""
    choices: dict[str, ServingChoice | None] = {}
    problems: list[Problem] = _kubernetes_problems(env)
    for index, model in enumerate(env.spec.models):
        serving = model.serving
        if not serving or not serving.enabled:
            continue
        try:
            primary = resolve_one(registry, env, names, model, serving.model_version)
            if primary is None:
                choices[model.name] = None
                continue
            variants = {
                v.name: (resolve_one(registry, env, names, model, v.model_version) if v.model_version else primary)
                for v in serving.variants
            }
            shadow = (
                resolve_one(registry, env, names, model, serving.shadow.model_version, shadow=True)
                if serving.shadow
                else None
            )
            choices[model.name] = ServingChoice(primary, variants, shadow)
        except VersionResolutionError as exc:
            problems.append(env.problem(("models", index, "serving"), str(exc)))
    if problems:
        raise SpecError(problems)
    return choices


def _kubernetes_problems(env: EnvironmentSpec) -> list[Problem]:
    """What the spec alone cannot check: the role mlstack creates is created in the environment's
    account, and IAM lets a role trust only an OIDC provider of its own account."""
    problems = []
    for index, model in enumerate(env.spec.models):
        k8s = model.serving.kubernetes if model.serving and model.serving.enabled else None
        if k8s is None or k8s.oidc_provider_arn is None:
            continue
        account = k8s.oidc_provider_arn.split(":")[4]
        if account != env.account_id:
            problems.append(
                env.problem(
                    ("models", index, "serving", "kubernetes", "oidc_provider_arn"),
                    f"the OIDC provider is in account {account}, but environment {env.name} deploys to "
                    f"{env.account_id}: the IRSA role mlstack creates there can only trust a provider of "
                    "that account (register the cluster's issuer in it)",
                )
            )
    return problems


def _variant(
    name: str,
    version: ResolvedVersion,
    model: ModelSpec,
    *,
    weight: float = 1.0,
    instance_type: str | None = None,
    instance_count: int | None = None,
) -> VariantArgs:
    serving = model.serving
    assert serving is not None
    serverless = serving.serverless
    return VariantArgs(
        name=name,
        model_package_arn=version.arn,
        weight=weight,
        instance_type=None if serverless else (instance_type or serving.instance_type),
        instance_count=instance_count or serving.instance_count,
        serverless_memory_mb=serverless.memory_size_mb if serverless else None,
        serverless_max_concurrency=serverless.max_concurrency if serverless else 5,
    )


def build_endpoint(
    env: EnvironmentSpec,
    names: Names,
    tags: dict[str, str],
    foundation: Foundation,
    *,
    model: ModelSpec,
    choice: ServingChoice,
    alarm_actions: Sequence[pulumi.Input[str]] = (),
) -> Endpoint:
    serving = model.serving
    assert serving is not None
    if serving.variants:
        variants = [
            _variant(
                v.name,
                choice.variants[v.name],
                model,
                weight=v.weight,
                instance_type=v.instance_type,
                instance_count=v.instance_count,
            )
            for v in serving.variants
        ]
    else:
        variants = [_variant("primary", choice.primary, model)]
    shadow = None
    if serving.shadow and choice.shadow:
        shadow = _variant(
            "shadow", choice.shadow, model, 1.0, serving.shadow.instance_type, serving.shadow.instance_count
        )
    alarms = model.monitoring.alarms
    capture = serving.data_capture
    rollout = serving.rollout
    return Endpoint(
        f"{model.name}-serving",
        EndpointArgs(
            endpoint_name=names.endpoint(model.name),
            name_prefix=fit(names.sagemaker(model.name), 40),
            execution_role_arn=foundation.role.arn,
            kms_key_arn=foundation.key.arn,
            variants=variants,
            shadow=shadow,
            network_isolation=serving.serverless is None,
            vpc_subnet_ids=env.spec.subnet_ids,
            vpc_security_group_ids=env.spec.security_group_ids,
            data_capture=DataCaptureArgs(
                destination_s3_uri=layout.data_capture_prefix(names.artifact_bucket(), model.name),
                sampling_percentage=capture.sampling_percentage,
                capture=capture.capture,
            )
            if capture.enabled and serving.serverless is None
            else None,
            rollout=RolloutArgs(
                strategy=rollout.strategy,
                canary_percent=rollout.canary_percent,
                linear_step_percent=rollout.linear_step_percent,
                wait_seconds=rollout.wait_seconds,
                termination_wait_seconds=rollout.termination_wait_seconds,
                maximum_execution_timeout_seconds=rollout.maximum_execution_timeout_seconds,
            ),
            rollback_on_alarms=rollout.rollback_on_alarms,
            alarms=AlarmArgs(
                latency_p99_ms=alarms.latency_p99_ms,
                error_5xx_percent=alarms.error_5xx_percent,
                model_errors=alarms.model_errors,
                evaluation_periods=alarms.evaluation_periods,
                period_seconds=alarms.period_seconds,
                names={key: names.alarm(model.name, key) for key in ROLLBACK_ALARMS},
                actions=list(alarm_actions),
            ),
            autoscaling=AutoscalingArgs(
                min_capacity=serving.autoscaling.min_capacity,
                max_capacity=serving.autoscaling.max_capacity,
                target_invocations_per_instance=serving.autoscaling.target_invocations_per_instance,
                scale_in_cooldown_seconds=serving.autoscaling.scale_in_cooldown_seconds,
                scale_out_cooldown_seconds=serving.autoscaling.scale_out_cooldown_seconds,
            )
            if serving.autoscaling.enabled
            else None,
            tags=tags,
        ),
    )


def version_output(choices: dict[str, ServingChoice | None]) -> dict[str, object]:
    """The `model_versions` stack output: what each model deploys, and from where."""
    out: dict[str, object] = {}
    for name, choice in sorted(choices.items()):
        if choice is None:
            out[name] = {"skipped": True}
            continue
        out[name] = {
            "version": choice.primary.version,
            "arn": choice.primary.arn,
            "status": choice.primary.approval_status,
            "source": choice.primary.source,
            **({"warning": choice.warning} if choice.warning else {}),
        }
    return out


def warn(choices: dict[str, ServingChoice | None]) -> None:
    for name, choice in sorted(choices.items()):
        if choice is None:
            pulumi.log.warn(f"{name}: no approved version to deploy; the endpoint is skipped (when_unapproved: skip)")
        elif choice.warning:
            pulumi.log.warn(f"{name}: {choice.warning}")


def build_kubernetes(
    names: Names,
    tags: dict[str, str],
    *,
    model: ModelSpec,
    choice: ServingChoice,
    provider: pulumi.ProviderResource,
    kms_key_arn: pulumi.Input[str] | None = None,
) -> KubernetesServing:
    """Serve `model` on Kubernetes. Without `iam_role_arn` in the spec the component creates the pods'
    IRSA role, trusted through the spec's `oidc_provider_arn`: it may read the model's artifacts
    (`models/<model>/` of the artifact bucket) and decrypt them through S3 with the project key —
    `kms_key_arn`, or by default the key the project's alias names."""
    serving = model.serving
    assert serving is not None and serving.kubernetes is not None
    k8s = serving.kubernetes
    prefix = layout.artifacts_prefix(names.artifact_bucket(), model.name)
    artifact = choice.primary.model_data_url or f"{prefix}/model.tar.gz"
    max_replicas = max(k8s.max_replicas, k8s.replicas)
    return KubernetesServing(
        f"{model.name}-k8s",
        KubernetesServingArgs(
            namespace=k8s.namespace,
            app_name=model.name,
            model_name=model.name,
            model_version=str(choice.primary.version),
            image=k8s.image,
            model_data_uri=artifact,
            runtime=k8s.runtime,
            container_port=k8s.port,
            role_arn=k8s.iam_role_arn,
            # The spec gives one of the two; with the provider the component creates the role:
            oidc_provider_arn=k8s.oidc_provider_arn,
            role_name=names.role(f"{model.name}-k8s-serving"),
            # every version of the model, so a new version needs no IAM change (an artifact the registry
            # keeps elsewhere is granted alone), decrypted through S3 with the project key.
            artifact_read_prefix=prefix if artifact.startswith(f"{prefix}/") else None,
            kms_key_arn=kms_key_arn or f"arn:aws:kms:{names.region}:{names.account_id}:{names.kms_alias()}",
            region=names.region,
            replicas=k8s.replicas,
            min_replicas=k8s.replicas,
            max_replicas=max_replicas,
            cpu_request=k8s.cpu,
            memory_request=k8s.memory,
            memory_limit=k8s.memory,
            labels=tags,
            tags=tags,
        ),
        pulumi.ResourceOptions(provider=provider),
    )
