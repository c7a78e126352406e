"""Lifecycle: no data loss through a refactor, a rename or a schema change.

Policies see `protect` and `ignoreChanges` but not `retainOnDelete`: the engine's
PolicyResourceOptions has no such field, so only protect can be checked here.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity, StackValidationArgs

from ._base import Meta, for_types, resource_rule, stack_rule
from .iam import strings

FEATURE_GROUP = "aws:sagemaker/featureGroup:FeatureGroup"
DEFAULT_STATEFUL_TYPES = [
    "aws:s3/bucket:Bucket",
    "aws:kms/key:Key",
    FEATURE_GROUP,
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer",
]
# "*" ignores every property; "featureDefinitions[0]" would still diff on a new feature.
IGNORES_DEFINITIONS = {"featureDefinitions", "*"}


def _protected(args: StackValidationArgs, report: ReportViolation) -> None:
    types = set(strings(args.get_config().get("types", DEFAULT_STATEFUL_TYPES)))
    for resource in args.resources:
        if resource.resource_type in types and not (resource.opts and resource.opts.protect):
            report(f"{resource.resource_type} '{resource.name}' is not protected", resource.urn)


@for_types(FEATURE_GROUP)
def _definitions_ignored(args: ResourceValidationArgs, report: ReportViolation) -> None:
    ignored = set(strings(args.opts.ignore_changes if args.opts else None))
    if not ignored & IGNORES_DEFINITIONS:
        report(
            f"feature group '{args.name}' does not ignore changes to featureDefinitions: "
            "a changed definition would replace the group and delete its online and offline stores"
        )


POLICIES = [
    stack_rule(
        "stateful-resources-protected",
        Meta(
            description=(
                "Resources holding data or history (buckets, keys, feature groups, model package groups, "
                "MLflow servers) are protected, so no refactor or rename can delete them. Meant for prod: "
                "enable it there through the policy-pack config. Only protect is checked: policies cannot "
                "see retainOnDelete."
            ),
            severity=Severity.HIGH,
            controls=(),
            fix=(
                "Set protect (and retain_on_delete) on the resource; mlstack does so for every stateful "
                "resource when the environment's protect_stateful is on (the default for prod)."
            ),
            config={
                "types": {
                    "type": "array",
                    "items": {"type": "string"},
                    "default": DEFAULT_STATEFUL_TYPES,
                    "description": "Resource types that must be protected.",
                }
            },
        ),
        _protected,
    ),
    resource_rule(
        "feature-group-definitions-immutable",
        Meta(
            description=(
                "Every FeatureGroup ignores changes to featureDefinitions: pulumi-aws replaces a group whose "
                "definitions change, deleting its online records and offline store."
            ),
            severity=Severity.HIGH,
            controls=(),
            fix=(
                "Add ignore_changes=['featureDefinitions'] and add new features with mlstack's FeatureAdditions "
                "resource (components/feature_additions.py), which calls UpdateFeatureGroup in place; "
                "the FeatureStore component does both."
            ),
        ),
        _definitions_ignored,
    ),
]
