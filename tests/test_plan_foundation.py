"""The offline plan of the example: foundation security, names, tags, protection, determinism."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mlstack.policies.rules.tagging import is_taggable
from mlstack.spec.naming import fit, required_tags
from tests.conftest import ROOT, run_program
from tests.plan_rules import NAME_KEYS, NAME_RULES, REFERENCE_ONLY, name_ok

ENVIRONMENTS = ("dev", "staging", "prod")


def _statements(policy: str) -> list[dict]:
    return json.loads(policy)["Statement"]


def _listify(value: object) -> list:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_taggable_resource_carries_the_required_tags(plans, environment: str) -> None:
    plan = plans(environment)
    expected = required_tags(plan.environment)
    assert expected["managed-by"] == "mlstack" and expected["team"] == "risk-ml"
    taggable = [r for r in plan.resources if r.custom and is_taggable(r.type)]
    assert taggable, "the plan has no taggable resource"
    missing = {r.urn: r.inputs.get("tags") for r in taggable if r.inputs.get("tags") != expected}
    assert missing == {}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_physical_name_is_within_aws_limits(plans, environment: str) -> None:
    for resource in plans(environment).resources:
        for key in NAME_KEYS:
            value = resource.inputs.get(key)
            if not isinstance(value, str) or (resource.type, key) in REFERENCE_ONLY:
                continue
            assert (resource.type, key) in NAME_RULES, f"add a naming rule for {resource.type}.{key}"
            assert name_ok(resource.type, key, value), f"{resource.urn}: {key}={value!r}"


def test_names_follow_project_environment_thing(plans) -> None:
    plan = plans("prod")
    assert plan.get("foundation-artifacts-bucket").inputs["bucket"] == "card-fraud-prod-artifacts-333333333333"
    assert plan.get("foundation-sagemaker-role").inputs["name"] == "card-fraud-prod-sagemaker-execution"
    assert plan.get("foundation-kms-alias").inputs["name"] == "alias/card-fraud-prod"


def test_long_names_keep_a_readable_prefix_and_a_hash() -> None:
    long = "a-very-long-project-name-prod-" + "x" * 60
    fitted = fit(long, 63)
    assert len(fitted) == 63
    assert fitted.startswith("a-very-long-project-name-prod-")
    assert fit(long, 63) == fitted and fit(long + "y", 63) != fitted
    assert fit("short", 63) == "short"


def test_key_rotates_and_grants_no_wildcard_principal(plans) -> None:
    key = plans("dev").get("foundation-kms-key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    for statement in _statements(key.inputs["policy"]):
        principal = statement["Principal"]
        assert principal != "*" and "*" not in _listify(principal.get("AWS", []))
    services = [s for s in _statements(key.inputs["policy"]) if "Service" in s["Principal"]]
    assert services[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "111111111111"}}


def test_bucket_is_private_versioned_kms_encrypted_and_tls_only(plans) -> None:
    plan = plans("dev")
    sse = plan.get("foundation-artifacts-encryption").inputs["rules"][0]
    assert sse["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert sse["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"].startswith(
        "arn:aws:kms:eu-west-1:111111111111:key/"
    )
    assert plan.get("foundation-artifacts-versioning").inputs["versioningConfiguration"] == {"status": "Enabled"}
    block = plan.get("foundation-artifacts-public-access").inputs
    assert all(
        block[k] is True
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    deny = next(
        s for s in _statements(plan.get("foundation-artifacts-policy").inputs["policy"]) if s["Effect"] == "Deny"
    )
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    rule = plan.get("foundation-artifacts-lifecycle").inputs["rules"][0]
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 90}
    assert plan.get("foundation-artifacts-bucket").inputs["forceDestroy"] is False


def test_bucket_policy_waits_for_the_public_access_block(plans) -> None:
    plan = plans("dev")
    assert plan.get("foundation-artifacts-public-access").urn in plan.get("foundation-artifacts-policy").dependencies


def test_execution_role_is_least_privilege(plans) -> None:
    plan = plans("dev")
    role = plan.get("foundation-sagemaker-role")
    (trust,) = _statements(role.inputs["assumeRolePolicy"])
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "111111111111"}}
    statements = _statements(plan.get("foundation-sagemaker-policy").inputs["policy"])
    bucket_arn = "arn:aws:s3:::card-fraud-dev-artifacts-111111111111"
    for statement in statements:
        assert all("*" not in action for action in _listify(statement["Action"])), statement
        resources = _listify(statement["Resource"])
        if statement["Sid"] in ("PublishSageMakerMetrics", "AuthenticateToEcr", "DescribeNetwork"):
            assert resources == ["*"]  # these two APIs have no resource-level permissions
            continue
        assert "*" not in resources
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["ReadWriteProjectObjects"]["Resource"] == f"{bucket_arn}/*"
    assert by_sid["ListProjectBucket"]["Resource"] == bucket_arn
    assert by_sid["UseProjectKey"]["Resource"].startswith("arn:aws:kms:eu-west-1:111111111111:key/")
    assert by_sid["PublishSageMakerMetrics"]["Condition"]


@pytest.mark.parametrize(("environment", "protected"), [("dev", False), ("staging", False), ("prod", True)])
def test_stateful_resources_are_protected_in_prod_only(plans, environment: str, protected: bool) -> None:
    plan = plans(environment)
    for name in ("foundation-kms-key", "foundation-artifacts-bucket"):
        options = plan.get(name).options
        assert (options["protect"], options["retain_on_delete"]) == (protected, protected)
    assert plan.get("foundation-sagemaker-role").options["protect"] is False


def test_children_are_parented_to_their_component(plans) -> None:
    plan = plans("dev")
    components = {r.urn for r in plan.resources if not r.custom}
    for resource in plan.resources:
        if resource.custom and not resource.type.startswith("pulumi:providers:"):  # providers are stack-wide
            assert resource.parent in components, resource.urn


def test_plan_is_deterministic_in_process(plans) -> None:
    from mlstack.plan.synth import synthesize

    assert synthesize("prod").to_json() == plans("prod").to_json()


def test_plan_json_is_byte_identical_across_runs(tmp_path) -> None:
    outputs = []
    for run in range(2):
        target = tmp_path / f"plan{run}.json"
        subprocess.run(
            [sys.executable, "-m", "mlstack", "plan", "prod", "--json", "-o", str(target)],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]
    body = json.loads(outputs[0])
    assert body["stack"] == "prod" and body["resources"] == sorted(body["resources"], key=lambda r: r["urn"])
    assert body["outputs"]["artifact_bucket"] == "card-fraud-prod-artifacts-333333333333"


def test_plan_accepts_another_spec(tmp_path) -> None:
    from mlstack.plan.synth import synthesize
    from tests.conftest import FIXTURES

    plan = synthesize("dev", spec=FIXTURES / "minimal.yaml")
    assert plan.get("foundation-artifacts-bucket").inputs["bucket"] == "demo-dev-artifacts-111111111111"


def test_program_reports_a_bad_spec_as_a_clean_run_error(tmp_path) -> None:
    import pulumi

    from mlstack.plan.synth import synthesize
    from mlstack.spec import SpecError

    bad = tmp_path / "bad.yaml"
    bad.write_text("project: {}\nenvironments: {dev: {}}\n")
    with pytest.raises(SpecError):
        synthesize("dev", spec=bad)
    # The program itself (what `pulumi up` runs) raises RunError with the same text.
    with pytest.raises(pulumi.RunError, match=r"bad.yaml:1:1: project.name: missing required key 'name'"):
        run_program(bad)
