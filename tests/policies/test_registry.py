"""Registry rules: group policies, model cards, approval status of registered versions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlstack.policies.rules import by_name
from mlstack.policies.testing import UNKNOWN, Resource, run_resource_policy
from tests.policies.test_sagemaker_jobs import DEFINITION, KEY, mutate, pipeline

SCOPED = by_name("model-package-group-policy-scoped")
CARD = by_name("model-card-encrypted")
APPROVAL = by_name("pipeline-registers-for-approval")
GROUP_POLICY = "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy"
MODEL_CARD = "aws:sagemaker/modelCard:ModelCard"
OWN = "arn:aws:sagemaker:eu-west-1:111111111111"
READ_SHARING: dict[str, Any] = {
    "Sid": "ReadForDeployingAccounts",
    "Effect": "Allow",
    "Principal": {"AWS": ["arn:aws:iam::333333333333:root"]},
    "Action": ["sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup", "sagemaker:ListModelPackages"],
    "Resource": [f"{OWN}:model-package-group/fd", f"{OWN}:model-package/fd/*"],
}
NOT_ACTION = {**{k: v for k, v in READ_SHARING.items() if k != "Action"}, "NotAction": "sagemaker:DeleteModelPackage"}
REGISTER = "Steps.2.Arguments.IfSteps.1"


def _policy(*statements: dict[str, Any]) -> Resource:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return Resource(GROUP_POLICY, {"modelPackageGroupName": "fd", "resourcePolicy": json.dumps(document)})


def _messages(policy: Any, resource: Resource, config: dict[str, Any] | None = None) -> list[str]:
    return run_resource_policy(policy, [resource], config).messages()


# --- model-package-group-policy-scoped ------------------------------------------------------
def test_read_only_sharing_passes() -> None:
    assert _messages(SCOPED, _policy(READ_SHARING)) == []
    wildcard_reads = {**READ_SHARING, "Action": ["sagemaker:Describe*", "sagemaker:List*", "sagemaker:Get*"]}
    assert _messages(SCOPED, _policy(wildcard_reads)) == []


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ({**READ_SHARING, "Principal": "*"}, "statement ReadForDeployingAccounts allows any principal ('*')"),
        ({**READ_SHARING, "Principal": {"AWS": "*"}}, "statement ReadForDeployingAccounts allows any principal ('*')"),
        (
            {**READ_SHARING, "Action": [*READ_SHARING["Action"], "sagemaker:UpdateModelPackage"]},
            "statement ReadForDeployingAccounts lets other accounts change model packages "
            "(sagemaker:UpdateModelPackage); share read-only",
        ),
        (
            {"Effect": "Allow", "Principal": {"AWS": "222222222222"}, "Action": "sagemaker:*", "Resource": "*"},
            "statement #1 lets other accounts change model packages (sagemaker:*); share read-only",
        ),
        (
            NOT_ACTION,
            "statement ReadForDeployingAccounts lets other accounts change model packages (NotAction); share read-only",
        ),
    ],
)
def test_each_requirement(statement: dict[str, Any], message: str) -> None:
    assert _messages(SCOPED, _policy(statement)) == [message]


def test_writes_by_the_owning_account_and_denies_are_not_sharing() -> None:
    own = {**READ_SHARING, "Principal": {"AWS": "arn:aws:iam::111111111111:role/ci"}, "Action": "sagemaker:*"}
    deny = {"Effect": "Deny", "Principal": "*", "Action": "sagemaker:*", "Resource": "*"}
    assert _messages(SCOPED, _policy(own, deny)) == []


def test_a_service_principal_is_not_an_account() -> None:
    service = {**READ_SHARING, "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sagemaker:*"}
    assert _messages(SCOPED, _policy(service)) == []


def test_a_broken_policy_is_reported_and_a_missing_one_ignored() -> None:
    broken = Resource(GROUP_POLICY, {"resourcePolicy": "{nope"})
    assert _messages(SCOPED, broken) == [
        "resourcePolicy is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    ]
    assert _messages(SCOPED, Resource(GROUP_POLICY, {})) == []


# --- model-card-encrypted -------------------------------------------------------------------
def test_model_card_key() -> None:
    card = {"modelCardName": "fd-card", "modelCardStatus": "Draft", "securityConfig": {"kmsKeyId": KEY}}
    assert _messages(CARD, Resource(MODEL_CARD, card)) == []
    assert _messages(CARD, Resource(MODEL_CARD, mutate(card, "securityConfig", None))) == [
        "the model card is not encrypted with our KMS key (securityConfig.kmsKeyId)"
    ]


# --- pipeline-registers-for-approval --------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Approved", "RegisterModel step RegisterModel registers versions as Approved; "
                     "set ModelApprovalStatus to PendingManualApproval"),
        ({"Get": "Parameters.ModelApprovalStatus"}, "RegisterModel step RegisterModel takes ModelApprovalStatus "
                                                    "from an expression; set it to PendingManualApproval"),
        (None, "RegisterModel step RegisterModel does not set ModelApprovalStatus; set it to PendingManualApproval"),
    ],
)  # fmt: skip
def test_each_approval_requirement(value: Any, message: str) -> None:
    assert _messages(APPROVAL, pipeline()) == []
    definition = mutate(DEFINITION, f"{REGISTER}.Arguments.ModelApprovalStatus", value)
    assert _messages(APPROVAL, pipeline(definition)) == [message]


def test_allowed_statuses_are_configurable() -> None:
    approved = pipeline(mutate(DEFINITION, f"{REGISTER}.Arguments.ModelApprovalStatus", "Approved"))
    config = {"pipeline-registers-for-approval": {"allowedStatuses": ["PendingManualApproval", "Approved"]}}
    assert _messages(APPROVAL, approved, config) == []
    strict = {"pipeline-registers-for-approval": {"allowedStatuses": ["Rejected"]}}
    assert _messages(APPROVAL, pipeline(), strict) == [
        "RegisterModel step RegisterModel registers versions as PendingManualApproval; "
        "set ModelApprovalStatus to Rejected"
    ]


def test_a_pipeline_definition_in_s3_cannot_be_checked() -> None:
    in_s3 = Resource(pipeline().type, {"pipelineDefinitionS3Location": {"bucket": "b", "objectKey": "k"}})
    assert _messages(APPROVAL, in_s3) == [
        "the pipeline definition is in S3 (pipelineDefinitionS3Location), so its steps can't be checked"
    ]


@pytest.mark.parametrize(
    ("policy", "resource"),
    [
        (SCOPED, Resource(GROUP_POLICY, {"resourcePolicy": UNKNOWN})),
        (CARD, Resource(MODEL_CARD, {"securityConfig": {"kmsKeyId": UNKNOWN}})),
        (APPROVAL, Resource(pipeline().type, {"pipelineDefinition": UNKNOWN})),
    ],
)
def test_unknown_values_are_not_evaluated(policy: Any, resource: Resource) -> None:
    report = run_resource_policy(policy, [resource])
    assert report.violations == [] and len(report.not_evaluated) == 1


@pytest.mark.parametrize(
    "resource",
    [
        Resource(GROUP_POLICY, {"resourcePolicy": json.dumps({"Statement": "x"})}),
        Resource(GROUP_POLICY, {"resourcePolicy": json.dumps({"Statement": [{"Effect": "Allow", "Principal": 5}]})}),
        Resource(GROUP_POLICY, {"resourcePolicy": {"Statement": [{"Effect": "Allow", "Principal": {"AWS": [None]},
                                                                  "Action": [1], "Resource": {"a": 1}}]}}),
        Resource(GROUP_POLICY, {"resourcePolicy": ["x"]}),
        Resource(MODEL_CARD, {"securityConfig": "k"}),
        Resource(pipeline().type, {"pipelineDefinition": json.dumps({"Steps": [{"Type": "RegisterModel"}]})}),
    ],
)  # fmt: skip
def test_odd_shapes_do_not_raise(resource: Resource) -> None:
    for policy in (SCOPED, CARD, APPROVAL):
        run_resource_policy(policy, [resource])


def _example(plans: Any, environment: str) -> list[Resource]:
    return [Resource.from_plan(r.as_dict()) for r in plans(environment).resources]


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_the_example_passes_where_approval_is_manual(plans: Any, environment: str) -> None:
    resources = _example(plans, environment)
    assert [r for r in resources if r.type == MODEL_CARD]
    for policy in (SCOPED, CARD, APPROVAL):
        report = run_resource_policy(policy, resources)
        assert report.violations == [] and report.not_evaluated == [], policy.name


def test_dev_auto_approves_the_fraud_detector(plans: Any) -> None:
    """registry.approval: auto in dev: the rule is meant to be disabled there."""
    resources = _example(plans, "dev")
    assert [r for r in resources if r.type == GROUP_POLICY]
    assert run_resource_policy(SCOPED, resources).violations == []
    assert run_resource_policy(CARD, resources).violations == []
    report = run_resource_policy(APPROVAL, resources)
    assert [(v.urn.rsplit("::", 1)[-1], v.message) for v in report.violations] == [
        (
            "fraud-detector-training-pipeline",
            "RegisterModel step RegisterModel registers versions as Approved; "
            "set ModelApprovalStatus to PendingManualApproval",
        )
    ]
    assert run_resource_policy(APPROVAL, resources, {"pipeline-registers-for-approval": "disabled"}).violations == []
