"""The whole governance pack (`run_pack(ALL_POLICIES, ...)`) over generated stacks of 1,000 / 2,000 / 5,000 resources.

Run: `.venv/bin/python bench/policy_pack_timing.py` (BENCH_RUNS=5 by default). Prints the
median wall time of one in-process pack run per size, with the prod config (every rule
enabled). The stacks are a realistic mix, repeated: SecureBucket components whose
Bucket has its versioning, encryption, public-access-block, lifecycle and policy
sub-resources (known names, depending on the bucket, as mlstack plans them), execution
roles with inline and attached policies, and KMS keys. Figures, not a test.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlstack.policies.rules import ALL_POLICIES  # noqa: E402
from mlstack.policies.testing import Resource, run_pack  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
SIZES = (1_000, 2_000, 5_000)
ACCOUNT = "111111111111"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234"
TAGS = {
    "project": "bench",
    "environment": "prod",
    "owner": "ml@example.com",
    "cost-centre": "CC-1",
    "data-classification": "internal",
    "managed-by": "mlstack",
}
PREFIX = "urn:pulumi:prod::bench::"


def _urn(type_: str, name: str, parent_type: str = "") -> str:
    return f"{PREFIX}{parent_type + '$' if parent_type else ''}{type_}::{name}"


def _bucket_unit(i: int) -> list[Resource]:
    component_type = "mlstack:storage:SecureBucket"
    component = _urn(component_type, f"data-{i}")
    name = f"bench-prod-data-{i}"
    bucket_urn = _urn("aws:s3/bucket:Bucket", f"data-{i}-bucket", component_type)

    def sub(type_: str, suffix: str, props: dict) -> Resource:
        urn = _urn(type_, f"data-{i}-{suffix}", component_type)
        return Resource(
            type_,
            {"bucket": name, **props},
            urn=urn,
            name=f"data-{i}-{suffix}",
            parent=component,
            dependencies=(bucket_urn,),
        )

    deny_http = {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    sse = {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN}}
    expire = {"id": "expire", "status": "Enabled", "noncurrentVersionExpiration": {"noncurrentDays": 90}}
    flags = dict.fromkeys(("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True)
    return [
        Resource(component_type, {}, urn=component, name=f"data-{i}"),
        Resource(
            "aws:s3/bucket:Bucket",
            {"bucket": name, "tags": TAGS},
            urn=bucket_urn,
            name=f"data-{i}-bucket",
            parent=component,
            protect=True,
        ),
        sub(
            "aws:s3/bucketVersioning:BucketVersioning", "versioning", {"versioningConfiguration": {"status": "Enabled"}}
        ),
        sub(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "sse",
            {"rules": [sse]},
        ),
        sub("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "pab", flags),
        sub("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "lifecycle", {"rules": [expire]}),
        sub("aws:s3/bucketPolicy:BucketPolicy", "policy", {"policy": json.dumps({"Statement": [deny_http]})}),
    ]


def _role_unit(i: int) -> list[Resource]:
    trust = {
        "Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
    }
    read = {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}
    passrole = {
        "Sid": "Pass",
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": f"arn:aws:iam::{ACCOUNT}:role/exec-{i}",
        "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    }
    key_policy = {
        "Statement": [
            {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*"}
        ]
    }
    role_urn = _urn("aws:iam/role:Role", f"exec-{i}")
    return [
        Resource(
            "aws:iam/role:Role",
            {
                "assumeRolePolicy": json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
                "inlinePolicies": [{"name": "read", "policy": json.dumps({"Statement": [read]})}],
                "tags": TAGS,
            },
            urn=role_urn,
            name=f"exec-{i}",
        ),
        Resource(
            "aws:iam/rolePolicy:RolePolicy",
            {"role": f"exec-{i}", "policy": json.dumps({"Statement": [passrole]})},
            name=f"exec-{i}-pass",
            dependencies=(role_urn,),
        ),
        Resource(
            "aws:kms/key:Key",
            {"enableKeyRotation": True, "deletionWindowInDays": 30, "policy": json.dumps(key_policy), "tags": TAGS},
            name=f"key-{i}",
            protect=True,
        ),
    ]


def generate(size: int) -> list[Resource]:
    """`size` resources: per unit a SecureBucket (7 resources) and a role, its policy and a key (3)."""
    resources: list[Resource] = []
    i = 0
    while len(resources) < size:
        resources += _bucket_unit(i) + _role_unit(i)
        i += 1
    return resources[:size]


def main() -> None:
    config = json.loads((ROOT / "policies" / "config" / "prod.json").read_text())
    for size in SIZES:
        resources = generate(size)
        buckets = sum(r.type == "aws:s3/bucket:Bucket" for r in resources)
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            report = run_pack(ALL_POLICIES, resources, config)
            times.append(time.perf_counter() - started)
        print(
            f"{size:>6} resources ({buckets} buckets): median {statistics.median(times):.3f} s over {RUNS} runs, "
            f"{report.evaluated} checks, {len(report.violations)} violations"
        )


if __name__ == "__main__":
    main()
