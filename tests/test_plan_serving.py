"""Serving in the offline plan of the example: versions, hashed configs, rollout, scaling, Kubernetes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlstack.plan.synth import synthesize
from mlstack.spec import SpecError
from tests.conftest import EXAMPLE

GROUP_ARN = "arn:aws:sagemaker:eu-west-1:333333333333:model-package/card-fraud-prod-fraud-detector"


def _copy(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    text = EXAMPLE.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    spec = tmp_path / "mlstack.yaml"
    spec.write_text(text)
    shutil.copy(EXAMPLE.with_name("mlstack.lock.json"), tmp_path / "mlstack.lock.json")
    return spec


def test_prod_shows_the_resolved_version_and_a_canary_with_rollback(plans) -> None:
    plan = plans("prod")
    versions = plan.outputs["model_versions"]
    assert versions["fraud-detector"]["source"] == "stand-in"
    arn = versions["fraud-detector"]["arn"]
    assert arn == "arn:aws:sagemaker:eu-west-1:333333333333:model-package/card-fraud-prod-fraud-detector/1"
    model = plan.get("fraud-detector-serving-model-primary").inputs
    assert model["primaryContainer"] == {"modelPackageName": arn}
    assert model["enableNetworkIsolation"] is True
    assert model["vpcConfig"]["subnets"] == ["subnet-0a1b2c3d4e5f60718", "subnet-0b2c3d4e5f6071829"]
    config = plan.get("fraud-detector-serving-config").inputs
    assert config["productionVariants"] == [
        {
            "variantName": "primary",
            "modelName": model["name"],
            "instanceType": "ml.c5.xlarge",
            "initialInstanceCount": 2,
            "initialVariantWeight": 1,
        }
    ]
    assert config["dataCaptureConfig"]["initialSamplingPercentage"] == 100
    assert config["dataCaptureConfig"]["destinationS3Uri"] == (
        "s3://card-fraud-prod-artifacts-333333333333/data-capture/fraud-detector"
    )
    endpoint = plan.get("fraud-detector-serving-endpoint")
    assert endpoint.inputs["name"] == "card-fraud-prod-fraud-detector"
    assert endpoint.inputs["endpointConfigName"] == config["name"]
    policy = endpoint.inputs["deploymentConfig"]
    assert policy["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"]["type"] == "CANARY"
    assert {a["alarmName"] for a in policy["autoRollbackConfiguration"]["alarms"]} == {
        "card-fraud-prod-fraud-detector-latency-p99",
        "card-fraud-prod-fraud-detector-error-5xx-rate",
        "card-fraud-prod-fraud-detector-model-errors",
    }
    latency = plan.get("fraud-detector-serving-alarm-latency-p99").inputs
    assert latency["threshold"] == 200 * 1000  # the spec's 200 ms, in microseconds
    scaling = plan.get("fraud-detector-serving-scaling-primary")
    assert endpoint.urn in scaling.dependencies
    assert (scaling.inputs["minCapacity"], scaling.inputs["maxCapacity"]) == (2, 8)


def test_changing_the_instance_type_renames_the_config_not_the_endpoint(tmp_path: Path, plans) -> None:
    before = plans("prod")
    spec = _copy(tmp_path, ("          instance_type: ml.c5.xlarge", "          instance_type: ml.c5.2xlarge"))
    after = synthesize("prod", spec=spec)
    old, new = before.get("fraud-detector-serving-config"), after.get("fraud-detector-serving-config")
    assert old.urn == new.urn and old.inputs["name"] != new.inputs["name"]
    assert before.get("fraud-detector-serving-endpoint").urn == after.get("fraud-detector-serving-endpoint").urn
    unchanged = synthesize("prod")
    assert unchanged.get("fraud-detector-serving-config").inputs["name"] == old.inputs["name"]


def test_dev_deploys_all_at_once_without_scaling(plans) -> None:
    plan = plans("dev")
    routing = plan.get("fraud-detector-serving-endpoint").inputs["deploymentConfig"]["blueGreenUpdatePolicy"]
    assert routing["trafficRoutingConfiguration"]["type"] == "ALL_AT_ONCE"
    assert not [r for r in plan.resources if r.name.startswith("fraud-detector-serving-scaling")]


def test_kubernetes_served_model_renders_its_manifests(plans) -> None:
    plan = plans("prod")
    kinds = sorted(r.type for r in plan.resources if r.type.startswith("kubernetes:") and r.custom)
    assert "kubernetes:apps/v1:Deployment" in kinds and "kubernetes:core/v1:Service" in kinds
    deployment = next(r for r in plan.resources if r.type == "kubernetes:apps/v1:Deployment")
    assert deployment.inputs["metadata"]["namespace"] == "merchant-risk"
    init = json.dumps(deployment.inputs["spec"]["template"]["spec"]["initContainers"])
    assert "s3://card-fraud-prod-artifacts-333333333333/models/merchant-risk" in init
    assert not [r for r in plan.resources if r.name.startswith("merchant-risk-serving")]


def test_a_snapshot_without_approved_versions_fails_prod_with_a_located_error(tmp_path: Path) -> None:
    snapshot = tmp_path / "registry.json"
    snapshot.write_text(
        json.dumps(
            {
                "groups": {
                    "card-fraud-prod-fraud-detector": [
                        {
                            "version": 2,
                            "arn": f"{GROUP_ARN}/2",
                            "status": "PendingManualApproval",
                            "created": "2026-11-01T00:00:00Z",
                        }
                    ],
                    "card-fraud-prod-merchant-risk": [],
                }
            }
        )
    )
    with pytest.raises(SpecError) as caught:
        synthesize("prod", registry_snapshot=snapshot)
    (problem,) = [p for p in caught.value.problems if p.path == "models[0].serving"]
    assert "no Approved version in model package group 'card-fraud-prod-fraud-detector'" in problem.message
    assert "mlstack models approve" in problem.message


PROD_OIDC = (
    "arn:aws:iam::333333333333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/C74B6452C29A70B413804A5A6A193DC3"
)


def test_the_kubernetes_model_gets_its_own_irsa_role_from_the_clusters_oidc_provider(plans) -> None:
    plan = plans("prod")
    role = plan.get("merchant-risk-k8s-role").inputs
    assert role["name"] == "card-fraud-prod-merchant-risk-k8s-serving"
    assert role["tags"]["project"] == "card-fraud" and role["tags"]["environment"] == "prod"
    (trust,) = json.loads(role["assumeRolePolicy"])["Statement"]
    issuer = PROD_OIDC.split(":oidc-provider/")[1]
    assert trust["Principal"] == {"Federated": PROD_OIDC}
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Condition"] == {
        "StringEquals": {
            f"{issuer}:sub": "system:serviceaccount:merchant-risk:merchant-risk",
            f"{issuer}:aud": "sts.amazonaws.com",
        }
    }
    read, decrypt = json.loads(plan.get("merchant-risk-k8s-role-policy").inputs["policy"])["Statement"]
    assert (read["Action"], read["Resource"]) == (
        "s3:GetObject",
        "arn:aws:s3:::card-fraud-prod-artifacts-333333333333/models/merchant-risk/*",
    )
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Resource"] == plan.outputs["kms_key_arn"]  # exactly the project key
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}
    account = plan.get("merchant-risk-k8s-service-account").inputs["metadata"]["annotations"]
    assert account == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::333333333333:role/card-fraud-prod-merchant-risk-k8s-serving"
    }


def test_each_environment_trusts_its_own_accounts_provider(plans) -> None:
    for environment, account in (("dev", "111111111111"), ("staging", "222222222222"), ("prod", "333333333333")):
        (trust,) = json.loads(plans(environment).get("merchant-risk-k8s-role").inputs["assumeRolePolicy"])["Statement"]
        assert trust["Principal"]["Federated"].startswith(f"arn:aws:iam::{account}:oidc-provider/"), environment


def test_a_given_role_is_used_as_is(tmp_path: Path) -> None:
    role = "arn:aws:iam::333333333333:role/merchant-risk-serving"
    prod_line = f"oidc_provider_arn: {PROD_OIDC}"
    indent = "\n            "
    (problem,) = _spec_problems(_copy(tmp_path, (prod_line, f"{prod_line}{indent}iam_role_arn: {role}")))
    assert "give `iam_role_arn` (an existing role) or `oidc_provider_arn` (mlstack creates the role), not both" in (
        problem
    )
    # The base names dev's provider: prod's overlay unsets it.
    plan = synthesize("prod", spec=_copy(tmp_path, (prod_line, f"oidc_provider_arn: null{indent}iam_role_arn: {role}")))
    assert not [r for r in plan.resources if r.name.startswith("merchant-risk-k8s-role")]
    annotations = plan.get("merchant-risk-k8s-service-account").inputs["metadata"]["annotations"]
    assert annotations == {"eks.amazonaws.com/role-arn": role}


def _spec_problems(spec: Path, environment: str = "prod") -> list[str]:
    with pytest.raises(SpecError) as caught:
        synthesize(environment, spec=spec)
    return [p.render() for p in caught.value.problems]


def test_without_a_role_or_an_oidc_provider_the_spec_is_refused_where_the_section_is(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    base = next(line for line in text.splitlines() if "oidc_provider_arn: arn:aws:iam::111111111111" in line)
    spec = _copy(tmp_path, (base + "\n", ""))
    problems = _spec_problems(spec, "dev")
    line = 1 + next(i for i, line in enumerate(spec.read_text().splitlines()) if line.strip() == "kubernetes:")
    (problem,) = problems
    assert problem.startswith(f"{spec}:{line}:7: models[1].serving.kubernetes: the model download needs AWS "), problem
    assert "give `oidc_provider_arn` (the cluster's IAM OIDC provider; mlstack creates the role)" in problem


def test_an_oidc_provider_of_another_account_is_a_located_error(tmp_path: Path) -> None:
    other = PROD_OIDC.replace("333333333333", "444444444444")
    spec = _copy(tmp_path, (PROD_OIDC, other))
    (problem,) = _spec_problems(spec)
    line = 1 + next(i for i, line in enumerate(spec.read_text().splitlines()) if other in line)
    assert problem.startswith(f"{spec}:{line}:13: models[1].serving.kubernetes.oidc_provider_arn: "), problem
    assert "the OIDC provider is in account 444444444444, but environment prod deploys to 333333333333" in problem


@pytest.mark.parametrize(
    ("arn", "ok"),
    [
        (PROD_OIDC, True),
        ("arn:aws:iam::333333333333:oidc-provider/token.actions.githubusercontent.com", True),
        ("arn:aws:iam::333333333333:role/merchant-risk", False),
        ("arn:aws:iam::3333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/C74B", False),
        ("arn:aws:iam::333333333333:oidc-provider/https://oidc.eks.eu-west-1.amazonaws.com/id/C74B", False),
        ("arn:aws:iam::333333333333:oidc-provider/", False),
    ],
)
def test_the_oidc_provider_must_be_an_iam_oidc_provider_arn(arn: str, ok: bool) -> None:
    from pydantic import ValidationError

    from mlstack.spec.serving import Kubernetes

    section = {"namespace": "merchant-risk", "image": "ghcr.io/example/sklearn-server:1.4.2", "oidc_provider_arn": arn}
    if ok:
        assert Kubernetes(**section).oidc_provider_arn == arn
    else:
        with pytest.raises(ValidationError, match="oidc_provider_arn"):
            Kubernetes(**section)
