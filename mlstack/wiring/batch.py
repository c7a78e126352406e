"""Wiring of batch scoring: which version each model scores with, and its batch pipeline.

The version is resolved like real-time serving's (`wiring.serving`): pinned by
`serving.batch.model_version`, else the latest Approved, and only Approved ones in staging
and prod. The choice is part of the `model_versions` stack output, under `batch`.
"""

from __future__ import annotations

from dataclasses import replace

import pulumi

from mlstack import shared_package_dir
from mlstack.components.batch_scoring import BatchScoring, BatchScoringArgs
from mlstack.components.feature_store import FeatureStore
from mlstack.components.foundation import Foundation
from mlstack.components.notification_topic import NotificationTopic, NotificationTopicArgs
from mlstack.pipelines import layout
from mlstack.pipelines.batch_builder import MONITOR_SCRIPT, PREPARE_SCRIPT
from mlstack.pipelines.batch_inputs import BatchMonitor, BatchPipelineInputs, FeatureGroupSource
from mlstack.pipelines.inputs import Vpc
from mlstack.registry.versions import ResolvedVersion, VersionResolutionError
from mlstack.spec import EnvironmentSpec, ModelSpec, Problem, SpecError
from mlstack.spec.naming import Names
from mlstack.wiring.monitoring import MAX_DRIFT_METRIC, training_baseline
from mlstack.wiring.pipeline_cache import definition_soon
from mlstack.wiring.serving import ServingChoice, registry_for, resolve_one, resolve_serving

STEPS_DIR = shared_package_dir("pipelines") / "steps"


def resolve_versions(
    env: EnvironmentSpec, names: Names, setting: str | None
) -> tuple[dict[str, ServingChoice | None], dict[str, ResolvedVersion | None]]:
    """What each model serves in real time and scores in batch, from one registry (`setting`:
    live, a snapshot file or the stand-in); every problem of both at once as one SpecError."""
    registry = registry_for(setting, env, names)
    problems: list[Problem] = []
    choices: dict[str, ServingChoice | None] = {}
    chosen: dict[str, ResolvedVersion | None] = {}
    try:
        choices = resolve_serving(env, names, registry)
    except SpecError as error:
        problems += error.problems
    try:
        chosen = resolve_batch(env, names, registry)
    except SpecError as error:
        problems += error.problems
    if problems:
        raise SpecError(problems)
    return choices, chosen


def resolve_batch(  # type: ignore[no-untyped-def]
    env: EnvironmentSpec, names: Names, registry
) -> dict[str, ResolvedVersion | None]:
    """The version each batch-scored model scores with; None where the spec says to skip. Raises SpecError.
    `registry`: what `registry_for` gives."""
    batch_models = [(i, m) for i, m in enumerate(env.spec.models) if m.serving and m.serving.batch]
    chosen: dict[str, ResolvedVersion | None] = {}
    problems: list[Problem] = []
    for index, model in batch_models:
        assert model.serving is not None and model.serving.batch is not None
        try:
            chosen[model.name] = resolve_one(registry, env, names, model, model.serving.batch.model_version)
        except VersionResolutionError as exc:
            problems.append(env.problem(("models", index, "serving", "batch"), str(exc)))
    if problems:
        raise SpecError(problems)
    return chosen


def batch_output(chosen: dict[str, ResolvedVersion | None]) -> dict[str, object]:
    """The `batch` part of the `model_versions` stack output."""
    return {
        name: {"skipped": True}
        if version is None
        else {"version": version.version, "arn": version.arn, "status": version.approval_status}
        for name, version in sorted(chosen.items())
    }


def build_batch(
    env: EnvironmentSpec,
    names: Names,
    tags: dict[str, str],
    foundation: Foundation,
    *,
    model: ModelSpec,
    version: ResolvedVersion,
    feature_store: FeatureStore | None,
    alarm_topic_arn: pulumi.Input[str] | None,
) -> BatchScoring:
    """The model's batch pipeline, its triggers and its failure alarm (to `alarm_topic_arn`, or a
    topic of its own for a model without real-time alerting)."""
    assert model.serving is not None and model.serving.batch is not None
    batch = model.serving.batch
    bucket = names.artifact_bucket()
    artifact = version.model_data_url or f"{layout.artifacts_prefix(bucket, model.name)}/model.tar.gz"
    output = batch.output_s3_uri or f"{layout.batch_prefix(bucket, model.name)}/output"
    job_role = names.role(f"{model.name}-batch-job")
    publish = names.batch_publish_function(model.name)
    monitor = None
    reads = [artifact.rsplit("/", 1)[0]]
    if batch.monitor:
        at = ("models", env.spec.models.index(model), "serving", "batch", "monitor")
        baseline = training_baseline(env, version, at, "set monitor: false")
        reads.append(baseline)
        alarms = model.monitoring.alarms
        monitor = BatchMonitor(
            baseline_s3_uri=baseline,
            publish_function_arn=f"arn:aws:lambda:{names.region}:{env.account_id}:function:{publish}",
            metrics_namespace=names.metrics_namespace(),
            drift_threshold=alarms.drift_threshold,
            probability_threshold=model.monitoring.model_quality.probability_threshold,
            instance_type=model.monitoring.data_quality.instance_type,
            max_runtime_seconds=model.monitoring.data_quality.max_runtime_seconds,
            tracking_server_arn=names.mlflow_server_arn() if env.spec.mlflow.enabled else None,
        )
    source = None
    store: pulumi.Input[str] = "s3://pending/offline-store"
    if batch.feature_group is not None:
        group = env.spec.feature_group(batch.feature_group)
        assert group is not None and feature_store is not None  # checked by the spec
        store = feature_store.offline_data_uri(group.name)
        source = FeatureGroupSource(
            offline_store_s3_uri="s3://pending/offline-store",
            record_identifier=group.record_identifier,
            event_time=group.event_time,
        )
    else:
        assert batch.input_s3_uri is not None
        reads.append(batch.input_s3_uri)
    network = env.spec.network
    placeholder = BatchPipelineInputs(
        pipeline_name=names.batch_pipeline(model.name),
        model_name=model.name,
        region=names.region,
        bucket=bucket,
        role_arn=f"arn:aws:iam::{env.account_id}:role/{job_role}",
        kms_key_arn="arn:aws:kms:pending",
        model_package_arn=version.arn,
        model_data_url=artifact,
        problem_type=model.problem_type,
        output_s3_uri=output,
        input_s3_uri=batch.input_s3_uri,
        feature_group=source,
        content_type=batch.content_type,
        strategy=batch.strategy,
        instance_type=batch.instance_type,
        instance_count=batch.instance_count,
        max_payload_mb=batch.max_payload_mb,
        max_concurrent_transforms=batch.max_concurrent_transforms,
        processing_instance_type=model.training.processing_instance_type,
        monitor=monitor,
        vpc=Vpc(subnet_ids=network.subnet_ids, security_group_ids=network.security_group_ids) if network else None,
        tags=tags,
    )

    def definition(values: list[str]) -> object:
        key, offline = values
        chosen = replace(placeholder, kms_key_arn=key)
        if source is not None:
            chosen = replace(chosen, feature_group=replace(source, offline_store_s3_uri=offline))
        return definition_soon(chosen)

    topic = alarm_topic_arn
    if topic is None:
        topic = NotificationTopic(
            f"{model.name}-batch-alerts",
            NotificationTopicArgs(
                topic_name=names.topic(f"{model.name}-batch-alerts"),
                kms_key_arn=foundation.key.arn,
                account_id=env.account_id,
                publishers=["cloudwatch.amazonaws.com"],
                subscribers=[(s.protocol, s.endpoint) for s in env.spec.alerts.subscribers],
                tags=tags,
            ),
        ).arn
    if batch.feature_group is not None:
        # Where SageMaker writes this group's offline store: <prefix>/<account>/sagemaker/<region>/
        # offline-store/<group>-<creation time>/data (the time is known only once it exists).
        group_name = names.feature_group(batch.feature_group)
        reads.append(
            f"s3://{bucket}/feature-store/{env.account_id}/sagemaker/{names.region}/offline-store/{group_name}-"
        )
    scripts = [STEPS_DIR / MONITOR_SCRIPT] if monitor else []
    if source is not None:
        scripts.append(STEPS_DIR / PREPARE_SCRIPT)
    return BatchScoring(
        f"{model.name}-batch",
        BatchScoringArgs(
            pipeline_name=placeholder.pipeline_name,
            definition=pulumi.Output.all(foundation.key.arn, store).apply(definition),
            model_name=model.name,
            model_package_arn=version.arn,
            account_id=env.account_id,
            region=names.region,
            bucket_name=foundation.bucket.name,
            bucket_arn=foundation.bucket.arn,
            kms_key_arn=foundation.key.arn,
            job_role_name=job_role,
            pipeline_role_name=names.role(f"{model.name}-batch-pipeline"),
            read_prefixes=reads,
            output_s3_uri=output,
            scripts=scripts,
            schedule_expression=batch.schedule,
            schedule_name=names.batch_schedule(model.name) if batch.schedule else None,
            scheduler_role_name=names.role(f"{model.name}-batch-schedule") if batch.schedule else None,
            input_rule_name=names.event_rule(f"{model.name}-batch-input") if batch.on_new_input else None,
            input_rule_role_name=names.role(f"{model.name}-batch-input") if batch.on_new_input else None,
            input_s3_uri=batch.input_s3_uri,
            publish_function_name=publish if monitor else None,
            lambda_script=STEPS_DIR / "monitor_lambda.py" if monitor else None,
            metrics_namespace=names.metrics_namespace() if monitor else None,
            tracking_server_arn=monitor.tracking_server_arn if monitor else None,
            alarm_topic_arn=topic,
            failed_alarm_name=names.alarm(model.name, "batch-failed"),
            drift_alarm_name=names.batch_drift_alarm(model.name) if monitor else None,
            drift_metric_name=MAX_DRIFT_METRIC,
            drift_threshold=model.monitoring.alarms.drift_threshold,
            vpc_subnet_ids=env.spec.subnet_ids,
            vpc_security_group_ids=env.spec.security_group_ids,
            log_retention_days=365,
            tags=tags,
        ),
    )
