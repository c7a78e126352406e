"""S3: every bucket is KMS-encrypted, versioned, private, TLS-only, and prunes old versions.

Resource rules check the content of each bucket sub-resource; stack rules check that
every bucket has one. pulumi-aws 7 deprecates the Bucket's inline configuration, so
only the separate resources count.

Which bucket a sub-resource configures: when both the sub-resource's `bucket` and the
Bucket's `bucket` are known strings, they must be equal. Otherwise (the name is
unknown during preview, or the Bucket uses bucketPrefix) the sub-resource configures
the Bucket it depends on, the Bucket that is its parent, or its sibling Bucket when it
is the only Bucket under their common parent component (mlstack's SecureBucket).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)
from pulumi_policy.proxy import UnknownValueError

from ._base import (
    Meta,
    StackCheck,
    for_types,
    get,
    number,
    policy_document,
    resource_rule,
    stack_rule,
    truthy,
)
from .iam import label, listed, shown, statements, strings

BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
PUBLIC_ACCESS_BLOCK = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
LIFECYCLE = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


# --- resource rules -------------------------------------------------------------------------
@for_types(*ENCRYPTION)
def _sse_kms(args: ResourceValidationArgs, report: ReportViolation) -> None:
    rules = listed(args.props.get("rules"))
    if not rules:
        report("no encryption rule: add one with sseAlgorithm aws:kms and a kmsMasterKeyId")
    for index, rule in enumerate(rules):
        default = get(rule, "applyServerSideEncryptionByDefault")
        algorithm, key = get(default, "sseAlgorithm"), get(default, "kmsMasterKeyId")
        if algorithm not in KMS_ALGORITHMS:
            report(f"rule {index}: sseAlgorithm is {shown(algorithm)}, not aws:kms or aws:kms:dsse")
        elif not isinstance(key, str) or not key.strip():
            report(f"rule {index}: kmsMasterKeyId is unset, so S3 uses the AWS managed key aws/s3")
        elif key == "alias/aws/s3" or key.endswith(":alias/aws/s3"):
            report(f"rule {index}: kmsMasterKeyId is the AWS managed key {key}, not a customer managed key")


@for_types(*VERSIONING)
def _versioning(args: ResourceValidationArgs, report: ReportViolation) -> None:
    status = get(args.props, "versioningConfiguration", "status")
    if status != "Enabled":
        report(f"versioningConfiguration.status is {shown(status)}, must be 'Enabled'")


@for_types(*PUBLIC_ACCESS_BLOCK)
def _public_access(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for flag in PUBLIC_ACCESS_FLAGS:
        value = args.props.get(flag)
        if not truthy(value):
            report(f"{flag} is {shown(value)}, must be true")


def _tls_gaps(statement: Mapping[str, Any], bucket: Any) -> list[str]:
    """What a Deny-on-insecure-transport statement leaves uncovered (empty: it is complete)."""
    gaps = []
    principal = statement.get("Principal")
    if principal != "*" and not (isinstance(principal, Mapping) and "*" in strings(principal.get("AWS"))):
        gaps.append("every principal ('*')")
    if not {"*", "s3:*"} & set(strings(statement.get("Action"))):
        gaps.append("every action ('s3:*')")
    resources = strings(statement.get("Resource"))
    if "*" not in resources:
        names = {m[1] for r in resources if (m := re.fullmatch(r"arn:[\w-]+:s3:::([^/*]+)", r))}
        objects = {m[1] for r in resources if (m := re.fullmatch(r"arn:[\w-]+:s3:::([^/*]+)/\*", r))}
        covered = names & objects
        if not (bucket in covered if isinstance(bucket, str) and bucket else covered):
            name = bucket if isinstance(bucket, str) and bucket else "<bucket>"
            gaps.append(f"arn:aws:s3:::{name} and arn:aws:s3:::{name}/*")
    return gaps


def _denies_insecure_transport(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect") != "Deny":
        return False
    condition = statement.get("Condition")
    for operator in ("Bool", "BoolIfExists"):
        clause = get(condition, operator)
        if isinstance(clause, Mapping):
            for key, value in clause.items():
                if str(key).lower() == "aws:securetransport" and [str(v).lower() for v in listed(value)] == ["false"]:
                    return True
    return False


@for_types(BUCKET_POLICY)
def _tls_only(args: ResourceValidationArgs, report: ReportViolation) -> None:
    bucket = args.props.get("bucket")
    candidates = [
        (index, statement)
        for index, statement in enumerate(statements(policy_document(args.props.get("policy"))))
        if _denies_insecure_transport(statement)
    ]
    if not candidates:
        report('no Deny statement with condition {"Bool": {"aws:SecureTransport": "false"}}: plain HTTP is allowed')
        return
    gaps = [(index, statement, _tls_gaps(statement, bucket)) for index, statement in candidates]
    if all(missing for _, _, missing in gaps):
        for index, statement, missing in gaps:
            report(f"statement {label(statement, index)} denies insecure transport but not for {', '.join(missing)}")


# --- stack rules: every bucket has its sub-resources ----------------------------------------
def _known_name(resource: PolicyResource) -> str | None:
    """The `bucket` prop if it is a known, non-empty string; None sends matching to the graph."""
    try:
        value = get(resource.props, "bucket")
    except UnknownValueError:
        return None
    return value if isinstance(value, str) and value else None


def _configures(sub: PolicyResource, bucket: PolicyResource, only_bucket_under: set[str]) -> bool:
    sub_name, bucket_name = _known_name(sub), _known_name(bucket)
    if sub_name and bucket_name:
        return sub_name == bucket_name
    if any(dependency.urn == bucket.urn for dependency in sub.dependencies or ()):
        return True
    parent = sub.parent
    if parent is None:
        return False
    siblings = bucket.parent is not None and bucket.parent.urn == parent.urn and parent.urn in only_bucket_under
    return parent.urn == bucket.urn or siblings


def _buckets_with(resources: Sequence[PolicyResource], types: Sequence[str]) -> Iterator[tuple[PolicyResource, list]]:
    """Each Bucket with the sub-resources of `types` that configure it."""
    buckets = [r for r in resources if r.resource_type in BUCKETS]
    parents = [b.parent.urn for b in buckets if b.parent is not None]
    only_bucket_under = {urn for urn in parents if parents.count(urn) == 1}
    subs = [r for r in resources if r.resource_type in types]
    for bucket in buckets:
        yield bucket, [sub for sub in subs if _configures(sub, bucket, only_bucket_under)]


def _requires(types: Sequence[str], what: str) -> StackCheck:
    def check(args: StackValidationArgs, report: ReportViolation) -> None:
        for bucket, subs in _buckets_with(args.resources, types):
            if not subs:
                report(f"bucket '{bucket.name}' has no {what}", bucket.urn)

    return check


def _expires_noncurrent(config: PolicyResource) -> bool:
    for rule in listed(config.props.get("rules")):
        days = number(get(rule, "noncurrentVersionExpiration", "noncurrentDays"))
        if get(rule, "status") == "Enabled" and days is not None and days > 0:
            return True
    return False


def _noncurrent_expire(args: StackValidationArgs, report: ReportViolation) -> None:
    for bucket, configs in _buckets_with(args.resources, LIFECYCLE):
        if not configs:
            report(f"bucket '{bucket.name}' has no BucketLifecycleConfiguration", bucket.urn)
        elif not any(_expires_noncurrent(config) for config in configs):
            report(f"bucket '{bucket.name}' has no enabled lifecycle rule with noncurrentVersionExpiration", bucket.urn)


_FIX_SECURE_BUCKET = "Create buckets through mlstack's SecureBucket component, which adds all of these."
POLICIES = [
    resource_rule(
        "s3-sse-kms-customer-key",
        Meta(
            description="Bucket default encryption uses SSE-KMS (aws:kms or aws:kms:dsse) with a customer managed key.",
            severity=Severity.HIGH,
            controls=("CKV_AWS_145", "S3.17"),
            fix="Set sse_algorithm='aws:kms' and kms_master_key_id to the project key's ARN. " + _FIX_SECURE_BUCKET,
        ),
        _sse_kms,
    ),
    resource_rule(
        "s3-versioning-enabled",
        Meta(
            description="Bucket versioning is Enabled, so overwritten or deleted objects can be recovered.",
            severity=Severity.MEDIUM,
            controls=("CKV_AWS_21", "S3.14"),
            fix="Set versioning_configuration={'status': 'Enabled'}. " + _FIX_SECURE_BUCKET,
        ),
        _versioning,
    ),
    resource_rule(
        "s3-public-access-blocked",
        Meta(
            description="A bucket's public access block sets all four flags to true.",
            severity=Severity.HIGH,
            controls=("CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56", "S3.8"),
            fix="Set block_public_acls, block_public_policy, ignore_public_acls and restrict_public_buckets to True.",
        ),
        _public_access,
    ),
    resource_rule(
        "s3-tls-only",
        Meta(
            description=(
                "The bucket policy denies every principal every S3 action on the bucket and its objects "
                "when aws:SecureTransport is false."
            ),
            severity=Severity.MEDIUM,
            controls=("S3.5",),
            fix=(
                'Add {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [<bucket arn>, '
                '<bucket arn>/*], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}. ' + _FIX_SECURE_BUCKET
            ),
        ),
        _tls_only,
    ),
    stack_rule(
        "s3-bucket-encrypted",
        Meta(
            description="Every bucket has a BucketServerSideEncryptionConfiguration (see s3-sse-kms-customer-key).",
            severity=Severity.HIGH,
            controls=("CKV_AWS_145", "S3.17"),
            fix=_FIX_SECURE_BUCKET,
        ),
        _requires(ENCRYPTION, "BucketServerSideEncryptionConfiguration"),
    ),
    stack_rule(
        "s3-bucket-versioned",
        Meta(
            description="Every bucket has a BucketVersioning (its content: s3-versioning-enabled).",
            severity=Severity.MEDIUM,
            controls=("CKV_AWS_21", "S3.14"),
            fix=_FIX_SECURE_BUCKET,
        ),
        _requires(VERSIONING, "BucketVersioning"),
    ),
    stack_rule(
        "s3-bucket-private",
        Meta(
            description="Every bucket has a BucketPublicAccessBlock (its content: s3-public-access-blocked).",
            severity=Severity.HIGH,
            controls=("CKV2_AWS_6", "S3.8"),
            fix=_FIX_SECURE_BUCKET,
        ),
        _requires(PUBLIC_ACCESS_BLOCK, "BucketPublicAccessBlock"),
    ),
    stack_rule(
        "s3-noncurrent-versions-expire",
        Meta(
            description=(
                "Every bucket has a lifecycle configuration with an enabled rule expiring noncurrent "
                "versions, so versioning does not keep every overwritten artifact forever (cost)."
            ),
            severity=Severity.LOW,
            controls=("CKV2_AWS_61", "S3.10", "S3.13"),
            fix="Add a BucketLifecycleConfiguration rule with noncurrent_version_expiration. " + _FIX_SECURE_BUCKET,
        ),
        _noncurrent_expire,
    ),
]
