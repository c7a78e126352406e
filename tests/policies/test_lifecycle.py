"""Lifecycle rules: stateful resources protected, feature definitions immutable; fixtures and the real plans."""

from __future__ import annotations

from typing import Any

import pytest

from mlstack.policies.rules import by_name, lifecycle
from mlstack.policies.testing import UNKNOWN, Resource, run_pack, run_resource_policy, run_stack_policy
from mlstack.spec import read_document
from tests.conftest import EXAMPLE

PROTECTED = by_name("stateful-resources-protected")
IMMUTABLE = by_name("feature-group-definitions-immutable")
FEATURE_GROUP = "aws:sagemaker/featureGroup:FeatureGroup"
STATEFUL = {
    "aws:s3/bucket:Bucket": "artifacts-bucket",
    "aws:kms/key:Key": "kms-key",
    FEATURE_GROUP: "transactions",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": "registry-group",
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer": "mlflow-server",
}
DEFINITIONS = [{"featureName": "id", "featureType": "String"}]


def _stack(unprotected: str = "", props: Any = None) -> list[Resource]:
    stateful = [
        Resource(type_, props if props is not None else {"name": name}, name=name, protect=type_ != unprotected)
        for type_, name in STATEFUL.items()
    ]
    # Not stateful: never needs protect.
    return [*stateful, Resource("aws:iam/role:Role", {}, name="role"), Resource("aws:kms/alias:Alias", {}, name="a")]


def _protection(resources: list[Resource], config: dict | None = None) -> list[str]:
    return run_stack_policy(PROTECTED, resources, config).messages()  # type: ignore[arg-type]


# --- stateful-resources-protected -------------------------------------------------------------
def test_protected_compliant() -> None:
    assert _protection(_stack()) == []


@pytest.mark.parametrize("type_", sorted(STATEFUL))
def test_each_unprotected_type_is_named(type_: str) -> None:
    report = run_stack_policy(PROTECTED, _stack(unprotected=type_))  # type: ignore[arg-type]
    assert report.messages() == [f"{type_} '{STATEFUL[type_]}' is not protected"]
    assert report.violations[0].urn == f"urn:pulumi:test::project::{type_}::{STATEFUL[type_]}"


def test_protected_types_are_configurable() -> None:
    config = {"stateful-resources-protected": {"types": ["aws:iam/role:Role"]}}
    assert _protection(_stack(unprotected="aws:kms/key:Key"), config) == ["aws:iam/role:Role 'role' is not protected"]


def test_protected_reads_no_props_so_unknowns_do_not_matter() -> None:
    report = run_stack_policy(PROTECTED, _stack(props={"name": UNKNOWN, "tags": None}))  # type: ignore[arg-type]
    assert report.violations == [] and report.not_evaluated == []
    assert _protection([]) == []


# --- feature-group-definitions-immutable ------------------------------------------------------
MESSAGE = (
    "feature group 'transactions' does not ignore changes to featureDefinitions: "
    "a changed definition would replace the group and delete its online and offline stores"
)


@pytest.mark.parametrize(
    ("ignore_changes", "message"),
    [
        (("featureDefinitions",), None),
        (("tags", "featureDefinitions"), None),
        (("*",), None),
        ((), MESSAGE),
        (("tags",), MESSAGE),
        (("featureDefinitions[0]",), MESSAGE),
        (("feature_definitions",), MESSAGE),
    ],
)
def test_definitions_ignored(ignore_changes: tuple[str, ...], message: str | None) -> None:
    group = Resource(
        FEATURE_GROUP, {"featureDefinitions": DEFINITIONS}, name="transactions", ignore_changes=ignore_changes
    )
    assert run_resource_policy(IMMUTABLE, [group]).messages() == ([message] if message else [])  # type: ignore[arg-type]


def test_definitions_rule_only_applies_to_feature_groups_and_ignores_unknown_props() -> None:
    others = [Resource("aws:s3/bucket:Bucket", {}), Resource("aws:sagemaker/modelPackageGroup:ModelPackageGroup", {})]
    assert run_resource_policy(IMMUTABLE, others).messages() == []  # type: ignore[arg-type]
    unknown = Resource(FEATURE_GROUP, {"featureDefinitions": UNKNOWN}, ignore_changes=("featureDefinitions",))
    report = run_resource_policy(IMMUTABLE, [unknown])  # type: ignore[arg-type]
    assert report.violations == [] and report.not_evaluated == []


# --- the real plans ---------------------------------------------------------------------------
UNPROTECTED_OUTSIDE_PROD = [
    "aws:kms/key:Key 'foundation-kms-key' is not protected",
    "aws:s3/bucket:Bucket 'foundation-artifacts-bucket' is not protected",
    "aws:sagemaker/featureGroup:FeatureGroup 'feature-store-merchant-profile' is not protected",
    "aws:sagemaker/featureGroup:FeatureGroup 'feature-store-transactions' is not protected",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup 'fraud-detector-registry-group' is not protected",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup 'merchant-risk-registry-group' is not protected",
]


@pytest.mark.parametrize("environment", read_document(EXAMPLE).environments)
def test_real_plan(plans, environment: str) -> None:  # type: ignore[no-untyped-def]
    """Only prod protects stateful resources (protect_stateful defaults to the prod tier)."""
    resources = [Resource.from_plan(r.as_dict()) for r in plans(environment).resources]
    report = run_pack(lifecycle.POLICIES, resources)
    assert report.not_evaluated == []
    assert report.messages("feature-group-definitions-immutable") == []
    expected = [] if environment == "prod" else UNPROTECTED_OUTSIDE_PROD
    assert sorted(report.messages("stateful-resources-protected")) == expected
