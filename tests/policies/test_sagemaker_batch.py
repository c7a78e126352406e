"""Batch transform in pipeline definitions: the Model and Transform steps of a batch-scoring pipeline.

One compliant fixture (the SageMaker SDK's output for a ModelStep over model.create() and
a TransformStep), one mutation per requirement with the exact message, for the rules
that read these steps: transform encryption, model isolation, tags, instance families.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlstack.policies.rules import by_name
from mlstack.policies.testing import DELETE, UNKNOWN, Resource, mutate, run_pack, run_resource_policy
from tests.conftest import ROOT
from tests.policies.test_sagemaker_jobs import PIPELINE, PROCESSING, TRAINING
from tests.policies.test_tagging import TAGS

TRANSFORM_ENCRYPTED = by_name("sagemaker-pipeline-transform-encrypted")
MODEL_ISOLATED = by_name("sagemaker-pipeline-model-isolated")
REQUIRED_TAGS = by_name("required-tags")
INSTANCE_TYPES = by_name("sagemaker-allowed-instance-types")
RULES = [TRANSFORM_ENCRYPTED, MODEL_ISOLATED, REQUIRED_TAGS, INSTANCE_TYPES, TRAINING, PROCESSING]
REQUIRE_VPC = {"sagemaker-pipeline-model-isolated": {"requireVpc": True}}
CONFIGS = ROOT / "policies" / "config"

KEY = "arn:aws:kms:eu-west-1:123456789012:key/k"
STEP_TAGS = [{"Key": k, "Value": v} for k, v in TAGS.items()]
MODEL_STEP: dict[str, Any] = {
    "Name": "CreateModel",
    "Type": "Model",
    "Arguments": {
        "ExecutionRoleArn": "arn:aws:iam::123456789012:role/r",
        "Containers": [{"ModelPackageName": "arn:aws:sagemaker:eu-west-1:123456789012:model-package/g/3"}],
        "Tags": STEP_TAGS,
        "VpcConfig": {"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]},
        "EnableNetworkIsolation": True,
    },
}
TRANSFORM_STEP: dict[str, Any] = {
    "Name": "Transform",
    "Type": "Transform",
    "Arguments": {
        "ModelName": {"Get": "Steps.CreateModel.ModelName"},
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": {"Get": "Parameters.InputS3Uri"}}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {
            "S3OutputPath": "s3://out/x",
            "Accept": "text/csv",
            "AssembleWith": "Line",
            "KmsKeyId": KEY,
        },
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeKmsKeyId": KEY},
        "BatchStrategy": "MultiRecord",
        "MaxConcurrentTransforms": 2,
        "MaxPayloadInMB": 6,
        "Tags": STEP_TAGS,
        "DataProcessing": {"JoinSource": "Input"},
    },
}
BATCH: dict[str, Any] = {
    "Version": "2020-12-01",
    "Parameters": [{"Name": "InputS3Uri", "Type": "String", "DefaultValue": "s3://in/x"}],
    "Steps": [MODEL_STEP, TRANSFORM_STEP],
}
MODEL = "Steps.0.Arguments"
TRANSFORM = "Steps.1.Arguments"
CAPTURE = {"DestinationS3Uri": "s3://out/capture", "KmsKeyId": KEY, "GenerateInferenceId": True}


def batch(definition: dict[str, Any] = BATCH) -> Resource:
    return Resource(
        PIPELINE, {"pipelineName": "scorer-batch", "tags": TAGS, "pipelineDefinition": json.dumps(definition)}
    )


def _messages(policy: Any, definition: dict[str, Any] = BATCH, config: dict[str, Any] | None = None) -> list[str]:
    return run_resource_policy(policy, [batch(definition)], config).messages()


@pytest.mark.parametrize("config", [None, REQUIRE_VPC])
def test_the_compliant_batch_pipeline_passes(config: dict[str, Any] | None) -> None:
    report = run_pack(RULES, [batch()], config)
    assert report.violations == [] and report.not_evaluated == []


@pytest.mark.parametrize(
    ("policy", "path", "value", "message"),
    [
        (TRANSFORM_ENCRYPTED, f"{TRANSFORM}.TransformOutput.KmsKeyId", DELETE,
         "Transform step Transform: TransformOutput.KmsKeyId is not set"),
        (TRANSFORM_ENCRYPTED, f"{TRANSFORM}.TransformOutput.KmsKeyId", " ",
         "Transform step Transform: TransformOutput.KmsKeyId is not set"),
        (TRANSFORM_ENCRYPTED, f"{TRANSFORM}.TransformResources.VolumeKmsKeyId", DELETE,
         "Transform step Transform: TransformResources.VolumeKmsKeyId is not set"),
        (TRANSFORM_ENCRYPTED, f"{TRANSFORM}.TransformResources.VolumeKmsKeyId", {},
         "Transform step Transform: TransformResources.VolumeKmsKeyId is not set"),
        (TRANSFORM_ENCRYPTED, f"{TRANSFORM}.DataCaptureConfig", {"DestinationS3Uri": "s3://out/capture"},
         "Transform step Transform: DataCaptureConfig.KmsKeyId is not set"),
        (MODEL_ISOLATED, f"{MODEL}.EnableNetworkIsolation", DELETE,
         "Model step CreateModel: EnableNetworkIsolation is not true"),
        (MODEL_ISOLATED, f"{MODEL}.EnableNetworkIsolation", False,
         "Model step CreateModel: EnableNetworkIsolation is not true"),
        (MODEL_ISOLATED, f"{MODEL}.EnableNetworkIsolation", "false",
         "Model step CreateModel: EnableNetworkIsolation is not true"),
        (REQUIRED_TAGS, f"{TRANSFORM}.Tags", [t for t in STEP_TAGS if t["Key"] != "owner"],
         "Transform step Transform starts jobs without required tags: owner"),
        (REQUIRED_TAGS, f"{MODEL}.Tags", [t for t in STEP_TAGS if t["Key"] != "cost-centre"],
         "Model step CreateModel creates a model without required tags: cost-centre"),
        (REQUIRED_TAGS, f"{MODEL}.Tags", DELETE,
         "Model step CreateModel creates a model without required tags: " + ", ".join(TAGS)),
        (REQUIRED_TAGS, f"{TRANSFORM}.Tags", "team=ml",
         "Transform step Transform: Tags is 'team=ml', not a mapping of key to value (or a list of {key, value} "
         "objects)"),
        (INSTANCE_TYPES, f"{TRANSFORM}.TransformResources.InstanceType", "ml.p3.2xlarge",
         "Transform step Transform uses ml.p3.2xlarge, which is not in an allowed instance family"),
    ],
)  # fmt: skip
def test_each_requirement(policy: Any, path: str, value: Any, message: str) -> None:
    assert _messages(policy, mutate(BATCH, path, value)) == [message]


@pytest.mark.parametrize(
    ("path", "value"),
    [(f"{MODEL}.VpcConfig", DELETE), (f"{MODEL}.VpcConfig.Subnets", []), (f"{MODEL}.VpcConfig", "vpc-1")],
)
def test_a_model_outside_a_vpc_fails_only_where_a_vpc_is_required(path: str, value: Any) -> None:
    outside = mutate(BATCH, path, value)
    assert _messages(MODEL_ISOLATED, outside, REQUIRE_VPC) == [
        "Model step CreateModel creates a model outside a VPC (VpcConfig.Subnets)"
    ]
    assert _messages(MODEL_ISOLATED, outside) == []


def test_pipeline_expressions_count_as_set() -> None:
    parameterised = mutate(BATCH, f"{TRANSFORM}.TransformOutput.KmsKeyId", {"Get": "Parameters.OutputKmsKey"})
    parameterised = mutate(parameterised, f"{TRANSFORM}.TransformResources.VolumeKmsKeyId", {"Std:Join": {"On": ""}})
    parameterised = mutate(parameterised, f"{MODEL}.VpcConfig.Subnets", {"Get": "Parameters.Subnets"})
    assert _messages(TRANSFORM_ENCRYPTED, parameterised) == []
    assert _messages(MODEL_ISOLATED, parameterised, REQUIRE_VPC) == []


def test_encrypted_data_capture_and_a_primary_container_pass() -> None:
    assert _messages(TRANSFORM_ENCRYPTED, mutate(BATCH, f"{TRANSFORM}.DataCaptureConfig", CAPTURE)) == []
    primary = mutate(BATCH, f"{MODEL}.Containers", DELETE)
    primary = mutate(primary, f"{MODEL}.PrimaryContainer", MODEL_STEP["Arguments"]["Containers"][0])
    assert run_pack(RULES, [batch(primary)], REQUIRE_VPC).violations == []
    assert _messages(MODEL_ISOLATED, mutate(primary, f"{MODEL}.EnableNetworkIsolation", False)) == [
        "Model step CreateModel: EnableNetworkIsolation is not true"
    ]


def test_steps_inside_condition_branches_are_checked() -> None:
    model = mutate(MODEL_STEP, "Arguments.EnableNetworkIsolation", False)
    transform = mutate(TRANSFORM_STEP, "Arguments.TransformOutput.KmsKeyId", DELETE)
    transform = mutate(transform, "Arguments.TransformResources.InstanceType", "ml.g4dn.xlarge")
    transform = mutate(transform, "Arguments.Tags", [])
    gated = {
        "Steps": [
            {"Name": "ScoreIfFresh", "Type": "Condition", "Arguments": {"IfSteps": [model], "ElseSteps": [transform]}}
        ]
    }
    assert _messages(MODEL_ISOLATED, gated) == ["Model step CreateModel: EnableNetworkIsolation is not true"]
    assert _messages(TRANSFORM_ENCRYPTED, gated) == ["Transform step Transform: TransformOutput.KmsKeyId is not set"]
    assert _messages(INSTANCE_TYPES, gated) == [
        "Transform step Transform uses ml.g4dn.xlarge, which is not in an allowed instance family"
    ]
    assert _messages(REQUIRED_TAGS, gated) == [
        "Transform step Transform starts jobs without required tags: " + ", ".join(TAGS)
    ]


def test_a_transform_instance_type_from_a_parameter_is_checked_at_its_default() -> None:
    parameter = {"Name": "TransformInstanceType", "Type": "String", "DefaultValue": "ml.p4d.24xlarge"}
    definition = mutate(BATCH, "Parameters", [*BATCH["Parameters"], parameter])
    definition = mutate(
        definition, f"{TRANSFORM}.TransformResources.InstanceType", {"Get": "Parameters.TransformInstanceType"}
    )
    assert _messages(INSTANCE_TYPES, definition) == [
        "Transform step Transform uses ml.p4d.24xlarge, which is not in an allowed instance family"
    ]
    allowed = {"sagemaker-allowed-instance-types": {"allowedFamilies": ["ml.p4d."]}}
    assert _messages(INSTANCE_TYPES, definition, allowed) == []


def test_step_tags_follow_the_configured_required_keys() -> None:
    config = {"required-tags": {"requiredKeys": ["project", "team"]}}
    report = run_resource_policy(
        REQUIRED_TAGS, [Resource(PIPELINE, {**batch().props, "tags": {"project": "p", "team": "t"}})], config
    )
    assert report.messages() == [
        "Model step CreateModel creates a model without required tags: team",
        "Transform step Transform starts jobs without required tags: team",
    ]


def test_steps_without_arguments_fail_closed() -> None:
    bare = {"Steps": [{"Name": "CreateModel", "Type": "Model"}, {"Name": "Transform", "Type": "Transform"}]}
    assert _messages(TRANSFORM_ENCRYPTED, bare) == [
        "Transform step Transform: TransformOutput.KmsKeyId is not set",
        "Transform step Transform: TransformResources.VolumeKmsKeyId is not set",
    ]
    assert _messages(MODEL_ISOLATED, bare, REQUIRE_VPC) == [
        "Model step CreateModel: EnableNetworkIsolation is not true",
        "Model step CreateModel creates a model outside a VPC (VpcConfig.Subnets)",
    ]


@pytest.mark.parametrize("policy", [TRANSFORM_ENCRYPTED, MODEL_ISOLATED])
def test_definitions_that_cannot_be_read_are_reported(policy: Any) -> None:
    in_s3 = Resource(PIPELINE, {"pipelineDefinitionS3Location": {"bucket": "b", "objectKey": "p.json"}})
    assert run_resource_policy(policy, [in_s3]).messages() == [
        "the pipeline definition is in S3 (pipelineDefinitionS3Location), so its steps can't be checked"
    ]
    broken = Resource(PIPELINE, {"pipelineDefinition": "{not json"})
    assert run_resource_policy(policy, [broken]).messages() == [
        "pipelineDefinition is not a JSON object, so its steps can't be checked"
    ]


@pytest.mark.parametrize("policy", [TRANSFORM_ENCRYPTED, MODEL_ISOLATED])
def test_unknown_definitions_are_not_evaluated(policy: Any) -> None:
    report = run_resource_policy(policy, [Resource(PIPELINE, {"pipelineDefinition": UNKNOWN})])
    assert report.violations == [] and len(report.not_evaluated) == 1


def test_other_resource_types_are_not_these_rules_business() -> None:
    model = Resource("aws:sagemaker/model:Model", {"enableNetworkIsolation": False})
    assert run_pack([TRANSFORM_ENCRYPTED, MODEL_ISOLATED], [model], REQUIRE_VPC).violations == []


@pytest.mark.parametrize(
    "steps",
    [
        [{"Type": "Transform", "Arguments": []}],
        [
            {
                "Type": "Transform",
                "Arguments": {"TransformOutput": "s3://x", "TransformResources": [1], "DataCaptureConfig": 3},
            }
        ],
        [{"Type": "Model", "Arguments": "x"}],
        [{"Type": "Model", "Arguments": {"VpcConfig": {"Subnets": None}, "EnableNetworkIsolation": [True]}}],
        [{"Type": ["Model"], "Name": {"x": 1}}],
        [{"Type": "Condition", "Arguments": {"IfSteps": {"Type": "Transform"}, "ElseSteps": [None]}}],
    ],
)
def test_odd_shapes_do_not_raise(steps: list[Any]) -> None:
    run_pack(RULES, [Resource(PIPELINE, {"pipelineDefinition": json.dumps({"Steps": steps})})], REQUIRE_VPC)


@pytest.mark.parametrize(("tier", "level"), [("dev", "advisory"), ("staging", "mandatory"), ("prod", "mandatory")])
def test_each_tier_names_the_batch_rules_and_prod_requires_a_vpc(tier: str, level: str) -> None:
    config = json.loads((CONFIGS / f"{tier}.json").read_text())
    for policy in (TRANSFORM_ENCRYPTED, MODEL_ISOLATED):
        entry = config[policy.name]
        assert (entry if isinstance(entry, str) else entry["enforcementLevel"]) == level, policy.name
    outside = mutate(BATCH, f"{MODEL}.VpcConfig", DELETE)
    report = run_pack([MODEL_ISOLATED], [batch(outside)], config)
    assert [(v.level, v.message) for v in report.violations] == (
        [("mandatory", "Model step CreateModel creates a model outside a VPC (VpcConfig.Subnets)")]
        if tier == "prod"
        else []
    )
    unencrypted = mutate(BATCH, f"{TRANSFORM}.TransformOutput.KmsKeyId", DELETE)
    report = run_pack([TRANSFORM_ENCRYPTED], [batch(unencrypted)], config)
    assert [v.level for v in report.violations] == [level]


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_the_example_pipelines_pass(plans: Any, environment: str) -> None:
    resources = [Resource.from_plan(r.as_dict()) for r in plans(environment).resources]
    report = run_pack([TRANSFORM_ENCRYPTED, MODEL_ISOLATED], resources, REQUIRE_VPC)
    assert report.violations == [] and report.not_evaluated == [] and report.evaluated > 0
