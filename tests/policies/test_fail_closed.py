"""The pack fails closed and never crashes; the harness awaits async rules; a pack run is linear.

- Props of the wrong shape (strings for maps, lists for strings, None, numbers) never
  raise, in any rule: a fuzz over every prop (and every value inside JSON documents) of
  the example's real plans.
- Tags that are not a mapping, and policy documents that are not valid JSON, are
  reported, never passed.
- A validation function that returns an awaitable is awaited, as the engine does.
- `run_pack` wraps props and builds the stack view once, and the S3 stack rules match
  sub-resources to buckets through an index, not bucket x sub-resource (counted, not timed;
  the figures are in bench/policy_pack_timing.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from mlstack.policies import testing
from mlstack.policies.rules import ALL_POLICIES, MODULES, by_name, storage
from mlstack.policies.rules._base import Meta, Severity, for_types, resource_rule
from mlstack.policies.testing import UNKNOWN, Resource, run_pack, run_resource_policy, run_stack_policy
from tests.conftest import EXAMPLE

TAGS = {
    "project": "p",
    "environment": "prod",
    "owner": "o",
    "cost-centre": "c",
    "data-classification": "d",
    "managed-by": "mlstack",
}
BUCKET = "aws:s3/bucket:Bucket"
NOT_A_MAPPING = "tags is {}, not a mapping of key to value (or a list of {{key, value}} objects)"
BAD_JSON = "is not valid JSON: Expecting value: line 1 column 1 (char 0)"


def _messages(rule: str, resource: Resource) -> list[str]:
    return run_resource_policy(by_name(rule), [resource]).messages()  # type: ignore[arg-type]


# --- required-tags: tags that are not a mapping ----------------------------------------------
@pytest.mark.parametrize(("tags", "shown"), [("project=p", "'project=p'"), (5, "5"), (True, "true"), (2.5, "2.5")])
def test_tags_that_are_not_a_mapping_are_reported(tags: Any, shown: str) -> None:
    assert _messages("required-tags", Resource(BUCKET, {"tags": tags})) == [NOT_A_MAPPING.format(shown)]


def test_tag_list_entries_that_are_not_key_value_objects_are_reported() -> None:
    listed = [{"key": k, "value": v} for k, v in TAGS.items()]
    assert _messages("required-tags", Resource(BUCKET, {"tags": [*listed, "owner", None, {"key": 3}]})) == [
        "tags[6] is 'owner', not a {key, value} object with a string key",
        "tags[7] is unset, not a {key, value} object with a string key",
        "tags[8] is an object, not a {key, value} object with a string key",
    ]


def test_aws_native_tag_lists_still_count() -> None:
    native = "aws-native:sagemaker:ModelQualityJobDefinition"
    for key, value in (("key", "value"), ("Key", "Value")):
        tags = [{key: k, value: v} for k, v in TAGS.items()]
        assert _messages("required-tags", Resource(native, {"tags": tags})) == []


def test_tag_values_that_are_not_strings_are_reported() -> None:
    tags = {**TAGS, "owner": ["a", "b"], "project": {"x": 1}}
    assert _messages("required-tags", Resource(BUCKET, {"tags": tags})) == [
        "tags: the value of project is an object, not a string",
        "tags: the value of owner is a list, not a string",
    ]


def test_pipeline_step_tags_that_are_not_a_list_are_reported() -> None:
    step = {"Name": "Train", "Type": "Training", "Arguments": {"Tags": "team=ml"}}
    pipeline = {"tags": TAGS, "pipelineDefinition": json.dumps({"Steps": [step]})}
    assert _messages("required-tags", Resource("aws:sagemaker/pipeline:Pipeline", pipeline)) == [
        "Training step Train: Tags is 'team=ml', not a mapping of key to value (or a list of {key, value} objects)"
    ]


# --- policy documents that are not valid JSON ---------------------------------------------------
ROLE, ROLE_POLICY, KEY = "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:kms/key:Key"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
GROUP_POLICY = "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy"


@pytest.mark.parametrize(
    ("rule", "type_", "props", "message"),
    [
        (
            "iam-no-wildcard-actions",
            ROLE_POLICY,
            {"policy": "{'Statement': []}"},
            "policy is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        ("iam-passrole-scoped", ROLE_POLICY, {"policy": "nope"}, f"policy {BAD_JSON}"),
        (
            "iam-no-wildcard-actions",
            ROLE,
            {"inlinePolicies": [{"name": "read", "policy": "nope"}]},
            f"inline policy 'read': policy {BAD_JSON}",
        ),
        ("iam-passrole-scoped", ROLE, {"inlinePolicies": [{"policy": "nope"}]}, f"inline policy #0: policy {BAD_JSON}"),
        ("iam-trust-scoped", ROLE, {"assumeRolePolicy": "nope"}, f"assumeRolePolicy {BAD_JSON}"),
        ("kms-no-wildcard-principal", KEY, {"policy": "nope"}, f"policy {BAD_JSON}"),
        ("s3-tls-only", BUCKET_POLICY, {"bucket": "b", "policy": "nope"}, f"policy {BAD_JSON}"),
        ("model-package-group-policy-scoped", GROUP_POLICY, {"resourcePolicy": "nope"}, f"resourcePolicy {BAD_JSON}"),
    ],
)
def test_a_policy_that_is_not_valid_json_is_reported(rule: str, type_: str, props: Any, message: str) -> None:
    assert _messages(rule, Resource(type_, props)) == [message]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[]", "policy is not a JSON object: it holds a list"),
        ('"text"', "policy is not a JSON object: it holds 'text'"),
        ("5", "policy is not a JSON object: it holds 5"),
        (5, "policy is 5, not a policy document (a JSON string or an object)"),
        (["{}"], "policy is a list, not a policy document (a JSON string or an object)"),
        ("[" * 100_000, None),
    ],
)
def test_a_policy_that_is_not_a_json_object_is_reported(value: Any, message: str | None) -> None:
    for rule, type_ in [("iam-no-wildcard-actions", ROLE_POLICY), ("kms-no-wildcard-principal", KEY)]:
        messages = _messages(rule, Resource(type_, {"policy": value}))
        if message is None:  # nested too deep for the parser: still reported, not a RecursionError
            assert len(messages) == 1 and messages[0].startswith("policy is not valid JSON: "), messages
        else:
            assert messages == [message]


def test_a_pipeline_definition_nested_too_deep_is_reported_not_a_recursion_error() -> None:
    deep = Resource("aws:sagemaker/pipeline:Pipeline", {"pipelineDefinition": "[" * 100_000})
    report = run_pack(ALL_POLICIES, [deep])
    assert "pipelineDefinition is not a JSON object, so its steps can't be checked" in report.messages()


def test_a_valid_document_and_an_unset_one_still_pass() -> None:
    document = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    assert _messages("iam-no-wildcard-actions", Resource(ROLE_POLICY, {"policy": json.dumps(document)})) == []
    assert _messages("iam-no-wildcard-actions", Resource(ROLE_POLICY, {"policy": document})) == []
    assert _messages("kms-no-wildcard-principal", Resource(KEY, {})) == []
    assert _messages("model-package-group-policy-scoped", Resource(GROUP_POLICY, {})) == []


# --- no rule raises on props of the wrong shape ------------------------------------------------
ODD_VALUES: list[Any] = ["x", "", ["x", 1], [None], None, 5, True, {"x": "y"}, [{}], "nope{"]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into a props tree, descending into JSON strings (their paths end at the string)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node[:3]):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))
    elif isinstance(node, str) and node[:1] in "{[":
        try:
            parsed = json.loads(node)
        except ValueError:
            return
        for path in _paths(parsed):
            yield (*prefix, ("json", path))


def _set(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A copy of `node` with the value at `path` replaced (inside JSON strings too)."""
    if not path:
        return value
    head, *rest = path
    if isinstance(head, tuple):  # into a JSON string
        return json.dumps(_set(json.loads(node), head[1], value) if not rest else None)
    copied = dict(node) if isinstance(node, dict) else list(node)
    copied[head] = _set(copied[head], tuple(rest), value)
    return copied


def _distinct_resources(plans: Any) -> list[Resource]:
    """One resource of each type from the example's plans (prod is the fullest)."""
    seen: dict[str, Resource] = {}
    for environment in ("prod", "staging", "dev"):
        for entry in plans(environment).resources:
            resource = Resource.from_plan(entry.as_dict())
            seen.setdefault(resource.type, resource)
    return list(seen.values())


def test_no_rule_raises_on_props_of_the_wrong_shape(plans) -> None:  # type: ignore[no-untyped-def]
    assert EXAMPLE.exists()
    resources = _distinct_resources(plans)
    assert len(resources) > 20
    runs = 0
    for resource in resources:
        props = dict(resource.props)
        variants = [{key: value} for key in props for value in (None, "x")]  # each prop alone, odd
        # Paths up to four levels deep: the rules' reads; the property-based tests go deeper, at random.
        for path in (p for p in _paths(props) if len(p) <= 4):
            variants += [_set(props, path, value) for value in ODD_VALUES]
        # An even sample of at most 25 per type keeps this a few seconds; the long property-based
        # run (MLSTACK_HYPOTHESIS_PROFILE=long) covers the rest.
        for variant in variants[:: max(1, len(variants) // 25)]:
            mutated = Resource(resource.type, variant, urn=resource.urn, name=resource.name)
            try:
                report = run_pack(ALL_POLICIES, [mutated])
            except Exception as error:
                pytest.fail(f"{resource.type} with props {json.dumps(variant, default=str)[:400]}: {error!r}")
            assert all(isinstance(m, str) and "Traceback" not in m for m in report.messages())
            runs += 1
    assert runs > 500


def test_whole_props_of_the_wrong_shape_do_not_raise() -> None:
    """Every type a rule knows, every prop a rule reads, set to each odd value at once."""
    names = [
        name
        for module in MODULES
        for value in vars(module).values()
        for name in (value if isinstance(value, tuple | list | dict) else [value])
    ]
    types = {n for n in names if isinstance(n, str) and n.startswith(("aws:", "aws-native:")) and n.count(":") >= 2}
    assert len(types) > 20
    for type_ in sorted(types):
        for value in ODD_VALUES:
            run_pack(ALL_POLICIES, [Resource(type_, dict.fromkeys(_PROP_NAMES, value))])


_PROP_NAMES = [
    "tags", "policy", "assumeRolePolicy", "inlinePolicies", "managedPolicyArns", "policyArn", "rules", "bucket",
    "versioningConfiguration", "pipelineDefinition", "productionVariants", "dataCaptureConfig", "deploymentConfig",
    "primaryContainer", "containers", "vpcConfig", "kmsKeyArn", "resourcePolicy", "securityConfig",
    "onlineStoreConfig", "offlineStoreConfig", "monitoringScheduleConfig", "jobResources", "networkConfig",
    "enableKeyRotation", "deletionWindowInDays", "customerMasterKeySpec", "customKeyStoreId", "kmsMasterKeyId",
    "name", "target", "arn", "state", "dimensions", "metricQueries", "namespace", "metricName",
    "modelPackageGroupName", "pipelineName", "blockPublicAcls", "dataQualityJobInput", "dataQualityJobOutputConfig",
    "asyncInferenceConfig", "shadowProductionVariants", "pipelineDefinitionS3Location", "enableNetworkIsolation",
]  # fmt: skip


# --- async rules are awaited -----------------------------------------------------------------------
async def _async_check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.props.get("enableKeyRotation") is not True:
        report("async: rotation is off")


def _async_policy() -> ResourceValidationPolicy:
    return ResourceValidationPolicy(
        name="async-rotation",
        description="An async rule, as a platform team may write one.",
        validate=_async_check,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def test_an_async_resource_rule_is_awaited() -> None:
    report = run_resource_policy(_async_policy(), [Resource(KEY, {"enableKeyRotation": False})])
    assert report.messages() == ["async: rotation is off"]
    assert report.mandatory[0].policy == "async-rotation"
    assert run_resource_policy(_async_policy(), [Resource(KEY, {"enableKeyRotation": True})]).messages() == []


def test_an_async_rule_through_the_packs_constructors_is_awaited() -> None:
    """for_types must hand the awaitable on, not drop it."""
    rule = resource_rule("async-typed", Meta("typed async rule", Severity.LOW), for_types(KEY)(_async_check))
    report = run_pack([rule], [Resource(KEY, {}), Resource(BUCKET, {})])
    assert report.messages() == ["async: rotation is off"] and report.evaluated == 2


def test_an_async_rule_reading_an_unknown_is_not_evaluated() -> None:
    report = run_resource_policy(_async_policy(), [Resource(KEY, {"enableKeyRotation": UNKNOWN})])
    assert report.violations == [] and len(report.not_evaluated) == 1


def test_an_async_stack_rule_is_awaited() -> None:
    async def check(args: StackValidationArgs, report: ReportViolation) -> None:
        for resource in args.resources:
            report(f"async: saw {resource.name}", resource.urn)

    policy = StackValidationPolicy(name="async-stack", description="d", validate=check)
    assert run_stack_policy(policy, [Resource(KEY, {}, name="k")]).messages() == ["async: saw k"]
    assert run_pack([policy], [Resource(KEY, {}, name="k")]).messages() == ["async: saw k"]


# --- linear pack runs (counted, not timed) ---------------------------------------------------------
SUBS = [
    ("aws:s3/bucketVersioning:BucketVersioning", "versioning", {"versioningConfiguration": {"status": "Enabled"}}),
    ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "sse", {}),
    ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "pab", {}),
    ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "lifecycle", {}),
]


def _buckets(count: int, *, skip_versioning_every: int = 0) -> list[Resource]:
    """`count` SecureBucket components; every nth one's BucketVersioning left out, if asked."""
    resources = []
    for i in range(count):
        component = f"urn:pulumi:test::p::mlstack:storage:SecureBucket::b{i}"
        bucket = f"{component}$aws:s3/bucket:Bucket::b{i}-bucket"
        resources += [
            Resource("mlstack:storage:SecureBucket", {}, urn=component),
            Resource(BUCKET, {"bucket": f"b-{i}"}, urn=bucket, name=f"b{i}-bucket", parent=component),
        ]
        for type_, suffix, props in SUBS:
            if suffix == "versioning" and skip_versioning_every and i % skip_versioning_every == 0:
                continue
            # Half match by name, half by the graph (the name unknown, as on a first preview).
            name = f"b-{i}" if i % 2 else UNKNOWN
            resources.append(
                Resource(
                    type_,
                    {"bucket": name, **props},
                    urn=f"{component}${type_}::b{i}-{suffix}",
                    parent=component,
                    dependencies=(bucket,),
                )
            )
    return resources


def test_run_pack_wraps_props_and_builds_the_stack_view_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"proxy": 0, "options": 0}
    proxy, options = testing.unknown_checking_proxy, Resource.options

    def counting_proxy(props: Any) -> Any:
        calls["proxy"] += 1
        return proxy(props)

    def counting_options(self: Resource) -> Any:
        calls["options"] += 1
        return options(self)

    monkeypatch.setattr(testing, "unknown_checking_proxy", counting_proxy)
    monkeypatch.setattr(Resource, "options", counting_options)
    resources = _buckets(20)
    run_pack(ALL_POLICIES, resources)
    assert calls == {"proxy": len(resources), "options": len(resources)}


def test_s3_stack_rules_index_buckets_once_per_run(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = 0
    known_name = storage._known_name

    def counting(resource: Any) -> Any:
        nonlocal reads
        reads += 1
        return known_name(resource)

    monkeypatch.setattr(storage, "_known_name", counting)
    resources = _buckets(200, skip_versioning_every=7)
    report = run_pack(ALL_POLICIES, resources)
    buckets_and_subs = sum(r.type.startswith("aws:s3/") for r in resources)
    assert reads <= buckets_and_subs  # each bucket and sub-resource read once; a scan is 8 x 200 x 200
    expected = [f"bucket 'b{i}-bucket' has no BucketVersioning" for i in range(0, 200, 7)]
    assert report.messages("s3-bucket-versioned") == expected
    assert report.messages("s3-bucket-private") == []


def test_the_shared_index_gives_what_fresh_views_give() -> None:
    resources = _buckets(30, skip_versioning_every=4)
    shared = run_pack(ALL_POLICIES, resources)
    for rule in ("s3-bucket-encrypted", "s3-bucket-versioned", "s3-bucket-private", "s3-noncurrent-versions-expire"):
        fresh = run_stack_policy(by_name(rule), resources)  # type: ignore[arg-type]
        assert shared.messages(rule) == fresh.messages(), rule
