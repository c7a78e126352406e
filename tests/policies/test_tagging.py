"""required-tags: a compliant fixture, one mutation per requirement, unknowns."""

from __future__ import annotations

import pytest

from mlstack.policies.rules import by_name
from mlstack.policies.testing import UNKNOWN, Resource, run_resource_policy

RULE = by_name("required-tags")
TAGS = {
    "project": "card-fraud",
    "environment": "prod",
    "owner": "ml@example.com",
    "cost-centre": "CC-1",
    "data-classification": "confidential",
    "managed-by": "mlstack",
}


def _run(resource: Resource, config: dict | None = None) -> list[str]:
    return run_resource_policy(RULE, [resource], config).messages()


def test_compliant() -> None:
    assert _run(Resource("aws:s3/bucket:Bucket", {"bucket": "b", "tags": TAGS})) == []


@pytest.mark.parametrize("key", sorted(TAGS))
def test_each_missing_tag_is_named(key: str) -> None:
    tags = {k: v for k, v in TAGS.items() if k != key}
    assert _run(Resource("aws:s3/bucket:Bucket", {"tags": tags})) == [f"missing required tags: {key}"]


def test_empty_value_counts_as_missing() -> None:
    assert _run(Resource("aws:kms/key:Key", {"tags": {**TAGS, "owner": ""}})) == ["missing required tags: owner"]


def test_no_tags_at_all_on_a_taggable_type() -> None:
    assert _run(Resource("aws:sagemaker/featureGroup:FeatureGroup", {})) == [
        "missing required tags: project, environment, owner, cost-centre, data-classification, managed-by"
    ]


def test_untaggable_types_are_skipped() -> None:
    assert _run(Resource("aws:kms/alias:Alias", {"name": "alias/x"})) == []
    assert _run(Resource("aws:iam/rolePolicy:RolePolicy", {})) == []


def test_required_keys_are_configurable() -> None:
    config = {"required-tags": {"requiredKeys": ["team"]}}
    assert _run(Resource("aws:s3/bucket:Bucket", {"tags": TAGS}), config) == ["missing required tags: team"]


def test_unknown_tags_during_preview_are_not_evaluated_not_a_crash() -> None:
    report = run_resource_policy(RULE, [Resource("aws:s3/bucket:Bucket", {"tags": UNKNOWN})])
    assert report.violations == [] and len(report.not_evaluated) == 1


def test_aws_native_tags_are_a_list_and_checked_too() -> None:
    native = "aws-native:sagemaker:ModelQualityJobDefinition"
    listed = [{"key": k, "value": v} for k, v in TAGS.items()]
    assert _run(Resource(native, {"tags": listed})) == []
    assert _run(Resource(native, {"tags": [t for t in listed if t["key"] != "owner"]})) == [
        "missing required tags: owner"
    ]


def test_the_jobs_a_pipeline_starts_carry_the_tags() -> None:
    import json

    step = {
        "Name": "Monitor",
        "Type": "Processing",
        "Arguments": {"Tags": [{"Key": k, "Value": v} for k, v in TAGS.items()]},
    }
    pipeline = {"pipelineName": "p", "tags": TAGS, "pipelineDefinition": json.dumps({"Steps": [step]})}
    assert _run(Resource("aws:sagemaker/pipeline:Pipeline", pipeline)) == []
    untagged = {**pipeline, "pipelineDefinition": json.dumps({"Steps": [{**step, "Arguments": {}}]})}
    assert _run(Resource("aws:sagemaker/pipeline:Pipeline", untagged)) == [
        "Processing step Monitor starts jobs without required tags: " + ", ".join(TAGS)
    ]
