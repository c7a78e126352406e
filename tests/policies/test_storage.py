"""S3 rules: compliant fixtures, one mutation per requirement, unknowns, wrong shapes, the real plans."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from mlstack.policies.rules import by_name, storage
from mlstack.policies.testing import UNKNOWN, Report, Resource, run_pack, run_resource_policy, run_stack_policy
from mlstack.spec import read_document
from tests.conftest import EXAMPLE

KEY_ARN = "arn:aws:kms:eu-west-1:111111111111:key/1234"
BUCKET = "card-fraud-dev-artifacts"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"


def _run(rule: str, type_: str, props: Any, config: dict | None = None) -> Report:
    return run_resource_policy(by_name(rule), [Resource(type_, props)], config)  # type: ignore[arg-type]


def _messages(rule: str, type_: str, props: Any) -> list[str]:
    return _run(rule, type_, props).messages()


# --- s3-sse-kms-customer-key -----------------------------------------------------------------
def _sse(algorithm: Any = "aws:kms", key: Any = KEY_ARN) -> dict[str, Any]:
    default = {"sseAlgorithm": algorithm, "kmsMasterKeyId": key}
    return {"bucket": BUCKET, "rules": [{"applyServerSideEncryptionByDefault": default, "bucketKeyEnabled": True}]}


def test_sse_compliant_including_dsse_and_the_v2_type() -> None:
    assert _messages("s3-sse-kms-customer-key", SSE, _sse()) == []
    assert _messages("s3-sse-kms-customer-key", SSE, _sse("aws:kms:dsse")) == []
    v2 = "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
    assert _messages("s3-sse-kms-customer-key", v2, _sse()) == []
    assert _messages("s3-sse-kms-customer-key", v2, _sse("AES256")) == [
        "rule 0: sseAlgorithm is 'AES256', not aws:kms or aws:kms:dsse"
    ]


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (_sse("AES256"), "rule 0: sseAlgorithm is 'AES256', not aws:kms or aws:kms:dsse"),
        (_sse(None), "rule 0: sseAlgorithm is unset, not aws:kms or aws:kms:dsse"),
        (_sse(key=None), "rule 0: kmsMasterKeyId is unset, so S3 uses the AWS managed key aws/s3"),
        (
            _sse(key="alias/aws/s3"),
            "rule 0: kmsMasterKeyId is the AWS managed key alias/aws/s3, not a customer managed key",
        ),
        ({"bucket": BUCKET, "rules": []}, "no encryption rule: add one with sseAlgorithm aws:kms and a kmsMasterKeyId"),
    ],
)
def test_sse_each_requirement(props: dict[str, Any], message: str) -> None:
    assert _messages("s3-sse-kms-customer-key", SSE, props) == [message]


def test_sse_every_rule_is_checked() -> None:
    props = _sse()
    props["rules"].append({"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}})
    assert _messages("s3-sse-kms-customer-key", SSE, props) == [
        "rule 1: sseAlgorithm is 'AES256', not aws:kms or aws:kms:dsse"
    ]


@pytest.mark.parametrize("props", [{"rules": UNKNOWN}, _sse(key=UNKNOWN), _sse(algorithm=UNKNOWN)])
def test_sse_unknown_is_not_evaluated(props: dict[str, Any]) -> None:
    report = _run("s3-sse-kms-customer-key", SSE, props)
    assert report.violations == [] and len(report.not_evaluated) == 1


@pytest.mark.parametrize("rules", [None, "aws:kms", [None, "x"], {"applyServerSideEncryptionByDefault": "aws:kms"}])
def test_sse_wrong_shapes_report_without_raising(rules: Any) -> None:
    assert _messages("s3-sse-kms-customer-key", SSE, {"rules": rules})


# --- s3-versioning-enabled -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("configuration", "message"),
    [
        ({"status": "Enabled"}, None),
        ({"status": "Suspended"}, "versioningConfiguration.status is 'Suspended', must be 'Enabled'"),
        ({}, "versioningConfiguration.status is unset, must be 'Enabled'"),
        (None, "versioningConfiguration.status is unset, must be 'Enabled'"),
        ("Enabled", "versioningConfiguration.status is unset, must be 'Enabled'"),
    ],
)
def test_versioning(configuration: Any, message: str | None) -> None:
    props = {"bucket": BUCKET, "versioningConfiguration": configuration}
    assert _messages("s3-versioning-enabled", VERSIONING, props) == ([message] if message else [])


def test_versioning_unknown_is_not_evaluated() -> None:
    report = _run("s3-versioning-enabled", VERSIONING, {"versioningConfiguration": {"status": UNKNOWN}})
    assert report.violations == [] and len(report.not_evaluated) == 1


# --- s3-public-access-blocked ----------------------------------------------------------------
FLAGS = {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True, "restrictPublicBuckets": True}


def test_public_access_compliant() -> None:
    assert _messages("s3-public-access-blocked", PAB, {"bucket": BUCKET, **FLAGS}) == []


@pytest.mark.parametrize("flag", sorted(FLAGS))
def test_public_access_each_flag_false_or_missing(flag: str) -> None:
    assert _messages("s3-public-access-blocked", PAB, {**FLAGS, flag: False}) == [f"{flag} is false, must be true"]
    missing = {k: v for k, v in FLAGS.items() if k != flag}
    assert _messages("s3-public-access-blocked", PAB, missing) == [f"{flag} is unset, must be true"]


def test_public_access_one_message_per_flag() -> None:
    assert _messages("s3-public-access-blocked", PAB, {"blockPublicAcls": "no"}) == [
        "blockPublicAcls is 'no', must be true",
        "blockPublicPolicy is unset, must be true",
        "ignorePublicAcls is unset, must be true",
        "restrictPublicBuckets is unset, must be true",
    ]


def test_public_access_odd_values_are_named_not_dumped() -> None:
    assert _messages("s3-public-access-blocked", PAB, {**FLAGS, "ignorePublicAcls": [True]}) == [
        "ignorePublicAcls is a list, must be true"
    ]
    assert _messages("s3-public-access-blocked", PAB, {**FLAGS, "ignorePublicAcls": 1}) == [
        "ignorePublicAcls is 1, must be true"
    ]


def test_public_access_unknown_is_not_evaluated() -> None:
    report = _run("s3-public-access-blocked", PAB, {**FLAGS, "blockPublicPolicy": UNKNOWN})
    assert report.violations == [] and len(report.not_evaluated) == 1


# --- s3-tls-only -----------------------------------------------------------------------------
def _deny_http(**changes: Any) -> dict[str, Any]:
    statement = {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    statement.update(changes)
    return {"bucket": BUCKET, "policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})}


def test_tls_compliant_as_json_string_or_mapping() -> None:
    assert _messages("s3-tls-only", POLICY, _deny_http()) == []
    parsed = {"bucket": BUCKET, "policy": json.loads(_deny_http()["policy"])}
    assert _messages("s3-tls-only", POLICY, parsed) == []
    assert _messages("s3-tls-only", POLICY, _deny_http(Principal={"AWS": "*"}, Resource="*")) == []
    assert _messages("s3-tls-only", POLICY, _deny_http(Condition={"Bool": {"aws:SecureTransport": False}})) == []


NO_DENY = 'no Deny statement with condition {"Bool": {"aws:SecureTransport": "false"}}: plain HTTP is allowed'


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"Effect": "Allow"}, NO_DENY),
        ({"Condition": {"Bool": {"aws:SecureTransport": "true"}}}, NO_DENY),
        (
            {"Principal": {"AWS": "arn:aws:iam::111111111111:root"}},
            "statement 'DenyInsecureTransport' denies insecure transport but not for every principal ('*')",
        ),
        (
            {"Action": ["s3:GetObject"]},
            "statement 'DenyInsecureTransport' denies insecure transport but not for every action ('s3:*')",
        ),
        (
            {"Resource": f"arn:aws:s3:::{BUCKET}"},
            "statement 'DenyInsecureTransport' denies insecure transport but not for "
            f"arn:aws:s3:::{BUCKET} and arn:aws:s3:::{BUCKET}/*",
        ),
        (
            {"Resource": ["arn:aws:s3:::other", "arn:aws:s3:::other/*"]},
            "statement 'DenyInsecureTransport' denies insecure transport but not for "
            f"arn:aws:s3:::{BUCKET} and arn:aws:s3:::{BUCKET}/*",
        ),
    ],
)
def test_tls_each_requirement(changes: dict[str, Any], message: str) -> None:
    assert _messages("s3-tls-only", POLICY, _deny_http(**changes)) == [message]


def test_tls_unnamed_statement_is_named_by_position() -> None:
    props = _deny_http(Action="s3:GetObject")
    document = json.loads(props["policy"])
    del document["Statement"][0]["Sid"]
    assert _messages("s3-tls-only", POLICY, {**props, "policy": document}) == [
        "statement #0 denies insecure transport but not for every action ('s3:*')"
    ]


@pytest.mark.parametrize("props", [{"bucket": BUCKET, "policy": UNKNOWN}, {"bucket": UNKNOWN, "policy": "{}"}])
def test_tls_unknown_is_not_evaluated(props: dict[str, Any]) -> None:
    report = _run("s3-tls-only", POLICY, props)
    assert report.violations == [] and len(report.not_evaluated) == 1


@pytest.mark.parametrize("policy", [None, {"Statement": "x"}, {"Statement": 3}, {"Statement": [None, 3]}])
def test_tls_wrong_shapes_report_without_raising(policy: Any) -> None:
    assert _messages("s3-tls-only", POLICY, {"bucket": BUCKET, "policy": policy}) == [NO_DENY]


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("not json", "policy is not valid JSON: Expecting value: line 1 column 1 (char 0)"),
        ("[]", "policy is not a JSON object: it holds a list"),
    ],
)
def test_tls_unreadable_policy_is_reported(policy: str, message: str) -> None:
    assert _messages("s3-tls-only", POLICY, {"bucket": BUCKET, "policy": policy}) == [message]


def test_tls_without_a_bucket_name_accepts_any_bucket_and_its_objects() -> None:
    assert _messages("s3-tls-only", POLICY, {"policy": _deny_http()["policy"]}) == []


# --- stack rules: every bucket has its sub-resources -----------------------------------------
COMPONENT = "urn:pulumi:test::project::mlstack:storage:SecureBucket::artifacts"
BUCKET_URN = f"{COMPONENT}$aws:s3/bucket:Bucket::artifacts-bucket"
SUBS = {
    "s3-bucket-encrypted": (SSE, _sse(), "BucketServerSideEncryptionConfiguration"),
    "s3-bucket-versioned": (
        VERSIONING,
        {"bucket": BUCKET, "versioningConfiguration": {"status": "Enabled"}},
        "BucketVersioning",
    ),
    "s3-bucket-private": (PAB, {"bucket": BUCKET, **FLAGS}, "BucketPublicAccessBlock"),
}
LIFECYCLE_RULES = [{"id": "expire", "status": "Enabled", "noncurrentVersionExpiration": {"noncurrentDays": 90}}]


def _bucket(props: Any = None, parent: str = COMPONENT, urn: str = BUCKET_URN) -> Resource:
    props = {"bucket": BUCKET} if props is None else props
    return Resource("aws:s3/bucket:Bucket", props, urn=urn, name=urn.rsplit("::", 1)[1], parent=parent)


def _sub(type_: str, props: Any, parent: str = "", dependencies: tuple[str, ...] = ()) -> Resource:
    return Resource(type_, props, name=type_.rsplit(":", 1)[1].lower(), parent=parent, dependencies=dependencies)


def _stack() -> list[Resource]:
    subs = [_sub(t, p, parent=COMPONENT, dependencies=(BUCKET_URN,)) for t, p, _ in SUBS.values()]
    lifecycle = _sub(LIFECYCLE, {"bucket": BUCKET, "rules": LIFECYCLE_RULES}, COMPONENT, (BUCKET_URN,))
    return [Resource("mlstack:storage:SecureBucket", {}, urn=COMPONENT), _bucket(), *subs, lifecycle]


def _stack_messages(rule: str, resources: list[Resource]) -> list[str]:
    return run_stack_policy(by_name(rule), resources).messages()  # type: ignore[arg-type]


STACK_RULES = [*SUBS, "s3-noncurrent-versions-expire"]


@pytest.mark.parametrize("rule", STACK_RULES)
def test_stack_compliant(rule: str) -> None:
    assert _stack_messages(rule, _stack()) == []


@pytest.mark.parametrize("rule", sorted(SUBS))
def test_stack_each_missing_sub_resource_is_named_on_the_bucket(rule: str) -> None:
    type_, _, what = SUBS[rule]
    report = run_stack_policy(by_name(rule), [r for r in _stack() if r.type != type_])  # type: ignore[arg-type]
    assert report.messages() == [f"bucket 'artifacts-bucket' has no {what}"]
    assert report.violations[0].urn == BUCKET_URN


def test_stack_noncurrent_expiry_requirements() -> None:
    rule = "s3-noncurrent-versions-expire"
    without = [r for r in _stack() if r.type != LIFECYCLE]
    assert _stack_messages(rule, without) == ["bucket 'artifacts-bucket' has no BucketLifecycleConfiguration"]
    no_expiry = "bucket 'artifacts-bucket' has no enabled lifecycle rule with noncurrentVersionExpiration"
    for rules in ([{**LIFECYCLE_RULES[0], "status": "Disabled"}], [{"id": "x", "status": "Enabled"}], None, "x"):
        stack = [*without, _sub(LIFECYCLE, {"bucket": BUCKET, "rules": rules}, COMPONENT)]
        assert _stack_messages(rule, stack) == [no_expiry], rules


def test_stack_noncurrent_unknown_rules_are_not_evaluated() -> None:
    stack = [r for r in _stack() if r.type != LIFECYCLE] + [_sub(LIFECYCLE, {"bucket": BUCKET, "rules": UNKNOWN})]
    report = run_stack_policy(by_name("s3-noncurrent-versions-expire"), stack)  # type: ignore[arg-type]
    assert report.violations == [] and len(report.not_evaluated) == 1


def _versioning(props: dict[str, Any], parent: str = "", dependencies: tuple[str, ...] = ()) -> Resource:
    return _sub(VERSIONING, {"versioningConfiguration": {"status": "Enabled"}, **props}, parent, dependencies)


@pytest.mark.parametrize(
    ("bucket", "versioning", "matched"),
    [
        # Names decide when both are known, whatever the graph says.
        (_bucket(), _versioning({"bucket": BUCKET}), True),
        (_bucket(), _versioning({"bucket": "other"}, COMPONENT, (BUCKET_URN,)), False),
        # Unknown or missing names: depends on it, is its child, or its only sibling bucket.
        (_bucket(), _versioning({"bucket": UNKNOWN}, dependencies=(BUCKET_URN,)), True),
        (_bucket(), _versioning({"bucket": UNKNOWN}, parent=BUCKET_URN), True),
        (_bucket(), _versioning({"bucket": UNKNOWN}, parent=COMPONENT), True),
        (_bucket({"bucketPrefix": "x"}), _versioning({"bucket": BUCKET}, dependencies=(BUCKET_URN,)), True),
        (_bucket({"bucket": UNKNOWN}), _versioning({}, parent=COMPONENT), True),
        (_bucket(), _versioning({"bucket": UNKNOWN}), False),
        (_bucket(), _versioning({"bucket": UNKNOWN}, parent="urn:pulumi:test::project::other::x"), False),
    ],
)
def test_stack_matching(bucket: Resource, versioning: Resource, matched: bool) -> None:
    component = Resource("mlstack:storage:SecureBucket", {}, urn=COMPONENT)
    report = run_stack_policy(by_name("s3-bucket-versioned"), [component, bucket, versioning])  # type: ignore[arg-type]
    assert report.not_evaluated == []
    assert report.messages() == ([] if matched else ["bucket 'artifacts-bucket' has no BucketVersioning"])


def test_stack_sibling_match_needs_a_single_bucket_under_the_component() -> None:
    second = _bucket({"bucket": "logs"}, urn=f"{COMPONENT}$aws:s3/bucket:Bucket::logs-bucket")
    versioning = _versioning({"bucket": UNKNOWN}, parent=COMPONENT)
    component = Resource("mlstack:storage:SecureBucket", {}, urn=COMPONENT)
    assert _stack_messages("s3-bucket-versioned", [component, _bucket(), second, versioning]) == [
        "bucket 'artifacts-bucket' has no BucketVersioning",
        "bucket 'logs-bucket' has no BucketVersioning",
    ]


# --- the real plans ---------------------------------------------------------------------------
@pytest.mark.parametrize("environment", read_document(EXAMPLE).environments)
def test_real_plan_has_no_violations(plans, environment: str) -> None:  # type: ignore[no-untyped-def]
    resources = [Resource.from_plan(r.as_dict()) for r in plans(environment).resources]
    assert any(r.type == "aws:s3/bucket:Bucket" for r in resources)
    report = run_pack(storage.POLICIES, resources)
    assert report.violations == [] and report.not_evaluated == []


def test_real_plan_during_a_first_preview_matches_by_dependencies(plans) -> None:  # type: ignore[no-untyped-def]
    """On a first `pulumi preview` every `bucket` input of a sub-resource is unknown."""
    entries = [copy.deepcopy(r.as_dict()) for r in plans("prod").resources]
    for entry in entries:
        if entry["type"].startswith("aws:s3/bucket") and entry["type"] != "aws:s3/bucket:Bucket":
            entry["inputs"]["bucket"] = UNKNOWN
    report = run_pack([by_name(rule) for rule in STACK_RULES], [Resource.from_plan(e) for e in entries])
    assert report.violations == [] and report.not_evaluated == []
