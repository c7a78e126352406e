"""Tags: cost and ownership must be attributable on every taggable resource."""

from __future__ import annotations

import importlib
import inspect
from functools import cache

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from ._base import Meta, resource_rule

DEFAULT_REQUIRED_KEYS = ["project", "environment", "owner", "cost-centre", "data-classification", "managed-by"]


def _required_tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_taggable(args.resource_type):
        return
    required = list(args.get_config().get("requiredKeys", DEFAULT_REQUIRED_KEYS))
    tags = args.props.get("tags") or {}
    missing = [key for key in required if not tags.get(key)]
    if missing:
        report(f"missing required tags: {', '.join(missing)}")


@cache
def is_taggable(resource_type: str) -> bool:
    """Whether the provider resource accepts `tags`, read from the provider SDK itself.

    'aws:s3/bucket:Bucket' -> pulumi_aws.s3.Bucket; a type the SDK does not know is
    treated as untaggable (nothing to require).
    """
    package, module_path, class_name = resource_type.split(":", 2)
    if package != "aws":
        return False
    module = module_path.split("/")[0]
    try:
        sdk = importlib.import_module("pulumi_aws" if module == "index" else f"pulumi_aws.{module}")
    except ImportError:
        return False
    init = getattr(getattr(sdk, class_name, None), "_internal_init", None)
    return init is not None and "tags" in inspect.signature(init).parameters


POLICIES = [
    resource_rule(
        "required-tags",
        Meta(
            description="Every taggable AWS resource carries the project's cost and ownership tags.",
            severity=Severity.MEDIUM,
            controls=(),
            fix="Pass the component's `tags` to every child; mlstack computes them in mlstack/naming.py.",
            config={
                "requiredKeys": {
                    "type": "array",
                    "items": {"type": "string"},
                    "default": DEFAULT_REQUIRED_KEYS,
                    "description": "Tag keys every taggable resource must carry, with a non-empty value.",
                }
            },
        ),
        _required_tags,
    )
]
