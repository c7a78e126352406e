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
    raw = args.props.get("policy")
    document = policy_document(raw, "policy", report)
    if document is None and raw is not None:
        return  # reported: a policy we cannot read proves nothing
    candidates = [
        (index, statement)
        for index, statement in enumerate(statements(document))
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


class _BucketIndex:
    """Which sub-resources configure each Bucket, computed in one pass over the stack.

    For each sub-resource, the candidate Buckets come from lookups (same known name;
    the Buckets it depends on; its parent; the only Bucket under its parent), never
    from a scan of every Bucket, so building the index is linear in the stack's size.
    """

    def __init__(self, resources: Sequence[PolicyResource]) -> None:
        self.buckets = [r for r in resources if r.resource_type in BUCKETS]
        names = {id(b): _known_name(b) for b in self.buckets}
        by_urn = {b.urn: b for b in self.buckets}
        by_name: dict[str, list[PolicyResource]] = {}
        under: dict[str, list[PolicyResource]] = {}
        for bucket in self.buckets:
            name = names[id(bucket)]
            if name:
                by_name.setdefault(name, []).append(bucket)
            if bucket.parent is not None:
                under.setdefault(bucket.parent.urn, []).append(bucket)
        self.subs: dict[tuple[int, str], list[PolicyResource]] = {}
        for sub in resources:
            if sub.resource_type not in _SUB_TYPES:
                continue
            sub_name = _known_name(sub)
            graph = [by_urn[d.urn] for d in sub.dependencies or () if d.urn in by_urn]
            if sub.parent is not None:
                graph += [by_urn[sub.parent.urn]] if sub.parent.urn in by_urn else []
                siblings = under.get(sub.parent.urn, [])
                graph += siblings if len(siblings) == 1 else []
            # Names decide when both are known; otherwise the graph does.
            matched = by_name.get(sub_name, []) if sub_name else []
            matched += [b for b in graph if not (sub_name and names[id(b)])]
            seen: set[int] = set()
            for bucket in matched:
                if id(bucket) not in seen:
                    seen.add(id(bucket))
                    self.subs.setdefault((id(bucket), sub.resource_type), []).append(sub)

    def configuring(self, bucket: PolicyResource, types: Sequence[str]) -> list[PolicyResource]:
        return [sub for type_ in types for sub in self.subs.get((id(bucket), type_), [])]


_SUB_TYPES = frozenset((*ENCRYPTION, *VERSIONING, *PUBLIC_ACCESS_BLOCK, *LIFECYCLE))
_last_index: list[tuple[Sequence[PolicyResource], _BucketIndex]] = []
"""The index of the last stack view seen, with the view itself (compared by identity)."""


def _bucket_index(resources: Sequence[PolicyResource]) -> _BucketIndex:
    """The index of this stack view, built once for the four S3 stack rules when they share the view
    (the in-process harness passes one view to every rule; the engine builds one per rule)."""
    if not _last_index or _last_index[0][0] is not resources:
        _last_index[:] = [(resources, _BucketIndex(resources))]
    return _last_index[0][1]


def _buckets_with(resources: Sequence[PolicyResource], types: Sequence[str]) -> Iterator[tuple[PolicyResource, list]]:
    """Each Bucket with the sub-resources of `types` that configure it."""
    index = _bucket_index(resources)
    for bucket in index.buckets:
        yield bucket, index.configuring(bucket, types)


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
