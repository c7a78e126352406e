"""The replacement tables stay true to the providers' own data as they are upgraded."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from mlstack.plan.force_new import FORCE_NEW
from mlstack.plan.replacement import CREATE_ONLY, classify


def _sdk_file(type_: str) -> Path:
    """pulumi_aws/<module>/<resource_in_snake_case>.py for aws:<module>/<resource>:<Resource>."""
    module, resource = type_.split(":")[1].split("/")
    spec = importlib.util.find_spec("pulumi_aws")
    assert spec and spec.submodule_search_locations
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", resource).lower()
    folder = "lambda_" if module == "lambda" else module
    return Path(next(iter(spec.submodule_search_locations))) / folder / f"{snake}.py"


def _wire_names(source: str) -> set[str]:
    named = set(re.findall(r'@pulumi\.getter\(name="(\w+)"\)', source))
    plain = set(re.findall(r"@pulumi\.getter\n    def (\w+)\(self\)", source))
    return named | plain


@pytest.mark.parametrize("type_", sorted(FORCE_NEW))
def test_every_forcing_path_is_an_input_of_the_installed_pulumi_aws(type_: str) -> None:
    names = _wire_names(_sdk_file(type_).read_text())
    missing = sorted({p.split(".")[0] for p in FORCE_NEW[type_].paths} - names)
    assert missing == [], f"{type_}: {missing} are not inputs of the installed pulumi-aws"
    assert re.fullmatch(r"internal/service/[\w/]+\.go@[0-9a-f]{40}", FORCE_NEW[type_].source)


def _cfn_create_only(cfn_type: str) -> tuple[set[str], set[str]]:
    spec = importlib.util.find_spec("cfnlint")
    assert spec and spec.origin
    schemas = Path(spec.origin).parent / "data" / "schemas"
    digest = json.loads((schemas / "providers" / "eu-west-1.json").read_text())[cfn_type]
    schema = json.loads((schemas / "resources" / f"{digest}.json").read_text())
    create_only = {p.removeprefix("/properties/") for p in schema.get("createOnlyProperties", [])}
    writable = set(schema["properties"]) - {
        p.removeprefix("/properties/") for p in schema.get("readOnlyProperties", [])
    }
    return create_only, writable


@pytest.mark.parametrize("type_", sorted(CREATE_ONLY))
def test_aws_native_create_only_properties_match_the_cloudformation_schema(type_: str) -> None:
    create_only, writable = _cfn_create_only("AWS::SageMaker::" + type_.rsplit(":", 1)[-1])
    assert CREATE_ONLY[type_].paths == {name[0].lower() + name[1:] for name in create_only}
    assert CREATE_ONLY[type_].everything == (create_only == writable)


def test_a_rename_always_replaces_and_tags_alone_update() -> None:
    assert classify("aws:sns/topic:Topic", ["name"], renamed=["name"]).replace
    assert not classify("aws:sagemaker/model:Model", ["tags.team"]).replace
    assert classify("aws:sagemaker/model:Model", ["primaryContainer.image"]).replace
    assert not classify("aws:sagemaker/pipeline:Pipeline", ["pipelineDefinition"]).replace
    assert classify("aws:sagemaker/pipeline:Pipeline", ["pipelineName"]).replace
