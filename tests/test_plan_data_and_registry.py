"""Feature store, model registry and MLflow in the offline plan of the example."""

from __future__ import annotations

import json

import pytest

from mlstack.components.model_registry import CROSS_ACCOUNT_READ_ACTIONS

ENVIRONMENTS = ("dev", "staging", "prod")
KEY_PREFIX = "arn:aws:kms:eu-west-1:{account}:key/"


def _account(plan) -> str:  # type: ignore[no-untyped-def]
    return plan.environment.account_id


def test_feature_groups_are_defined_as_the_spec_says(plans) -> None:
    plan = plans("dev")
    transactions = plan.get("feature-store-transactions").inputs
    assert transactions["featureGroupName"] == "card-fraud-dev-transactions"
    assert transactions["recordIdentifierFeatureName"] == "transaction_id"
    assert transactions["eventTimeFeatureName"] == "event_time"
    assert transactions["featureDefinitions"][:2] == [
        {"featureName": "transaction_id", "featureType": "String"},
        {"featureName": "event_time", "featureType": "String"},
    ]
    assert len(transactions["featureDefinitions"]) == 10
    online = transactions["onlineStoreConfig"]
    assert online["enableOnlineStore"] is True
    assert online["ttlDuration"] == {"unit": "Days", "value": 30}
    assert online["securityConfig"]["kmsKeyId"].startswith(KEY_PREFIX.format(account="111111111111"))
    offline = transactions["offlineStoreConfig"]
    assert offline["tableFormat"] == "Iceberg"
    assert offline["s3StorageConfig"]["s3Uri"] == "s3://card-fraud-dev-artifacts-111111111111/feature-store"
    assert offline["s3StorageConfig"]["kmsKeyId"].startswith(KEY_PREFIX.format(account="111111111111"))
    assert transactions["roleArn"] == "arn:aws:iam::111111111111:role/card-fraud-dev-sagemaker-execution"
    profile = plan.get("feature-store-merchant-profile").inputs
    assert "onlineStoreConfig" not in profile  # online store disabled in the spec
    assert profile["offlineStoreConfig"]["tableFormat"] == "Glue"


def test_feature_definitions_never_replace_a_group(plans) -> None:
    plan = plans("dev")
    group = plan.get("feature-store-transactions")
    assert group.options["ignore_changes"] == ["featureDefinitions"]
    additions = plan.get("feature-store-transactions-additions")
    assert additions.type == "pulumi-python:dynamic:Resource"
    assert "__provider" not in additions.inputs
    assert additions.inputs["featureGroupName"] == "card-fraud-dev-transactions"
    assert additions.inputs["features"][-1] == {"name": "is_fraud", "type": "Integral"}
    assert group.urn in additions.dependencies


def test_offline_store_role_may_register_glue_tables_only_in_the_feature_store_database(plans) -> None:
    policy = json.loads(plans("dev").get("feature-store-catalog-access").inputs["policy"])
    (statement,) = policy["Statement"]
    assert all(action.startswith("glue:") and "*" not in action for action in statement["Action"])
    assert statement["Resource"] == [
        "arn:aws:glue:eu-west-1:111111111111:catalog",
        "arn:aws:glue:eu-west-1:111111111111:database/sagemaker_featurestore",
        "arn:aws:glue:eu-west-1:111111111111:table/sagemaker_featurestore/*",
    ]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_one_package_group_per_model(plans, environment: str) -> None:
    groups = plans(environment).of_type("aws:sagemaker/modelPackageGroup:ModelPackageGroup")
    assert sorted(g.inputs["modelPackageGroupName"] for g in groups) == [
        f"card-fraud-{environment}-fraud-detector",
        f"card-fraud-{environment}-merchant-risk",
    ]


@pytest.mark.parametrize(("environment", "shared"), [("dev", True), ("staging", True), ("prod", False)])
def test_group_policy_grants_exactly_the_listed_accounts_read_access(plans, environment: str, shared: bool) -> None:
    plan = plans(environment)
    policies = plan.of_type("aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy")
    if not shared:  # prod is the account listed: it does not share with itself
        assert policies == []
        return
    (policy,) = policies  # merchant-risk lists no accounts
    assert policy.name == "fraud-detector-registry-sharing"
    (statement,) = json.loads(policy.inputs["resourcePolicy"])["Statement"]
    assert statement["Principal"] == {"AWS": ["arn:aws:iam::333333333333:root"]}
    assert statement["Action"] == list(CROSS_ACCOUNT_READ_ACTIONS)
    account = _account(plan)
    assert statement["Resource"] == [
        f"arn:aws:sagemaker:eu-west-1:{account}:model-package-group/card-fraud-{environment}-fraud-detector",
        f"arn:aws:sagemaker:eu-west-1:{account}:model-package/card-fraud-{environment}-fraud-detector/*",
    ]


def test_approval_events_of_the_group_reach_an_encrypted_topic(plans) -> None:
    plan = plans("staging")
    rule = plan.get("fraud-detector-registry-state-change").inputs
    assert json.loads(rule["eventPattern"]) == {
        "detail": {"ModelPackageGroupName": ["card-fraud-staging-fraud-detector"]},
        "detail-type": ["SageMaker Model Package State Change"],
        "source": ["aws.sagemaker"],
    }
    topic = plan.get("fraud-detector-registry-approvals-topic").inputs
    assert topic["kmsMasterKeyId"].startswith(KEY_PREFIX.format(account="222222222222"))
    target = plan.get("fraud-detector-registry-notify").inputs
    assert target["rule"] == rule["name"]
    assert target["arn"] == "arn:aws:sns:eu-west-1:222222222222:card-fraud-staging-fraud-detector-approvals"
    (publish,) = json.loads(plan.get("fraud-detector-registry-approvals-policy").inputs["policy"])["Statement"]
    assert publish["Principal"] == {"Service": ["events.amazonaws.com"]}
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": "222222222222"}}
    subscription = plan.get("fraud-detector-registry-approvals-subscriber-0").inputs
    assert (subscription["protocol"], subscription["endpoint"]) == ("email", "fraud-ml-oncall@example.com")


def test_the_registry_keeps_its_history_in_an_encrypted_log_group(plans) -> None:
    """Every version state change and, for SageMaker-served models, every endpoint change (`models history`)."""
    plan = plans("staging")
    log_group = plan.get("fraud-detector-registry-history").inputs
    assert log_group["name"] == "/aws/events/card-fraud-staging-fraud-detector-registry"
    assert log_group["kmsKeyId"].startswith(KEY_PREFIX.format(account="222222222222"))
    assert log_group["retentionInDays"] == 3653
    endpoint_rule = plan.get("fraud-detector-registry-endpoint-change").inputs
    assert json.loads(endpoint_rule["eventPattern"])["detail"] == {
        "EndpointName": ["card-fraud-staging-fraud-detector"]
    }
    arn = "arn:aws:logs:eu-west-1:222222222222:log-group:/aws/events/card-fraud-staging-fraud-detector-registry"
    for target, rule in (("versions", "state-change"), ("endpoint", "endpoint-change")):
        inputs = plan.get(f"fraud-detector-registry-history-{target}").inputs
        assert (inputs["arn"], inputs["rule"]) == (arn, plan.get(f"fraud-detector-registry-{rule}").inputs["name"])
    writers = plan.get("fraud-detector-registry-history-writers").inputs
    assert writers["resourceArn"] == arn
    (statement,) = json.loads(writers["policyDocument"])["Statement"]
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert len(statement["Condition"]["ArnEquals"]["aws:SourceArn"]) == 2  # those two rules only
    # The Kubernetes-served model has no endpoint to follow.
    assert "merchant-risk-registry-endpoint-change" not in {r.name for r in plan.resources}
    statements = json.loads(plan.get("foundation-kms-key").inputs["policy"])["Statement"]
    logs = next(s for s in statements if s["Sid"] == "CloudWatchLogsEncryptsLogGroups")
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert logs["Condition"] == {
        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:222222222222:log-group:*"}
    }


def test_key_policy_lets_eventbridge_and_cloudwatch_use_the_key_for_topics(plans) -> None:
    statements = json.loads(plans("dev").get("foundation-kms-key").inputs["policy"])["Statement"]
    services = next(s for s in statements if s["Sid"] == "ServicesEncryptForThisAccount")
    assert services["Principal"]["Service"] == ["cloudwatch.amazonaws.com", "events.amazonaws.com"]


def test_model_card_carries_the_spec_fields_and_is_encrypted(plans) -> None:
    plan = plans("prod")
    card = plan.get("fraud-detector-registry-card").inputs
    assert card["modelCardName"] == "card-fraud-prod-fraud-detector-card"
    assert card["modelCardStatus"] == "Draft"
    assert json.loads(card["content"]) == {
        "intended_uses": {
            "intended_uses": "Hold or step-up authentication on suspicious card-present and online payments",
            "risk_rating": "High",
        },
        "model_overview": {
            "model_description": "Gradient-boosted trees over transaction velocity features",
            "model_owner": "fraud-ml@example.com",
        },
    }
    assert card["securityConfig"]["kmsKeyId"].startswith(KEY_PREFIX.format(account="333333333333"))
    assert [r.name for r in plan.of_type("aws:sagemaker/modelCard:ModelCard")] == ["fraud-detector-registry-card"]


def test_mlflow_only_where_enabled_with_its_own_scoped_role(plans) -> None:
    assert plans("dev").of_type("aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer") == []
    plan = plans("prod")
    server = plan.get("mlflow-server")
    assert server.inputs["artifactStoreUri"] == "s3://card-fraud-prod-artifacts-333333333333/mlflow"
    assert server.inputs["trackingServerSize"] == "Medium"
    assert server.inputs["roleArn"] == "arn:aws:iam::333333333333:role/card-fraud-prod-mlflow"
    statements = json.loads(plan.get("mlflow-policy").inputs["policy"])["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["ArtifactObjects"]["Resource"] == "arn:aws:s3:::card-fraud-prod-artifacts-333333333333/mlflow/*"
    assert by_sid["ListArtifactPrefix"]["Condition"] == {"StringLike": {"s3:prefix": ["mlflow/*"]}}


STATEFUL = (
    "foundation-kms-key",
    "foundation-artifacts-bucket",
    "feature-store-transactions",
    "feature-store-merchant-profile",
    "fraud-detector-registry-group",
    "merchant-risk-registry-group",
    "fraud-detector-registry-history",  # the audit trail of approvals and deployments
    "merchant-risk-registry-history",
)


@pytest.mark.parametrize(("environment", "protected"), [("dev", False), ("staging", False), ("prod", True)])
def test_stateful_resources_protected_and_retained_in_prod_only(plans, environment: str, protected: bool) -> None:
    plan = plans(environment)
    names = [*STATEFUL, "mlflow-server"] if environment == "prod" else list(STATEFUL)
    for name in names:
        options = plan.get(name).options
        assert (options["protect"], options["retain_on_delete"]) == (protected, protected), name
    unprotected = [r.name for r in plan.resources if r.custom and r.options["protect"] and r.name not in names]
    assert unprotected == []


@pytest.mark.parametrize(("environment", "shared"), [("staging", True), ("prod", False)])
def test_accounts_a_model_is_shared_with_may_read_and_decrypt_model_artifacts(plans, environment, shared) -> None:
    plan = plans(environment)
    bucket_statements = json.loads(plan.get("foundation-artifacts-policy").inputs["policy"])["Statement"]
    key_statements = json.loads(plan.get("foundation-kms-key").inputs["policy"])["Statement"]
    read = [s for s in bucket_statements if s["Sid"] == "OtherAccountsReadShared"]
    decrypt = [s for s in key_statements if s["Sid"] == "OtherAccountsDecryptThroughS3"]
    if not shared:
        assert read == [] and decrypt == []
        return
    assert read[0]["Principal"] == {"AWS": ["arn:aws:iam::333333333333:root"]}
    assert read[0]["Action"] == "s3:GetObject"
    assert read[0]["Resource"] == "arn:aws:s3:::card-fraud-staging-artifacts-222222222222/models/*"
    assert decrypt[0]["Action"] == ["kms:Decrypt", "kms:DescribeKey"]
    assert decrypt[0]["Condition"] == {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}}
