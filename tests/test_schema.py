"""The committed JSON Schema is current and accepts what the loader accepts."""

from __future__ import annotations

import json

import jsonschema
from ruamel.yaml import YAML

from mlstack.spec.schema import render_schema
from tests.conftest import EXAMPLE, FIXTURES, ROOT

COMMITTED = ROOT / "schema" / "mlstack.schema.json"


def test_committed_schema_is_current() -> None:
    assert COMMITTED.read_text() == render_schema(), (
        "schema/mlstack.schema.json is stale: run `make schema` (mlstack schema -o schema/mlstack.schema.json)"
    )


def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(COMMITTED.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_example_and_fixture_validate_against_the_schema() -> None:
    for path in (EXAMPLE, FIXTURES / "minimal.yaml"):
        document = YAML(typ="safe", pure=True).load(path.read_text())
        assert list(_validator().iter_errors(document)) == []


def test_schema_rejects_unknown_keys_and_aws_values() -> None:
    document = YAML(typ="safe", pure=True).load(EXAMPLE.read_text())
    document["project"]["colour"] = "blue"
    document["models"][0]["serving"]["instance_type"] = "ml.m5.largee"
    document["environments"]["prod"]["models"][0]["serving"]["instance_count"] = 0
    messages = sorted(e.json_path for e in _validator().iter_errors(document))
    assert messages == [
        "$.environments.prod.models[0].serving",
        "$.models[0].serving",
        "$.project",
    ]
