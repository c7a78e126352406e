"""Validate custom resources against the schemas their projects publish (tests/fixtures/crds/).

Each fixture is the `openAPIV3Schema` of the served version of a real CRD, verbatim (README.md
there says where each comes from). A CRD schema is a Kubernetes *structural schema*, which JSON
Schema validators read differently from the API server in a few places; `strict()` translates:

- Unknown fields. JSON Schema allows any property it does not name; the API server prunes a field
  the schema does not declare (and rejects it under strict field validation, `fieldValidation=Strict`),
  unless the object says `x-kubernetes-preserve-unknown-fields: true`. So every object node gets
  `additionalProperties: false`, except maps (which declare `additionalProperties`) and preserved
  objects; nodes inside allOf/anyOf/oneOf/not only add value checks to their parent and are left as
  they are.
- `x-kubernetes-list-type: set` becomes `uniqueItems`; `map` lists may not repeat a key tuple
  (`x-kubernetes-list-map-keys`, checked by a keyword of our own); `nullable` admits null.
- Patterns are Go (RE2) regular expressions; Python's `re` refuses Go's inline flags after the
  start (`^(?i)(abort|warn)?$`), which become a scoped group (`^(?i:(abort|warn)?$)`). A pattern
  Python still cannot compile is refused.
- `metadata` at the root is the API server's ObjectMeta, not the CRD's: it is checked against the
  strict ObjectMeta of kubernetes-validate's Kubernetes definitions, with a DNS-1123 subdomain name;
  `apiVersion` and `kind` are pinned to the CRD's.

Not translated: `format` (the API server checks only some formats) and the extensions none of the
vendored schemas use (CEL `x-kubernetes-validations`, `x-kubernetes-embedded-resource`): a schema
that has them is refused, so an updated fixture cannot silently skip its rules.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate.utils
from referencing import Registry, Resource

FIXTURES = Path(__file__).parent / "fixtures" / "crds"
K8S_VERSION = "1.31"
OBJECT_META = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

# kind -> (apiVersion, fixture file)
CRDS = {
    "InferenceService": ("serving.kserve.io/v1beta1", "serving.kserve.io_inferenceservices.v1beta1.json"),
    "ServiceMonitor": ("monitoring.coreos.com/v1", "monitoring.coreos.com_servicemonitors.v1.json"),
    "PrometheusRule": ("monitoring.coreos.com/v1", "monitoring.coreos.com_prometheusrules.v1.json"),
}
_JUNCTORS = ("allOf", "anyOf", "oneOf")
_LATE_FLAGS = re.compile(r"^\^\(\?([imsU]+)\)(.*)$", re.DOTALL)
_UNSUPPORTED = ("x-kubernetes-validations", "x-kubernetes-embedded-resource")


def strict(node: Mapping[str, Any], *, structural: bool = True) -> dict[str, Any]:
    """A JSON Schema that rejects what the API server would prune from `node`'s objects."""
    unsupported = [key for key in _UNSUPPORTED if key in node]
    if unsupported:
        raise NotImplementedError(f"structural schema extension(s) not translated: {unsupported}")
    out = dict(node)
    if isinstance(node.get("pattern"), str):
        out["pattern"] = python_pattern(node["pattern"])
    if "properties" in node:
        out["properties"] = {name: strict(child, structural=structural) for name, child in node["properties"].items()}
    if isinstance(node.get("additionalProperties"), Mapping):
        out["additionalProperties"] = strict(node["additionalProperties"], structural=structural)
    if isinstance(node.get("items"), Mapping):
        out["items"] = strict(node["items"], structural=structural)
    for junctor in _JUNCTORS:
        if junctor in node:
            out[junctor] = [strict(branch, structural=False) for branch in node[junctor]]
    if "not" in node:
        out["not"] = strict(node["not"], structural=False)
    if node.get("nullable") is True and "type" in node:
        out["type"] = [node["type"], "null"]
    if node.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    is_object = node.get("type") == "object" or "properties" in node
    preserved = node.get("x-kubernetes-preserve-unknown-fields") is True
    if structural and is_object and not preserved and "additionalProperties" not in node:
        out["additionalProperties"] = False
    return out


def python_pattern(go: str) -> str:
    """The Python `re` form of a Go RE2 pattern (see the module docstring)."""
    late = _LATE_FLAGS.match(go)
    pattern = f"^(?{late[1]}:{late[2]})" if late else go
    try:
        re.compile(pattern)
    except re.error as error:
        raise NotImplementedError(f"pattern {go!r} has no Python translation: {error}") from None
    return pattern


def _list_map_keys(
    validator: jsonschema.protocols.Validator, keys: list[str], instance: Any, schema: Mapping[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    if schema.get("x-kubernetes-list-type") != "map" or not validator.is_type(instance, "array"):
        return
    seen: set[str] = set()
    for item in instance:
        if not isinstance(item, Mapping):
            continue
        key = json.dumps([item.get(k) for k in keys])
        if key in seen:
            yield jsonschema.ValidationError(f"duplicate entry for key {dict(zip(keys, json.loads(key), strict=True))}")
        seen.add(key)


_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {"x-kubernetes-list-map-keys": _list_map_keys}
)


@functools.cache
def _kubernetes_definitions() -> Registry:
    definitions = kubernetes_validate.utils.schema_contents(
        f"kubernetes-json-schema/v{K8S_VERSION}.0-local-strict/_definitions.json", K8S_VERSION
    )
    return Resource.from_contents(definitions) @ Registry()


def crd_schema(kind: str) -> dict[str, Any]:
    """The vendored openAPIV3Schema of `kind`, as published (untranslated)."""
    return json.loads((FIXTURES / CRDS[kind][1]).read_text())


@functools.cache
def validator(kind: str) -> jsonschema.protocols.Validator:
    """A strict validator of whole `kind` manifests (apiVersion, kind, metadata, spec)."""
    api_version, _ = CRDS[kind]
    schema = strict(crd_schema(kind))
    schema["properties"] = {
        **schema["properties"],
        "apiVersion": {"const": api_version},
        "kind": {"const": kind},
        "metadata": {
            "allOf": [{"$ref": OBJECT_META}],
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "maxLength": 253, "pattern": DNS_SUBDOMAIN},
                "namespace": {"type": "string", "maxLength": 63, "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
            },
        },
    }
    schema["required"] = sorted({*schema.get("required", ()), "apiVersion", "kind", "metadata"})
    # No check_schema: against the metaschema it takes seconds for KServe's 0.6 MB schema, and the one
    # part we rewrite beyond structure, the patterns, python_pattern compiles.
    return _Validator(schema, registry=_kubernetes_definitions())


def validate(manifest: Mapping[str, Any]) -> None:
    """Raise jsonschema.ValidationError (the most relevant error) if `manifest` does not conform."""
    validator(manifest["kind"]).validate(manifest)


def errors(manifest: Mapping[str, Any]) -> list[str]:
    """Every problem, as 'path: message' (empty when the manifest conforms)."""
    found = validator(manifest["kind"]).iter_errors(manifest)
    return sorted(f"{e.json_path}: {e.message}" for e in found)
