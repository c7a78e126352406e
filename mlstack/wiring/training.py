"""Wiring of one model's training pipeline: spec -> pipeline inputs -> TrainingPipeline.

The definition is built inside an `apply` on the two values only known after the
foundation and feature store exist (the key ARN and the offline store's resolved
path), with a disk cache in front of the builder: the SageMaker SDK (~2 s to import)
is loaded only when something the definition depends on changed.
"""

from __future__ import annotations

from dataclasses import replace

import pulumi

from mlstack import shared_package_dir
from mlstack.components.feature_store import FeatureStore
from mlstack.components.foundation import Foundation
from mlstack.components.model_registry import ModelRegistry
from mlstack.components.training import TrainingPipeline, TrainingPipelineArgs
from mlstack.pipelines import layout
from mlstack.pipelines.inputs import TrainingPipelineInputs, Vpc, script_sha256
from mlstack.spec import EnvironmentSpec, ModelSpec, Problem, SpecError
from mlstack.spec.naming import Names
from mlstack.wiring.pipeline_cache import definition_soon

STEPS_DIR = shared_package_dir("pipelines") / "steps"


def has_drift_alarm(model: ModelSpec) -> bool:
    """Whether monitoring creates the data-drift alarm that retraining listens for."""
    serving, monitoring = model.serving, model.monitoring
    return bool(
        serving
        # Model Monitor's drift metrics are per column, known from the feature group; mlstack's
        # monitor publishes one aggregated metric whatever the data source.
        and (model.data.feature_groups or monitoring.engine == "mlstack")
        and serving.enabled
        and serving.target == "sagemaker"
        and serving.serverless is None
        and monitoring.enabled
        and monitoring.data_quality.enabled
    )


def drift_alarm_of(model: ModelSpec, names: Names) -> str | None:
    """The alarm drift-triggered retraining listens to: the endpoint monitor's, else (a model
    scored in batch only) the batch monitor's; None when nothing watches the model for drift."""
    if has_drift_alarm(model):
        return names.drift_alarm(model.name)
    batch = model.serving.batch if model.serving else None
    return names.batch_drift_alarm(model.name) if batch and batch.monitor else None


def tracking_server(env: EnvironmentSpec, names: Names) -> str | None:
    """The project's MLflow tracking server, when the environment has one (deterministic ARN)."""
    return names.mlflow_server_arn() if env.spec.mlflow.enabled else None


def pipeline_inputs(
    env: EnvironmentSpec,
    names: Names,
    model: ModelSpec,
    *,
    kms_key_arn: str,
    data_uri: str,
    tags: dict[str, str] | None = None,
) -> TrainingPipelineInputs:
    """Everything the definition depends on, from the spec and the two deploy-time values."""
    spec = env.spec
    training, data, gate = model.training, model.data, model.evaluation
    drop = tuple(data.exclude)
    feature_group = None
    if data.feature_groups:
        group = spec.feature_group(data.feature_groups[0])
        assert group is not None  # checked by the spec
        feature_group = names.feature_group(group.name)
        keys = (group.record_identifier, group.event_time)
        drop = (*keys, *(name for name in drop if name not in keys))
    network = spec.network
    server = tracking_server(env, names)
    function = f"arn:aws:lambda:{names.region}:{env.account_id}:function:{names.tracking_function(model.name)}"
    return TrainingPipelineInputs(
        pipeline_name=names.pipeline(model.name),
        model_name=model.name,
        region=names.region,
        role_arn=f"arn:aws:iam::{env.account_id}:role/{names.pipeline_role(model.name)}",
        bucket=names.artifact_bucket(),
        kms_key_arn=kms_key_arn,
        framework=training.framework,
        framework_version=training.framework_version,
        py_version=training.py_version,
        entry_point=training.entry_point,
        training_instance_type=training.instance_type,
        training_instance_count=training.instance_count,
        training_volume_size_gb=training.volume_size_gb,
        max_runtime_seconds=training.max_runtime_minutes * 60,
        hyperparameters=dict(training.hyperparameters),
        # The scripts build_training uploads: the lineage records exactly those.
        script_sha256=script_sha256(uploaded_scripts(model), STEPS_DIR),
        use_spot=training.spot.enabled,
        max_wait_seconds=training.spot.max_wait_minutes * 60 if training.spot.enabled else None,
        problem_type=model.problem_type,  # type: ignore[arg-type]
        processing_instance_type=training.processing_instance_type,
        feature_group_s3_uris=(data_uri,) if data.feature_groups else (),
        feature_group_name=feature_group,
        s3_uri=data.s3_uri,
        target=data.target,
        drop_columns=drop,
        categorical_columns=tuple(data.categorical),
        column_names=tuple(data.columns or ()),
        validation_fraction=data.validation_fraction,
        test_fraction=data.test_fraction,
        gate_metric=gate.metric,
        gate_comparison=gate.comparison,
        gate_threshold=gate.threshold,
        model_package_group_name=names.model_package_group(model.name),
        approval_status="Approved" if model.registry.approval == "auto" else "PendingManualApproval",
        tags=tags or {},  # the jobs the pipeline starts carry the project's tags too
        vpc=Vpc(subnet_ids=tuple(network.subnet_ids), security_group_ids=tuple(network.security_group_ids))
        if network
        else None,
        tracking_server_arn=server,
        tracking_function_arn=function if server else None,
    )


def uploaded_scripts(model: ModelSpec) -> list[str]:
    """The step scripts uploaded for a model's pipeline: the bundled ones and its entry point."""
    return sorted({*layout.STEP_SCRIPTS, model.training.entry_point})


def check_scripts(env: EnvironmentSpec) -> None:
    """Every model's entry point must exist beside the bundled step scripts."""
    problems: list[Problem] = []
    for index, model in enumerate(env.spec.models):
        script = STEPS_DIR / model.training.entry_point
        if not script.is_file():
            problems.append(
                env.problem(
                    ("models", index, "training", "entry_point"),
                    f"no script {model.training.entry_point} in pipelines/steps/",
                    key=False,
                )
            )
    if problems:
        raise SpecError(problems)


def build_training(
    env: EnvironmentSpec,
    names: Names,
    tags: dict[str, str],
    foundation: Foundation,
    *,
    feature_store: FeatureStore | None,
    model: ModelSpec,
    registry: ModelRegistry,
) -> TrainingPipeline:
    data = model.data
    if data.feature_groups:
        assert feature_store is not None
        data_uri: pulumi.Input[str] = feature_store.offline_data_uri(data.feature_groups[0])
    else:
        data_uri = data.s3_uri or ""
    placeholder = pipeline_inputs(
        env, names, model, kms_key_arn="arn:aws:kms:pending", data_uri="s3://pending/x", tags=tags
    )

    def definition(values: list[str]) -> str:
        key_arn, uri = values
        inputs = replace(
            placeholder,
            kms_key_arn=key_arn,
            feature_group_s3_uris=(uri,) if data.feature_groups else (),
        )
        return definition_soon(inputs)

    bucket = names.artifact_bucket()
    code_prefix = layout.code_prefix(bucket, model.name).removeprefix(f"s3://{bucket}/")
    server = tracking_server(env, names)
    scripts = uploaded_scripts(model)
    schedule = model.training.schedule
    alarm = drift_alarm_of(model, names) if model.monitoring.retraining.on_drift else None
    return TrainingPipeline(
        f"{model.name}-training",
        TrainingPipelineArgs(
            pipeline_name=names.pipeline(model.name),
            definition=pulumi.Output.all(foundation.key.arn, data_uri).apply(definition),
            role_name=names.pipeline_role(model.name),
            account_id=env.account_id,
            region=names.region,
            bucket_name=foundation.bucket.name,
            kms_key_arn=foundation.key.arn,
            model_package_group_name=names.model_package_group(model.name),
            write_prefixes=[f"pipelines/{model.name}", f"models/{model.name}", f"baselines/{model.name}"],
            read_uris=[data.s3_uri] if data.s3_uri else [],
            code_files={f"{code_prefix}/{script}": STEPS_DIR / script for script in scripts},
            description=model.description,
            schedule_name=names.retrain_schedule(model.name) if schedule else None,
            schedule_expression=schedule,
            trigger_role_name=names.trigger_role(model.name),
            drift_rule_name=names.drift_rule(model.name) if alarm else None,
            drift_alarm_name=alarm,
            vpc_subnet_ids=env.spec.subnet_ids,
            vpc_security_group_ids=env.spec.security_group_ids,
            tracking_server_arn=server,
            tracking_function_name=names.tracking_function(model.name) if server else None,
            tracking_lambda_script=STEPS_DIR / layout.TRACKING_LAMBDA_SCRIPT if server else None,
            tracking_read_prefix=layout.runs_prefix(bucket, model.name).removeprefix(f"s3://{bucket}/")
            if server
            else None,
            tags=tags,
        ),
        # The pipeline registers into the group: create the group first.
        pulumi.ResourceOptions(depends_on=[registry.group]),
    )
