"""Every physical AWS name and the required tags, computed in one place.

Names are deterministic `{project}-{env}-{thing}` so that a stack can be found
in the console by its spec, and so that the plan never changes a name (a changed
name replaces the resource). A name that would exceed its AWS limit keeps a
readable prefix and ends in a hash of the full name, so it stays unique.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from mlstack.spec import EnvironmentSpec

# Lengths AWS allows (botocore / IAM / S3 documentation).
SAGEMAKER_NAME_MAX = 63  # endpoints, models, configs, package groups, schedules
FEATURE_GROUP_NAME_MAX = 64
IAM_ROLE_NAME_MAX = 64
S3_BUCKET_NAME_MAX = 63
EVENT_RULE_NAME_MAX = 64
SNS_TOPIC_NAME_MAX = 256
SCHEDULE_NAME_MAX = 64
LAMBDA_NAME_MAX = 64


def fit(name: str, limit: int) -> str:
    """`name` if it fits, else a prefix and an 8-hex hash of the whole name."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('-')}-{digest}"


@dataclass(frozen=True)
class Names:
    project: str
    environment: str
    account_id: str
    region: str

    @classmethod
    def for_environment(cls, env: EnvironmentSpec, region: str) -> Names:
        return cls(env.spec.project.name, env.name, env.account_id, region)

    @property
    def prefix(self) -> str:
        return f"{self.project}-{self.environment}"

    def sagemaker(self, thing: str) -> str:
        return fit(f"{self.prefix}-{thing}", SAGEMAKER_NAME_MAX)

    # -- foundation -------------------------------------------------------------
    def kms_alias(self) -> str:
        return f"alias/{self.prefix}"

    def artifact_bucket(self) -> str:
        # Bucket names are global: the account id keeps them unique across accounts.
        return fit(f"{self.prefix}-artifacts-{self.account_id}", S3_BUCKET_NAME_MAX)

    def sagemaker_role(self) -> str:
        return fit(f"{self.prefix}-sagemaker-execution", IAM_ROLE_NAME_MAX)

    def role(self, purpose: str) -> str:
        return fit(f"{self.prefix}-{purpose}", IAM_ROLE_NAME_MAX)

    # -- per feature group / model -------------------------------------------------
    def feature_group(self, group: str) -> str:
        return fit(f"{self.prefix}-{group}", FEATURE_GROUP_NAME_MAX)

    def model_package_group(self, model: str) -> str:
        return self.sagemaker(model)

    def pipeline(self, model: str) -> str:
        return self.sagemaker(f"{model}-training")

    def pipeline_role(self, model: str) -> str:
        return self.role(f"{model}-pipeline")

    def trigger_role(self, model: str) -> str:
        return self.role(f"{model}-retrain")

    def retrain_schedule(self, model: str) -> str:
        return fit(f"{self.prefix}-{model}-retrain", SCHEDULE_NAME_MAX)

    def drift_rule(self, model: str) -> str:
        return self.event_rule(f"{model}-drift-retrain")

    def drift_alarm(self, model: str) -> str:
        """The data-drift alarm: monitoring creates it, the training pipeline's rule listens for it."""
        return self.alarm(model, "data-drift")

    def mlflow_server(self) -> str:
        return self.sagemaker("mlflow")

    def mlflow_server_arn(self) -> str:
        """Deterministic, so the monitor can log to the server built later in the same program."""
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:mlflow-tracking-server/{self.mlflow_server()}"

    # -- drift monitoring (mlstack's own monitor) ---------------------------------------
    def monitor_pipeline(self, model: str) -> str:
        return self.sagemaker(f"{model}-monitor")

    def monitor_functions(self, model: str) -> str:
        """Prefix of the two monitor functions and their roles (`-prepare`, `-publish` appended)."""
        return fit(f"{self.prefix}-{model}-monitor", LAMBDA_NAME_MAX - len("-prepare"))

    def tracking_function(self, model: str) -> str:
        """The training pipeline's MLflow step: its Lambda function and that function's role."""
        return fit(f"{self.prefix}-{model}-mlflow", LAMBDA_NAME_MAX)

    def monitor_schedule(self, model: str) -> str:
        return fit(f"{self.prefix}-{model}-monitor", SCHEDULE_NAME_MAX)

    def batch_pipeline(self, model: str) -> str:
        return self.sagemaker(f"{model}-batch")

    def batch_publish_function(self, model: str) -> str:
        return fit(f"{self.prefix}-{model}-batch-publish", LAMBDA_NAME_MAX)

    def batch_drift_alarm(self, model: str) -> str:
        """The batch monitor's drift alarm; retraining of a model without an endpoint listens to it."""
        return self.alarm(model, "batch-drift")

    def batch_schedule(self, model: str) -> str:
        return fit(f"{self.prefix}-{model}-batch", SCHEDULE_NAME_MAX)

    def metrics_namespace(self) -> str:
        """The project's CloudWatch namespace: what the monitor publishes, what the alarms watch."""
        return f"mlstack/{self.project}"

    def endpoint(self, model: str) -> str:
        return self.sagemaker(model)

    def registry_log_group(self, model: str) -> str:
        """Where the registry's state-change events are kept: the model's history."""
        return f"/aws/events/{self.prefix}-{model}-registry"

    def event_rule(self, thing: str) -> str:
        return fit(f"{self.prefix}-{thing}", EVENT_RULE_NAME_MAX)

    def topic(self, thing: str) -> str:
        return fit(f"{self.prefix}-{thing}", SNS_TOPIC_NAME_MAX)

    def alarm(self, model: str, signal: str) -> str:
        """CloudWatch alarm names; the drift alarm is also what retraining listens for."""
        return fit(f"{self.prefix}-{model}-{signal}", 255)


def required_tags(env: EnvironmentSpec) -> dict[str, str]:
    """The tags every taggable resource carries: mlstack's own, then the spec's extras."""
    project = env.spec.project
    return {
        "project": project.name,
        "environment": env.name,
        "owner": project.owner,
        "cost-centre": project.cost_centre,
        "data-classification": project.data_classification,
        "managed-by": "mlstack",
        **project.tags,
    }
