"""Tags: cost and ownership must be attributable on every taggable resource."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from ._base import Meta, as_list, get, resource_rule, shown
from .sagemaker_jobs import PIPELINE, pipeline_definition, pipeline_steps, step_label

DEFAULT_REQUIRED_KEYS = ["project", "environment", "owner", "cost-centre", "data-classification", "managed-by"]


# Pipeline steps whose Arguments.Tags tag what they make: a job they start, or a model they create.
_TAGGED_STEPS = {
    **dict.fromkeys(("Processing", "Training", "Transform", "QualityCheck", "ClarifyCheck"), "starts jobs"),
    "Model": "creates a model",
}


def _read_tags(tags: Any, what: str, report: ReportViolation) -> dict[str, Any] | None:
    """Tags as a mapping: pulumi-aws's {key: value}; aws-native's and SageMaker's [{key|Key, value|Value}].

    Fails closed: tags of any other shape are reported (None: nothing more to check), as
    is each list entry that is not a {key, value} object; unset tags are no tags.
    """
    if tags is None:
        return {}
    if isinstance(tags, Mapping):
        return {str(key): value for key, value in tags.items()}
    if isinstance(tags, str) or not isinstance(tags, Iterable):
        report(f"{what} is {shown(tags)}, not a mapping of key to value (or a list of {{key, value}} objects)")
        return None
    found: dict[str, Any] = {}
    for index, tag in enumerate(tags):
        key = tag.get("key", tag.get("Key")) if isinstance(tag, Mapping) else None
        if isinstance(key, str):
            found[key] = tag.get("value", tag.get("Value"))
        else:
            report(f"{what}[{index}] is {shown(tag)}, not a {{key, value}} object with a string key")
    return found


def _check_tags(tags: Any, what: str, required: list[str], report: ReportViolation, missing_message: str) -> None:
    found = _read_tags(tags, what, report)
    if found is None:
        return
    odd = [key for key in required if found.get(key) is not None and not isinstance(found[key], str)]
    for key in odd:
        report(f"{what}: the value of {key} is {shown(found[key])}, not a string")
    missing = [key for key in required if key not in odd and not found.get(key)]
    if missing:
        report(f"{missing_message}: {', '.join(missing)}")


def _required_tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    required = [str(key) for key in as_list(args.get_config().get("requiredKeys", DEFAULT_REQUIRED_KEYS))]
    if is_taggable(args.resource_type):
        _check_tags(args.props.get("tags"), "tags", required, report, "missing required tags")
    if args.resource_type == PIPELINE:
        # The jobs a pipeline starts and the models it creates are resources too: cost and ownership must reach them.
        for step in pipeline_steps(pipeline_definition(args.props)):
            makes = _TAGGED_STEPS.get(str(step.get("Type")))
            if makes:
                label = step_label(step)
                tags = get(step, "Arguments", "Tags")
                _check_tags(tags, f"{label}: Tags", required, report, f"{label} {makes} without required tags")


@cache
def is_taggable(resource_type: str) -> bool:
    """Whether the provider resource accepts `tags`, read from the provider SDK itself.

    'aws:s3/bucket:Bucket' -> pulumi_aws.s3.Bucket; a type the SDK does not know is
    treated as untaggable (nothing to require).
    """
    package, module_path, class_name = resource_type.split(":", 2)
    if package not in ("aws", "aws-native"):
        return False
    module = module_path.split("/")[0]
    root = "pulumi_aws" if package == "aws" else "pulumi_aws_native"
    try:
        sdk = importlib.import_module(root if module == "index" else f"{root}.{module}")
    except ImportError:
        return False
    init = getattr(getattr(sdk, class_name, None), "_internal_init", None)
    return init is not None and "tags" in inspect.signature(init).parameters


POLICIES = [
    resource_rule(
        "required-tags",
        Meta(
            description="Every taggable AWS resource (pulumi-aws and aws-native) carries the project's cost and "
            "ownership tags, and so does every job a pipeline starts and every model it creates (its steps' Tags).",
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
