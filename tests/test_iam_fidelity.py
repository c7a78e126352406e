"""IAM fidelity of the example's plans: every policy document speaks AWS's own vocabulary.

The reference is AWS's Service Authorization Reference as policy_sentry ships it offline
(its bundled IAM definition; no network). For every environment, every statement of every
policy document the plan defines (role permissions and trust policies, bucket, key, topic
and model-package-group policies; see tests/iam_documents.py):

- every action exists; a wildcard (`sagemaker:Describe*`) expands to at least one;
- every action applies to at least one of the statement's resources: an ARN pattern of a
  resource type the action supports, or `*`;
- every resource is one that some action of the statement applies to;
- an Allow uses Resource `*` only for actions that support no resource type (where IAM
  requires `*`); an action that supports resource types must name them;
- every condition key a matching condition requires (String*/Arn*/Bool/Numeric..., not
  negated, not ...IfExists) is global (`aws:`) or one the action carries: a key the request
  never has makes the condition false, and the action is never allowed.

A trust policy's statements stand for the role itself, a key policy's `*` for the key.
Values unknown at plan time ("[unknown]", "[secret]") are wildcards inside an ARN; a whole
document unknown is a failure (the mocks compute every input, so it cannot be checked).
ARNs the mocks compute are in AWS's formats, so they are matched like any other: the last
test checks that every ARN anywhere in the plan has a format AWS defines.

Failures are listed one per line, "env: where: statement: action: what", and the list
must be empty.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from policy_sentry.querying.actions import get_action_data, get_actions_for_service
from policy_sentry.querying.arns import get_arn_types_for_service, get_resource_type_name_with_raw_arn

from tests.iam_documents import UNKNOWN_MARKERS, Document, documents, glob_match, listed

ENVIRONMENTS = ("dev", "staging", "prod")
# Operators that fail when the request lacks the key (the others pass then).
_NEGATED_OR_LENIENT = ("Not", "IfExists")


# --- the reference ----------------------------------------------------------------------------
@cache
def service_actions(service: str) -> tuple[str, ...]:
    """Every action of a service prefix (lower-case prefix), as 'svc:Action'."""
    return tuple(get_actions_for_service(service.lower()))


@cache
def expand(action: str) -> tuple[str, ...]:
    """The real actions an Action entry names: itself, or every action its wildcard matches."""
    service, _, name = action.partition(":")
    if not name:
        return ()
    known = service_actions(service)
    if "*" in name or "?" in name:
        return tuple(a for a in known if glob_match(action, a, case_sensitive=False))
    return tuple(a for a in known if a.lower() == action.lower())


@cache
def arn_formats(action: str) -> tuple[str, ...]:
    """ARN templates of the resource types `action` (exact 'svc:Action') supports; () = only `*`."""
    service, _, name = action.partition(":")
    entries = get_action_data(service, name).get(service, [])
    return tuple(sorted({e["resource_arn_format"] for e in entries if e["resource_arn_format"] != "*"}))


@cache
def condition_keys(action: str) -> frozenset[str]:
    """Condition keys (lower case) the action carries, with its resource types' keys."""
    service, _, name = action.partition(":")
    entries = get_action_data(service, name).get(service, [])
    return frozenset(k.lower() for e in entries for k in e["condition_keys"])


@cache
def type_name(template: str) -> str:
    return get_resource_type_name_with_raw_arn(template) or template


# ARNs that name principals rather than resources (the reference lists resource types only).
PRINCIPAL_FORMATS = {"iam": ("arn:${Partition}:iam::${Account}:root",)}


@cache
def service_formats(service: str) -> tuple[str, ...]:
    try:
        formats = tuple(get_arn_types_for_service(service).values())
    except KeyError:
        formats = ()
    return formats + PRINCIPAL_FORMATS.get(service, ())


# --- ARN pattern intersection ----------------------------------------------------------------
# A token: ("c", char) a literal; ("one", excluded) one character not in excluded;
# ("star", excluded) any run of characters not in excluded.
Token = tuple[str, Any]
_VARIABLE = re.compile(r"\$\{[^}]+\}")
_NAME_SEPARATORS = frozenset(":/")


@cache
def _template_tokens(template: str) -> tuple[Token, ...]:
    """An ARN template as tokens. Variables are one or more characters: before the resource part
    (partition, region, account) and at its very start (a bucket or topic name) without ':' or
    '/'; the last variable after a literal prefix (object keys, role paths, log groups) anything;
    any other without ':'."""
    colons = [m.start() for m in re.finditer(":", template)]
    resource_start = colons[4] + 1 if len(colons) >= 5 else len(template)
    tokens: list[Token] = []
    position = 0
    for match in _VARIABLE.finditer(template):
        tokens += [("c", c) for c in template[position : match.start()]]
        if match.start() < resource_start or match.start() == resource_start:
            excluded: frozenset[str] = _NAME_SEPARATORS
        elif match.end() == len(template):
            excluded = frozenset()
        else:
            excluded = frozenset(":")
        tokens += [("one", excluded), ("star", excluded)]
        position = match.end()
    tokens += [("c", c) for c in template[position:]]
    return tuple(tokens)


@cache
def _pattern_tokens(pattern: str) -> tuple[Token, ...]:
    """A policy ARN pattern as tokens (`*`, `?` as IAM globs; unknown values as `*`)."""
    for marker in UNKNOWN_MARKERS:
        pattern = pattern.replace(marker, "*")
    return tuple(("star", frozenset()) if c == "*" else ("one", frozenset()) if c == "?" else ("c", c) for c in pattern)


def _compatible(a: Token, b: Token) -> bool:
    """Whether two single-character tokens can stand for the same character."""
    if a[0] == "c" and b[0] == "c":
        return a[1] == b[1]
    if a[0] == "c":
        return a[1] not in b[1]
    if b[0] == "c":
        return b[1] not in a[1]
    return True  # two classes excluding a few separators always share a character


def intersects(pattern: str, template: str) -> bool:
    """Whether some ARN matches both the policy's pattern and the resource type's template."""
    a, b = _pattern_tokens(pattern), _template_tokens(template)

    @cache
    def walk(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i][0] == "star":
            if walk(i + 1, j):
                return True
            if j < len(b) and b[j][0] != "star" and _compatible(("one", a[i][1]), b[j]) and walk(i, j + 1):
                return True
        if j < len(b) and b[j][0] == "star":
            if walk(i, j + 1):
                return True
            if i < len(a) and a[i][0] != "star" and _compatible(a[i], ("one", b[j][1])) and walk(i + 1, j):
                return True
        if i < len(a) and j < len(b) and a[i][0] != "star" and b[j][0] != "star" and _compatible(a[i], b[j]):
            return walk(i + 1, j + 1)
        return False

    return walk(0, 0)


@cache
def applies(action: str, resource: str) -> bool:
    """Whether the exact action can be allowed on (some ARN matching) the resource pattern."""
    if resource == "*":
        return True
    return any(intersects(resource, template) for template in arn_formats(action))


# --- the checks -------------------------------------------------------------------------------
def _where(doc: Document, index: int, statement: dict[str, Any]) -> str:
    sid = statement.get("Sid")
    return f"{doc.label}: statement {sid or f'#{index}'}"


def _resources(doc: Document, statement: dict[str, Any]) -> list[str] | None:
    """The statement's resources as ARN patterns; None for NotResource (not checked)."""
    if "NotResource" in statement:
        return None
    given = [str(r) for r in listed(statement.get("Resource"))]
    if not given and doc.implied_resource:
        return [doc.implied_resource]
    if doc.implied_resource and doc.resource_type == "aws:kms/key:Key":
        return [doc.implied_resource if r == "*" else r for r in given]
    return [r for r in given if r not in UNKNOWN_MARKERS]


def _required_keys(statement: dict[str, Any]) -> list[str]:
    """Condition keys whose absence from the request makes the statement not match."""
    keys = []
    for operator, clauses in (statement.get("Condition") or {}).items():
        bare = str(operator).rpartition(":")[2]
        if bare == "Null" or any(marker in bare for marker in _NEGATED_OR_LENIENT):
            continue
        keys += [str(k) for k in clauses]
    return keys


# An OpenID Connect provider's claims (`oidc.eks.<region>.amazonaws.com/id/<id>:sub`): the reference
# lists the well-known providers' keys only, every registered provider adds its own.
_PROVIDER_CLAIM = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+(/[^:]*)?:[a-z_]+$")
_WEB_IDENTITY = "sts:assumerolewithwebidentity"


def _carries(action: str, key: str) -> bool:
    lowered = key.lower()
    if lowered.startswith("aws:"):
        return True
    if action.lower() == _WEB_IDENTITY and _PROVIDER_CLAIM.match(lowered):
        return True
    return any(glob_match(re.sub(r"\$\{[^}]+\}|<[^>]+>", "*", k), lowered) for k in condition_keys(action))


def check_statement(doc: Document, index: int, statement: dict[str, Any]) -> Iterator[str]:
    where = _where(doc, index, statement)
    names = [str(a) for a in listed(statement.get("Action", statement.get("NotAction")))]
    if not names:
        yield f"{where}: no Action"
    resources = _resources(doc, statement)
    if resources is not None and not resources and "Resource" in statement:
        return  # every resource unknown at plan time: nothing to match
    if resources is not None and not resources:
        yield f"{where}: no Resource"
        return
    expansions: dict[str, tuple[str, ...]] = {}
    for name in names:
        found = expand(name)
        if not found:
            kind = "matches no action" if "*" in name or "?" in name else "is not an action"
            yield f"{where}: action {name}: {kind} of the service authorization reference"
        expansions[name] = found
    if "NotAction" in statement or resources is None:
        return
    allow = statement.get("Effect") == "Allow"
    for name, found in expansions.items():
        if not found:
            continue
        if not any(applies(a, r) for a in found for r in resources):
            supported = sorted({type_name(t) for a in found for t in arn_formats(a)})
            what = f"resource types {', '.join(supported)}" if supported else "no resource type (needs '*')"
            yield f"{where}: action {name}: applies to none of {', '.join(resources)}; it supports {what}"
        if allow and "*" in resources and all(arn_formats(a) for a in found):
            supported = sorted({type_name(t) for a in found for t in arn_formats(a)})
            yield (
                f"{where}: action {name}: Resource '*' although it supports resource types "
                f"{', '.join(supported)}; name them"
            )
        for key in _required_keys(statement):
            if not any(_carries(a, key) for a in found):
                yield (
                    f"{where}: action {name}: condition key {key} is not one it carries, "
                    "so the condition never holds and the action is never matched"
                )
    if len(names) < 2 or not any(expansions.values()):
        return  # one action: what it applies to is said above
    for resource in resources:
        if resource != "*" and not any(applies(a, resource) for found in expansions.values() for a in found):
            yield f"{where}: resource {resource}: no action of the statement applies to it"


def failures(plan: Any) -> list[str]:
    out: list[str] = []
    for doc in documents(plan):
        if doc.document is None:
            out.append(f"{doc.label}: the document is {doc.raw!r} at plan time and cannot be checked")
            continue
        for index, statement in enumerate(doc.statements()):
            out += check_statement(doc, index, statement)
    return out


# --- tests ------------------------------------------------------------------------------------
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_policy_action_and_resource_is_real(plans, environment: str) -> None:
    plan = plans(environment)
    assert len(documents(plan)) >= 10, "the plan should hold the example's policy documents"
    problems = [f"{environment}: {line}" for line in failures(plan)]
    assert problems == [], "\n".join(problems)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_policy_document_in_the_plan_is_checked(plans, environment: str) -> None:
    """A new resource type holding a policy must be added to tests/iam_documents.py, not skipped."""
    plan = plans(environment)
    checked = {(d.resource_type, d.resource_name) for d in documents(plan)}
    unchecked = []
    for resource in plan.resources:
        for text in _strings(resource.inputs):
            if '"Statement"' not in text:
                continue
            try:
                parsed = json.loads(text)
            except ValueError:
                continue
            if isinstance(parsed, dict) and "Statement" in parsed and (resource.type, resource.name) not in checked:
                unchecked.append(f"{resource.type} {resource.name}")
    assert unchecked == []


_ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[^\s\"',\]\)}]*")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_arn_in_the_plan_has_a_format_aws_defines(plans, environment: str) -> None:
    """Including the ARNs the mocks compute (dashboards, alarm actions, roles, targets)."""
    problems = set()
    for resource in plans(environment).resources:
        for text in _strings(resource.inputs):
            for arn in _ARN.findall(text):
                service = arn.split(":")[2]
                if not any(intersects(arn, template) for template in service_formats(service)):
                    where = f"{environment}: {resource.type} {resource.name}"
                    problems.add(f"{where}: {arn} matches no {service} ARN format")
    assert sorted(problems) == [], "\n".join(sorted(problems))


# --- the checker itself -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "template", "expected"),
    [
        ("arn:aws:s3:::bucket", "arn:${Partition}:s3:::${BucketName}", True),
        ("arn:aws:s3:::bucket/*", "arn:${Partition}:s3:::${BucketName}", False),
        ("arn:aws:s3:::bucket/*", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", True),
        ("arn:aws:s3:::bucket", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", False),
        ("arn:aws:ecr:eu-west-1:*:repository/*", "arn:${Partition}:ecr:${Region}:${Account}:repository/${Name}", True),
        (
            "arn:aws:logs:eu-west-1:1:log-group:/aws/sagemaker/*:log-stream:*",
            "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}",
            True,
        ),
        (
            "arn:aws:cloudwatch:eu-west-1:1:composite-alarm/x",
            "arn:${Partition}:cloudwatch:${Region}:${Account}:alarm:${AlarmName}",
            False,
        ),
        ("arn:aws:kms:eu-west-1:1:key/[unknown]", "arn:${Partition}:kms:${Region}:${Account}:key/${KeyId}", True),
    ],
)
def test_arn_patterns_intersect_as_iam_would_match(pattern: str, template: str, expected: bool) -> None:
    assert intersects(pattern, template) is expected


def _doc(statement: dict[str, Any], **kwargs: Any) -> Document:
    fields = {"resource_type": "aws:iam/rolePolicy:RolePolicy", "resource_name": "p", "identity": True} | kwargs
    return Document("role r (policy p)", document={"Statement": [statement]}, raw="", **fields)


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        # the MLflow bug: s3:GetBucketLocation never carries s3:prefix
        (
            {
                "Sid": "List",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": "arn:aws:s3:::b",
                "Condition": {"StringLike": {"s3:prefix": ["mlflow/*"]}},
            },
            ["action s3:GetBucketLocation: condition key s3:prefix is not one it carries"],
        ),
        ({"Effect": "Allow", "Action": "s3:GetObjects", "Resource": "arn:aws:s3:::b/*"}, ["is not an action"]),
        ({"Effect": "Allow", "Action": "sagemaker:Descrbe*", "Resource": "*"}, ["matches no action"]),
        ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b"}, ["applies to none of"]),
        ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, ["Resource '*' although"]),
        (
            {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "arn:aws:cloudwatch:r:1:alarm:x"},
            ["supports no resource type (needs '*')"],
        ),
        (
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*", "arn:aws:sns:r:1:t"],
            },
            ["resource arn:aws:sns:r:1:t: no action of the statement applies to it"],
        ),
        ({"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}, []),
        (
            {
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": "arn:aws:kms:r:1:key/k",
                "Condition": {"StringEquals": {"kms:EncryptionContext:aws:scheduler:schedule-arn": "a"}},
            },
            [],
        ),
        (
            {
                "Effect": "Allow",
                "Action": "s3:GetBucketLocation",
                "Resource": "arn:aws:s3:::b",
                "Condition": {"StringLikeIfExists": {"s3:prefix": "x/*"}},
            },
            [],
        ),
        (
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Resource": "arn:aws:iam::1:role/r",
                "Condition": {
                    "StringEquals": {
                        "oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub": "system:serviceaccount:ns:sa",
                        "oidc.eks.eu-west-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com",
                    }
                },
            },
            [],
        ),
        (
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": "arn:aws:iam::1:role/r",
                "Condition": {"StringEquals": {"oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub": "x"}},
            },
            ["condition key oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub is not one it carries"],
        ),
    ],
)
def test_the_checker_reports_what_it_should(statement: dict[str, Any], expected: list[str]) -> None:
    found = list(check_statement(_doc(statement), 0, statement))
    assert len(found) == len(expected), found
    for line, fragment in zip(found, expected, strict=True):
        assert fragment in line, (line, fragment)


def test_trust_and_key_policies_stand_for_their_role_and_key() -> None:
    trust = {"Effect": "Allow", "Principal": {"Service": "s"}, "Action": "sts:AssumeRole"}
    role = _doc(trust, resource_type="aws:iam/role:Role", identity=False, implied_resource="arn:aws:iam::*:role/r")
    assert list(check_statement(role, 0, trust)) == []
    admin = {"Effect": "Allow", "Principal": {"AWS": "a"}, "Action": "kms:*", "Resource": "*"}
    key = _doc(admin, resource_type="aws:kms/key:Key", identity=False, implied_resource="arn:aws:kms:*:*:key/*")
    assert list(check_statement(key, 0, admin)) == []


def test_a_document_unknown_at_plan_time_is_reported_not_skipped() -> None:
    from types import SimpleNamespace

    from mlstack.plan.synth import RecordedResource

    policy = RecordedResource(
        urn="urn:pulumi:dev::p::aws:iam/rolePolicy:RolePolicy::late",
        type="aws:iam/rolePolicy:RolePolicy",
        name="late",
        parent="",
        custom=True,
        provider="",
        dependencies=(),
        inputs={"role": "r", "policy": "[unknown]"},
        options={},
    )
    (line,) = failures(SimpleNamespace(resources=(policy,)))
    assert line == "role r (policy late): the document is '[unknown]' at plan time and cannot be checked"
    unknown_arn = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::[unknown]/*"}
    assert list(check_statement(_doc(unknown_arn), 0, unknown_arn)) == []
