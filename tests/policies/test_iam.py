"""IAM rules: compliant fixtures, one mutation per requirement, unknowns, wrong shapes, the real plans."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlstack.policies.rules import by_name, iam
from mlstack.policies.testing import UNKNOWN, Report, Resource, run_pack, run_resource_policy
from mlstack.spec import read_document
from tests.conftest import EXAMPLE

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
SAGEMAKER_FULL = "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"
ROLE_ARN = "arn:aws:iam::111111111111:role/pipeline"

READ = {
    "Sid": "ReadAll",
    "Effect": "Allow",
    "Action": ["s3:GetObject", "s3:ListBucket"],
    "Resource": "arn:aws:s3:::b/*",
}
KEY = {"Sid": "UseKey", "Effect": "Allow", "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "arn:k"}
PASS = {
    "Sid": "PassOnlyItself",
    "Effect": "Allow",
    "Action": "iam:PassRole",
    "Resource": ROLE_ARN,
    "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
}
TRUST = {
    "Effect": "Allow",
    "Principal": {"Service": ["events.amazonaws.com", "scheduler.amazonaws.com"]},
    "Action": "sts:AssumeRole",
    "Condition": {"StringEquals": {"aws:SourceAccount": "111111111111"}},
}


def _doc(*statements: Any, as_string: bool = True) -> Any:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return json.dumps(document) if as_string else document


def _run(rule: str, type_: str, props: Any, config: dict | None = None) -> Report:
    return run_resource_policy(by_name(rule), [Resource(type_, props)], config)  # type: ignore[arg-type]


def _messages(rule: str, type_: str, props: Any, config: dict | None = None) -> list[str]:
    return _run(rule, type_, props, config).messages()


def _not_evaluated(report: Report) -> bool:
    return report.violations == [] and len(report.not_evaluated) == 1


def _role(*inline: Any, trust: Any = None, managed: Any = None) -> dict[str, Any]:
    props: dict[str, Any] = {"name": "r", "assumeRolePolicy": trust if trust is not None else _doc(TRUST)}
    props["inlinePolicies"] = [{"name": "scoped", "policy": p} for p in inline]
    if managed is not None:
        props["managedPolicyArns"] = managed
    return props


DOCUMENT_TYPES = [
    ROLE_POLICY,
    "aws:iam/policy:Policy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
]
RULES = ["iam-no-wildcard-actions", "iam-no-sagemaker-full-access", "iam-passrole-scoped", "iam-trust-scoped"]


@pytest.mark.parametrize("rule", RULES)
def test_compliant_fixtures(rule: str) -> None:
    for type_ in DOCUMENT_TYPES:
        assert _messages(rule, type_, {"policy": _doc(READ, KEY, PASS)}) == [], type_
    assert _messages(rule, ROLE_POLICY, {"policy": _doc(READ, KEY, PASS, as_string=False)}) == []
    assert _messages(rule, ROLE, _role(_doc(READ, KEY, PASS), managed=["arn:aws:iam::111111111111:policy/x"])) == []
    assert (
        _messages(rule, ATTACHMENT, {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"}) == []
    )


# --- iam-no-wildcard-actions -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("*", "statement 'ReadAll' allows '*' actions"),
        ("s3:*", "statement 'ReadAll' allows 's3:*' actions"),
        ("*:*", "statement 'ReadAll' allows '*:*' actions"),
        (["s3:GetObject", "s3:*", "kms:*"], "statement 'ReadAll' allows 's3:*', 'kms:*' actions"),
    ],
)
def test_wildcard_actions(action: Any, message: str) -> None:
    assert _messages("iam-no-wildcard-actions", ROLE_POLICY, {"policy": _doc({**READ, "Action": action})}) == [message]


def test_wildcard_actions_not_action_and_positions_and_inline_names() -> None:
    rule = "iam-no-wildcard-actions"
    not_action = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    assert _messages(rule, ROLE_POLICY, {"policy": _doc(READ, not_action)}) == [
        "statement #1 allows every action but its NotAction list"
    ]
    assert _messages(rule, ROLE, _role(_doc({**READ, "Action": "*"}))) == [
        "inline policy 'scoped': statement 'ReadAll' allows '*' actions"
    ]
    assert _messages(rule, ROLE, {"inlinePolicies": [{"policy": _doc({**READ, "Action": "*"})}]}) == [
        "inline policy #0: statement 'ReadAll' allows '*' actions"
    ]


def test_wildcard_actions_allowed_inside_names_and_in_deny() -> None:
    names = {**READ, "Action": ["ec2:Describe*", "kms:GenerateDataKey*", "s3:Get*Tagging"]}
    deny = {"Effect": "Deny", "Action": "*", "Resource": "*"}
    assert _messages("iam-no-wildcard-actions", ROLE_POLICY, {"policy": _doc(names, deny)}) == []


# --- iam-no-sagemaker-full-access --------------------------------------------------------------
def test_forbidden_managed_policies() -> None:
    rule = "iam-no-sagemaker-full-access"
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    assert _messages(rule, ATTACHMENT, {"role": "r", "policyArn": SAGEMAKER_FULL}) == [
        f"attaches the forbidden managed policy {SAGEMAKER_FULL}"
    ]
    assert _messages(rule, ROLE, _role(managed=["arn:aws:iam::aws:policy/ReadOnlyAccess", admin])) == [
        f"attaches the forbidden managed policy {admin}"
    ]
    gov = "arn:aws-us-gov:iam::aws:policy/AmazonSageMakerFullAccess"
    assert _messages(rule, "aws:iam/policyAttachment:PolicyAttachment", {"policyArn": gov}) == [
        f"attaches the forbidden managed policy {gov}"
    ]


def test_forbidden_managed_policies_are_configurable() -> None:
    config = {"iam-no-sagemaker-full-access": {"forbiddenPolicyArns": ["arn:aws:iam::aws:policy/PowerUserAccess"]}}
    rule = "iam-no-sagemaker-full-access"
    assert _messages(rule, ATTACHMENT, {"policyArn": SAGEMAKER_FULL}, config) == []
    assert _messages(rule, ATTACHMENT, {"policyArn": "arn:aws:iam::aws:policy/PowerUserAccess"}, config) == [
        "attaches the forbidden managed policy arn:aws:iam::aws:policy/PowerUserAccess"
    ]


# --- iam-passrole-scoped -----------------------------------------------------------------------
ON_EVERY_ROLE = "statement 'PassOnlyItself' allows iam:PassRole on every role (Resource '*')"
NO_SERVICE = "statement 'PassOnlyItself' allows iam:PassRole without an iam:PassedToService condition"


@pytest.mark.parametrize(
    ("changes", "messages"),
    [
        ({"Resource": "*"}, [ON_EVERY_ROLE]),
        ({"Resource": [ROLE_ARN, "*"]}, [ON_EVERY_ROLE]),
        ({"Condition": None}, [NO_SERVICE]),
        ({"Condition": {"StringNotEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}}, [NO_SERVICE]),
        ({"Condition": {"StringEquals": {"iam:PassedToService": "*"}}}, [NO_SERVICE]),
        ({"Resource": "*", "Condition": None}, [ON_EVERY_ROLE, NO_SERVICE]),
        ({"Action": "iam:*", "Resource": "*"}, [ON_EVERY_ROLE]),
        ({"Action": "*", "Resource": "*"}, [ON_EVERY_ROLE]),
        ({"Action": "IAM:Pass*", "Resource": "*"}, [ON_EVERY_ROLE]),
    ],
)
def test_passrole(changes: dict[str, Any], messages: list[str]) -> None:
    assert _messages("iam-passrole-scoped", ROLE_POLICY, {"policy": _doc({**PASS, **changes})}) == messages


def test_passrole_through_not_action() -> None:
    rule = "iam-passrole-scoped"
    everything_but_s3 = {"Sid": "Broad", "Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}
    assert _messages(rule, ROLE_POLICY, {"policy": _doc(everything_but_s3)}) == [
        "statement 'Broad' allows iam:PassRole on every role (Resource '*')",
        "statement 'Broad' allows iam:PassRole without an iam:PassedToService condition",
    ]
    assert _messages(rule, ROLE_POLICY, {"policy": _doc({**everything_but_s3, "NotAction": ["iam:*"]})}) == []


def test_passrole_unrelated_or_denied_statements_are_ignored() -> None:
    deny = {**PASS, "Effect": "Deny", "Resource": "*", "Condition": None}
    assert _messages("iam-passrole-scoped", ROLE_POLICY, {"policy": _doc(READ, deny)}) == []


def test_passrole_condition_requirement_can_be_relaxed() -> None:
    config = {"iam-passrole-scoped": {"requirePassedToService": False}}
    props = {"policy": _doc({**PASS, "Resource": "*", "Condition": None})}
    assert _messages("iam-passrole-scoped", ROLE_POLICY, props, config) == [ON_EVERY_ROLE]


# --- iam-trust-scoped --------------------------------------------------------------------------
TRUST_MESSAGE = (
    "statement #0 lets events.amazonaws.com, scheduler.amazonaws.com assume the role "
    "without an aws:SourceAccount or aws:SourceArn condition"
)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:events:eu-west-1:111111111111:rule/*"}}}, None),
        ({"Condition": {"StringEquals": {"aws:SourceOrgID": "o-abc"}}}, None),
        ({"Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Condition": None}, None),
        ({"Effect": "Deny", "Condition": None}, None),
        ({"Condition": None}, TRUST_MESSAGE),
        ({"Condition": {"StringEquals": {"sts:ExternalId": "x"}}}, TRUST_MESSAGE),
        ({"Condition": {"StringEqualsIfExists": {"aws:SourceAccount": "111111111111"}}}, TRUST_MESSAGE),
        (
            {"Principal": {"Service": "sagemaker.amazonaws.com"}, "Condition": None},
            "statement #0 lets sagemaker.amazonaws.com assume the role without an aws:SourceAccount or "
            "aws:SourceArn condition",
        ),
    ],
)
def test_trust(changes: dict[str, Any], message: str | None) -> None:
    props = _role(trust=_doc({**TRUST, **changes}))
    assert _messages("iam-trust-scoped", ROLE, props) == ([message] if message else [])


def test_trust_exempt_services_are_configurable() -> None:
    props = _role(trust=_doc({**TRUST, "Principal": {"Service": "ec2.amazonaws.com"}, "Condition": None}))
    config = {"iam-trust-scoped": {"exemptServices": ["ec2.amazonaws.com"]}}
    assert _messages("iam-trust-scoped", ROLE, props, config) == []


# --- unknowns and wrong shapes -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "type_", "props"),
    [
        ("iam-no-wildcard-actions", ROLE_POLICY, {"policy": UNKNOWN}),
        ("iam-no-wildcard-actions", ROLE, {"inlinePolicies": UNKNOWN}),
        ("iam-no-wildcard-actions", ROLE, {"inlinePolicies": [{"name": "x", "policy": UNKNOWN}]}),
        ("iam-no-sagemaker-full-access", ATTACHMENT, {"policyArn": UNKNOWN}),
        ("iam-no-sagemaker-full-access", ROLE, {"managedPolicyArns": [UNKNOWN]}),
        ("iam-passrole-scoped", ROLE_POLICY, {"policy": _doc({**PASS, "Resource": UNKNOWN}, as_string=False)}),
        ("iam-trust-scoped", ROLE, {"assumeRolePolicy": UNKNOWN}),
    ],
)
def test_unknown_is_not_evaluated(rule: str, type_: str, props: dict[str, Any]) -> None:
    assert _not_evaluated(_run(rule, type_, props))


ODD_DOCUMENTS = [None, "", "not json", "[]", 5, {"Statement": 5}, {"Statement": [None, "x", {"Effect": "Allow"}]}]
ODD_STATEMENTS = [
    {"Effect": "Allow", "Action": 5, "Resource": False, "Condition": "x", "Principal": 3},
    {"Effect": "Allow", "Action": None, "NotAction": None, "Principal": {"Service": 7}},
    {"Effect": "Allow", "Action": ["iam:PassRole", None], "Condition": {"StringEquals": ["x"]}, "Principal": "*"},
]


@pytest.mark.parametrize("rule", RULES)
def test_wrong_shapes_do_not_raise(rule: str) -> None:
    for document in [*ODD_DOCUMENTS, *(_doc(s, as_string=False) for s in ODD_STATEMENTS)]:
        for type_, props in [
            (ROLE_POLICY, {"policy": document}),
            (ROLE, {"assumeRolePolicy": document, "inlinePolicies": [{"name": 3, "policy": document}, None, "x"]}),
            (ROLE, {"inlinePolicies": "x", "managedPolicyArns": 5}),
            (ATTACHMENT, {"policyArn": [SAGEMAKER_FULL]}),
            (ATTACHMENT, {}),
        ]:
            _messages(rule, type_, props)


# --- the real plans ----------------------------------------------------------------------------
@pytest.mark.parametrize("environment", read_document(EXAMPLE).environments)
def test_real_plan_has_no_violations(plans, environment: str) -> None:  # type: ignore[no-untyped-def]
    resources = [Resource.from_plan(r.as_dict()) for r in plans(environment).resources]
    assert {ROLE, ROLE_POLICY} <= {r.type for r in resources}
    report = run_pack(iam.POLICIES, resources)
    assert report.violations == [] and report.not_evaluated == []
