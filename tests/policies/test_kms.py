"""KMS and SNS rules: compliant fixtures, one mutation per requirement, unknowns, wrong shapes, the real plans."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlstack.policies.rules import by_name, kms
from mlstack.policies.testing import UNKNOWN, Report, Resource, run_pack, run_resource_policy
from mlstack.spec import read_document
from tests.conftest import EXAMPLE

KEY = "aws:kms/key:Key"
TOPIC = "aws:sns/topic:Topic"
KEY_ARN = "arn:aws:kms:eu-west-1:111111111111:key/1234"
ROOT = {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "kms:*"}


def _run(rule: str, type_: str, props: Any, config: dict | None = None) -> Report:
    return run_resource_policy(by_name(rule), [Resource(type_, props)], config)  # type: ignore[arg-type]


def _messages(rule: str, type_: str, props: Any, config: dict | None = None) -> list[str]:
    return _run(rule, type_, props, config).messages()


def _not_evaluated(report: Report) -> bool:
    return report.violations == [] and len(report.not_evaluated) == 1


# --- kms-key-rotation --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, None),
        ("true", None),
        (False, "enableKeyRotation is false, must be true"),
        (None, "enableKeyRotation is unset, must be true"),
        ("yes", "enableKeyRotation is 'yes', must be true"),
    ],
)
def test_rotation(value: Any, message: str | None) -> None:
    assert _messages("kms-key-rotation", KEY, {"enableKeyRotation": value}) == ([message] if message else [])


def test_rotation_skips_keys_aws_cannot_rotate() -> None:
    assert _messages("kms-key-rotation", KEY, {"customerMasterKeySpec": "RSA_2048"}) == []
    assert _messages("kms-key-rotation", KEY, {"customerMasterKeySpec": "HMAC_256"}) == []
    assert _messages("kms-key-rotation", KEY, {"customKeyStoreId": "cks-1"}) == []
    assert _messages("kms-key-rotation", KEY, {"customerMasterKeySpec": "SYMMETRIC_DEFAULT"}) == [
        "enableKeyRotation is unset, must be true"
    ]


def test_rotation_unknown_is_not_evaluated() -> None:
    assert _not_evaluated(_run("kms-key-rotation", KEY, {"enableKeyRotation": UNKNOWN}))


# --- kms-no-wildcard-principal -----------------------------------------------------------------
PUBLIC = {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}
PUBLIC_MESSAGE = (
    "statement 'Public' allows any principal ('*') without a condition on the caller's account or organization"
)


def _key(*statements: dict[str, Any], as_string: bool = True) -> dict[str, Any]:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return {"policy": json.dumps(document) if as_string else document}


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"kms:CallerAccount": "111111111111"}},
        {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}},
        {"StringLike": {"AWS:SourceAccount": ["111111111111"]}},
        {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": ["o-abc/r-1/*"]}},
    ],
)
def test_wildcard_principal_with_an_account_condition_is_compliant(condition: dict[str, Any]) -> None:
    assert _messages("kms-no-wildcard-principal", KEY, _key(ROOT, {**PUBLIC, "Condition": condition})) == []


def test_wildcard_principal_compliant_fixtures() -> None:
    assert _messages("kms-no-wildcard-principal", KEY, _key(ROOT)) == []
    assert _messages("kms-no-wildcard-principal", KEY, _key(ROOT, as_string=False)) == []
    assert _messages("kms-no-wildcard-principal", KEY, _key({**PUBLIC, "Effect": "Deny"})) == []
    assert _messages("kms-no-wildcard-principal", KEY, {}) == []  # the default key policy: the account


@pytest.mark.parametrize(
    "statement",
    [
        PUBLIC,
        {**PUBLIC, "Principal": {"AWS": "*"}},
        {**PUBLIC, "Principal": {"AWS": ["arn:aws:iam::111111111111:root", "*"]}},
        {**PUBLIC, "Condition": {"StringNotEquals": {"kms:CallerAccount": "222222222222"}}},
        {**PUBLIC, "Condition": {"StringEqualsIfExists": {"aws:SourceAccount": "111111111111"}}},
        {**PUBLIC, "Condition": {"StringLike": {"kms:CallerAccount": "*"}}},
        {**PUBLIC, "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}},
    ],
)
def test_wildcard_principal_violations(statement: dict[str, Any]) -> None:
    assert _messages("kms-no-wildcard-principal", KEY, _key(ROOT, statement)) == [PUBLIC_MESSAGE]


def test_wildcard_principal_unnamed_statement() -> None:
    statement = {k: v for k, v in PUBLIC.items() if k != "Sid"}
    assert _messages("kms-no-wildcard-principal", KEY, _key(ROOT, statement)) == [
        "statement #1 allows any principal ('*') without a condition on the caller's account or organization"
    ]


def test_wildcard_principal_unknown_is_not_evaluated() -> None:
    assert _not_evaluated(_run("kms-no-wildcard-principal", KEY, {"policy": UNKNOWN}))
    assert _not_evaluated(
        _run("kms-no-wildcard-principal", KEY, _key({**PUBLIC, "Principal": UNKNOWN}, as_string=False))
    )


@pytest.mark.parametrize("policy", [None, {"Statement": None}, {"Statement": 7}, {"Statement": [3, {"Principal": 5}]}])
def test_wildcard_principal_wrong_shapes_do_not_raise(policy: Any) -> None:
    assert _messages("kms-no-wildcard-principal", KEY, {"policy": policy}) == []


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("", "policy is not valid JSON: Expecting value: line 1 column 1 (char 0)"),
        ("not json", "policy is not valid JSON: Expecting value: line 1 column 1 (char 0)"),
        ("[1]", "policy is not a JSON object: it holds a list"),
    ],
)
def test_wildcard_principal_unreadable_policy_is_reported(policy: str, message: str) -> None:
    assert _messages("kms-no-wildcard-principal", KEY, {"policy": policy}) == [message]


def test_wildcard_principal_odd_conditions_do_not_raise() -> None:
    for condition in (None, "x", {"StringEquals": "x"}, {"StringEquals": {"kms:CallerAccount": 5}}):
        assert _messages("kms-no-wildcard-principal", KEY, _key({**PUBLIC, "Condition": condition})) == [PUBLIC_MESSAGE]


# --- kms-deletion-window -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("days", "message"),
    [
        (30, None),
        (30.0, None),
        (None, None),  # AWS's default is 30
        (7, "deletionWindowInDays is 7, below the minimum of 30"),
        (29.0, "deletionWindowInDays is 29, below the minimum of 30"),
        (45, "deletionWindowInDays is 45, outside the 7-30 days AWS accepts"),
        (3, "deletionWindowInDays is 3, outside the 7-30 days AWS accepts"),
        ("30", "deletionWindowInDays is '30', not a number of days"),
        ([30], "deletionWindowInDays is a list, not a number of days"),
        ({"days": 30}, "deletionWindowInDays is an object, not a number of days"),
    ],
)
def test_deletion_window(days: Any, message: str | None) -> None:
    assert _messages("kms-deletion-window", KEY, {"deletionWindowInDays": days}) == ([message] if message else [])


def test_deletion_window_minimum_is_configurable() -> None:
    config = {"kms-deletion-window": {"minimumDays": 14}}
    assert _messages("kms-deletion-window", KEY, {"deletionWindowInDays": 14}, config) == []
    assert _messages("kms-deletion-window", KEY, {"deletionWindowInDays": 10}, config) == [
        "deletionWindowInDays is 10, below the minimum of 14"
    ]


def test_deletion_window_unknown_is_not_evaluated() -> None:
    assert _not_evaluated(_run("kms-deletion-window", KEY, {"deletionWindowInDays": UNKNOWN}))


# --- sns-topic-encrypted -----------------------------------------------------------------------
UNSET = "kmsMasterKeyId is unset: messages are not encrypted with a KMS key"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (KEY_ARN, None),
        ("alias/card-fraud-prod", None),
        (None, UNSET),
        ("", UNSET),
        (42, UNSET),
        ("alias/aws/sns", "kmsMasterKeyId is the AWS managed key alias/aws/sns, not a customer managed key"),
        (
            "arn:aws:kms:eu-west-1:111111111111:alias/aws/sns",
            "kmsMasterKeyId is the AWS managed key arn:aws:kms:eu-west-1:111111111111:alias/aws/sns, "
            "not a customer managed key",
        ),
    ],
)
def test_topic_encrypted(key: Any, message: str | None) -> None:
    assert _messages("sns-topic-encrypted", TOPIC, {"name": "t", "kmsMasterKeyId": key}) == (
        [message] if message else []
    )


def test_topic_aws_managed_key_can_be_allowed() -> None:
    config = {"sns-topic-encrypted": {"allowAwsManaged": True}}
    assert _messages("sns-topic-encrypted", TOPIC, {"kmsMasterKeyId": "alias/aws/sns"}, config) == []
    assert _messages("sns-topic-encrypted", TOPIC, {}, config) == [UNSET]


def test_topic_unknown_key_is_not_evaluated() -> None:
    assert _not_evaluated(_run("sns-topic-encrypted", TOPIC, {"kmsMasterKeyId": UNKNOWN}))


# --- the real plans ----------------------------------------------------------------------------
@pytest.mark.parametrize("environment", read_document(EXAMPLE).environments)
def test_real_plan_has_no_violations(plans, environment: str) -> None:  # type: ignore[no-untyped-def]
    resources = [Resource.from_plan(r.as_dict()) for r in plans(environment).resources]
    assert {KEY, TOPIC} <= {r.type for r in resources}
    report = run_pack(kms.POLICIES, resources)
    assert report.violations == [] and report.not_evaluated == []
