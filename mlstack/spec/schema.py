"""JSON Schema of mlstack.yaml, for editors (yaml-language-server) and reviewers.

The base is the pydantic schema of the spec. Environment overlays may set any
part of it, so they get a deep-partial copy: the same definitions with
`required` dropped, referenced as `<Name>Overlay`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlstack.spec import SpecFile

SCHEMA_PATH = Path("schema/mlstack.schema.json")
SCHEMA_ID = "https://mlstack.dev/schema/mlstack.schema.json"


def _partial(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _partial(v) for k, v in node.items() if k != "required"}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            out["$ref"] = f"{ref}Overlay"
        return out
    if isinstance(node, list):
        return [_partial(v) for v in node]
    return node


def build_schema() -> dict[str, Any]:
    schema = SpecFile.model_json_schema(mode="validation")
    definitions: dict[str, Any] = schema.setdefault("$defs", {})
    for name, definition in list(definitions.items()):
        definitions[f"{name}Overlay"] = _partial(definition)
    root_overlay = _partial({k: v for k, v in schema.items() if k not in ("$defs", "title", "description")})
    root_overlay["properties"].pop("environments", None)
    root_overlay["title"] = "Environment overlay"
    root_overlay["description"] = (
        "Any part of the spec, deep-merged into the base for this environment. "
        "Lists of named items (models, feature_groups, variants) merge by name."
    )
    definitions["ProjectSpecOverlay"] = root_overlay
    environments = schema["properties"]["environments"]
    environments.pop("patternProperties", None)  # pydantic's rendering of the key type
    environments["propertyNames"] = {"pattern": "^[a-z][a-z0-9]{1,9}$"}
    environments["additionalProperties"] = {"$ref": "#/$defs/ProjectSpecOverlay"}
    schema["title"] = "mlstack project spec"
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def render_schema() -> str:
    return json.dumps(build_schema(), indent=2, sort_keys=True) + "\n"
