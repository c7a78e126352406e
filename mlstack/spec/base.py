"""Shared base model and small value types of the spec."""

from __future__ import annotations

import re
from typing import Annotated, NoReturn

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError


class SpecModel(BaseModel):
    """Every spec section: unknown keys are errors, values are immutable,
    and the docstring under each field is its documentation in the JSON Schema.

    Scalars are strict: `true` is not 1, 1 is not `true` and "10" is not a number (an
    integer is still a valid float); infinities and NaN are not numbers either."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        strict=True,
        allow_inf_nan=False,
    )


# Patterns we own, in words: a failed match explains itself instead of printing the regex.
_SLUG_PATTERN = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
PATTERN_HELP: dict[str, str] = {
    _SLUG_PATTERN: "lowercase letters, digits and single dashes, starting with a letter; no underscores",
    r"^[a-z][a-z0-9]*$": "lowercase letters and digits, starting with a letter",
    r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$": "an email address like ml-team@example.com",
    r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$": "an S3 URI like s3://bucket/prefix (lowercase bucket name)",
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": "lowercase letters, digits and dashes, starting and ending with a letter "
    "or digit (a Kubernetes DNS label)",
    r"^\S+$": "no spaces",
    r"^\d+(\.\d+)?m?$": "a CPU quantity like 2, 0.5 or 500m",
    r"^\d+(Ki|Mi|Gi)$": "a memory quantity like 512Mi or 1Gi",
    r"^arn:aws:iam::\d{12}:role/[\w+=,.@/-]+$": "an IAM role ARN like arn:aws:iam::123456789012:role/name",
    r"^arn:aws:iam::\d{12}:oidc-provider/[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(/[-A-Za-z0-9._~]+)*$": (
        "an IAM OIDC provider ARN like arn:aws:iam::123456789012:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<id>"
    ),
    r"^[\w.:/=+\-@ ]+$": "letters, digits, spaces or _.:/=+-@",
    r"^/[\w./-]*$": "a URL path starting with /",
    r"^[a-zA-Z_:][a-zA-Z0-9_:]*$": "a Prometheus metric name: letters, digits, _ or :, not starting with a digit",
    r"^\d+\.\d+(\.\d+)?(-\d+)?$": "a version like 1.2-1 or 2.1.0",
    r"^py3\d*$": "a Python version like py3 or py310",
    r"^[\w\-]+\.py$": "a Python file name like train.py",
    r"^[A-Za-z_][\w]*$": "letters, digits or _, not starting with a digit",
    r"^[^,]+$": "no commas",
}

# Our own names become parts of AWS physical names (`{project}-{env}-{name}`),
# so they are kept to the intersection of what S3, IAM and SageMaker accept.
Slug = Annotated[
    str,
    StringConstraints(min_length=2, max_length=32, pattern=_SLUG_PATTERN),
]
ProjectName = Annotated[
    str,
    StringConstraints(min_length=2, max_length=20, pattern=_SLUG_PATTERN),
]
EnvironmentName = Annotated[
    str,
    StringConstraints(min_length=2, max_length=10, pattern=r"^[a-z][a-z0-9]*$"),
]

Email = Annotated[
    str,
    StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"),
]

S3Uri = Annotated[
    str,
    StringConstraints(max_length=1024, pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$"),
]

# A data column's name: the step scripts take column lists comma-separated.
ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^,]+$")]

Percent = Annotated[float, Field(gt=0, le=100)]

# AWS tag keys/values: letters, digits, spaces and _.:/=+-@ ; `aws:` is reserved.
_TAG_CHARS = re.compile(r"^[\w\s.:/=+\-@]*$", re.UNICODE)


def _tag_key(value: str) -> str:
    if not 1 <= len(value) <= 128 or not _TAG_CHARS.match(value):
        raise PydanticCustomError(
            "tag_key",
            "tag key '{value}' must be 1-128 letters, digits, spaces or _.:/=+-@",
            {"value": value},
        )
    if value.lower().startswith("aws:"):
        raise PydanticCustomError(
            "tag_key", "tag key '{value}': the 'aws:' prefix is reserved by AWS", {"value": value}
        )
    return value


def _tag_value(value: str) -> str:
    if len(value) > 256 or not _TAG_CHARS.match(value):
        raise PydanticCustomError(
            "tag_value",
            "tag value '{value}' must be 0-256 letters, digits, spaces or _.:/=+-@",
            {"value": value},
        )
    return value


TagKey = Annotated[
    str,
    AfterValidator(_tag_key),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": 128,
            "pattern": r"^(?!aws:)[\w\s.:/=+\-@]*$",
        }
    ),
]
TagValue = Annotated[
    str,
    AfterValidator(_tag_value),
    WithJsonSchema({"type": "string", "maxLength": 256, "pattern": r"^[\w\s.:/=+\-@]*$"}),
]


def fail(kind: str, message: str, /, *, at: tuple[str | int, ...] = (), **ctx: object) -> NoReturn:
    """Raise a validation error from a model validator.

    `at` is the path, below the model being validated, of the value at fault; the
    error reporter appends it to the location so the message points at that line.
    `kind` and `message` are positional-only, so `ctx` may use those names too.
    """
    raise PydanticCustomError(kind, message, {**ctx, "at": ".".join(str(p) for p in at)})
