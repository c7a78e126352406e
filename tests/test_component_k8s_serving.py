"""The KubernetesServing component under Pulumi mocks: every manifest it renders is validated
against the Kubernetes 1.31 OpenAPI schemas (kubernetes-validate, strict: unknown fields fail),
and the KServe InferenceService, which kubernetes-validate has no schema for, against KServe's
published CRD schema (tests/fixtures/crds/, strict in the same way: tests/crd_schemas.py)."""

from __future__ import annotations

import functools
import ipaddress
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils
import pulumi
import pulumi_kubernetes as k8s
import pytest

from mlstack.components.k8s_serving import (
    HOST_LOCAL_NETWORKS,
    KubernetesServing,
    KubernetesServingArgs,
    label_value,
    valid_label_key,
)
from mlstack.plan.synth import RecordedResource, record
from tests import crd_schemas

K8S_VERSION = crd_schemas.K8S_VERSION
ROLE = "arn:aws:iam::123456789012:role/risk-serving"
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/5C2B8F4E9A1D3B7C6E0F2A4D8B1C3E5F"
OIDC = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/4f3c2b1a-0000-4000-8000-000000000001"
URI = "s3://demo-dev-artifacts/models/risk/v7/model.tar.gz"
COMPONENT = "mlstack:serving:KubernetesServing"
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# EC2 instance metadata and the EKS Pod Identity agent, IPv4 and IPv6: IRSA needs neither.
METADATA_ENDPOINTS = ("169.254.169.254", "169.254.170.23", "fd00:ec2::254", "fd00:ec2::23")


@pytest.fixture(scope="module", autouse=True)
def cached_schemas() -> Iterator[None]:
    # validate() re-reads and re-parses the 1.3 MB _definitions.json on every call: cache the loader.
    loader = functools.cache(kubernetes_validate.utils.schema_contents)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kubernetes_validate.utils, "schema_contents", loader)
        yield


def _args(**overrides: Any) -> KubernetesServingArgs:
    values: dict[str, Any] = {
        "namespace": "risk-serving",
        "app_name": "risk-scorer",
        "model_name": "Risk Scorer",
        "model_version": "7",
        "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/risk@sha256:" + "a" * 64,
        "model_data_uri": URI,
        "server_args": ("serve",),
        "role_arn": ROLE,
        "region": "eu-west-1",
        "allow_from_namespace_labels": {"kubernetes.io/metadata.name": "gateway"},
        "labels": {"project": "demo", "environment": "dev", "owner": "ml-team@example.com", "cost-centre": "CC 42"},
    }
    values.update(overrides)
    return KubernetesServingArgs(**values)


# The component creates the IRSA role: trusted through the cluster's OIDC provider.
OWN_ROLE = {
    "role_arn": None,
    "oidc_provider_arn": OIDC,
    "role_name": "demo-dev-risk-k8s-serving",
    "artifact_read_prefix": "s3://demo-dev-artifacts/models/risk",
    "kms_key_arn": KEY,
    "tags": {"project": "demo", "owner": "ml-team@example.com"},
}


def _plan(**overrides: Any) -> list[RecordedResource]:
    resources, _ = record(lambda: KubernetesServing("risk", _args(**overrides)))
    return resources


@pytest.fixture(scope="module")
def plain() -> list[RecordedResource]:
    return _plan()


@pytest.fixture(scope="module")
def kserve() -> list[RecordedResource]:
    return _plan(runtime="kserve")


@pytest.fixture(scope="module")
def own_role() -> list[RecordedResource]:
    return _plan(**OWN_ROLE)


def _ints(value: Any) -> Any:
    """The SDK sends numbers as floats; manifests hold integers."""
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _manifests(resources: list[RecordedResource]) -> dict[str, dict[str, Any]]:
    """Kind -> manifest: pulumi-kubernetes registers the object itself (apiVersion, kind, metadata, spec...)."""
    return {r.inputs["kind"]: _ints(r.inputs) for r in resources if r.type.startswith("kubernetes:")}


def _pod(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return manifests["Deployment"]["spec"]["template"]["spec"]


def _validate(manifest: dict[str, Any]) -> None:
    if manifest["kind"] == "InferenceService":
        crd_schemas.validate(manifest)
    else:
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


@pytest.mark.parametrize(
    "overrides",
    [{}, {**OWN_ROLE, "min_replicas": 1}, {"runtime": "kserve"}, {**OWN_ROLE, "runtime": "kserve"}],
)
def test_every_rendered_manifest_is_valid_for_kubernetes_1_31(overrides: dict[str, Any]) -> None:
    manifests = _manifests(_plan(**overrides))
    started = time.perf_counter()
    for manifest in manifests.values():
        _validate(manifest)
    assert time.perf_counter() - started < 2


def test_validation_is_strict() -> None:
    """Sanity: an unknown field fails kubernetes-validate, so the passes above mean something."""
    typo = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": {"replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, K8S_VERSION, strict=True)


def _mutated(manifest: dict[str, Any], path: str, change: Any) -> dict[str, Any]:
    """A deep copy of `manifest` with one change at `path` (dot-separated keys and list indices)."""
    copy = json.loads(json.dumps(manifest))
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node = functools.reduce(lambda n, p: n[p], parents, copy)
    change(node, last)
    return copy


def _rename(to: str) -> Any:
    return lambda node, key: node.__setitem__(to, node.pop(key))


@pytest.mark.parametrize(
    ("path", "change", "message"),
    [
        ("spec.predictor.minReplicas", _rename("minReplica"), "'minReplica' was unexpected"),
        ("spec.predictor.containers.0.image", _rename("imag"), "'imag' was unexpected"),
        ("spec.predictor.securityContext.runAsUser", _rename("runAsUsr"), "'runAsUsr' was unexpected"),
        ("spec", _rename("spek"), "'spek' was unexpected"),
        ("metadata.labels", _rename("label"), "'label' was unexpected"),
        ("spec.predictor.scaleMetric", lambda n, k: n.__setitem__(k, "gpu"), "'gpu' is not one of"),
        ("spec.predictor.minReplicas", lambda n, k: n.__setitem__(k, "2"), "'2' is not of type 'integer'"),
        (
            "spec.predictor.containers.0.env",
            lambda n, k: n[k].append({"name": "MODEL_DIR", "value": "/elsewhere"}),
            "duplicate entry for key {'name': 'MODEL_DIR'}",
        ),
    ],
)
def test_kserve_crd_rejects_one_mutation_of_the_real_inference_service(
    kserve: list[RecordedResource], path: str, change: Any, message: str
) -> None:
    """The real manifest passes KServe's CRD; the same manifest with one field misspelt (or mistyped) fails."""
    manifest = _manifests(kserve)["InferenceService"]
    assert crd_schemas.errors(manifest) == []
    problems = crd_schemas.errors(_mutated(manifest, path, change))
    assert len(problems) == 1 and message in problems[0], problems
    with pytest.raises(jsonschema.ValidationError):
        crd_schemas.validate(_mutated(manifest, path, change))


def _assert_hardened(pod: dict[str, Any]) -> None:
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod.get("initContainers", []) + pod["containers"]:
        sc = container["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["runAsUser"] > 0, container["name"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert "memory" in container["resources"]["limits"] and container["resources"]["requests"]


def test_pod_and_every_container_are_hardened(plain: list[RecordedResource], kserve: list[RecordedResource]) -> None:
    pod = _pod(_manifests(plain))
    _assert_hardened(pod)
    assert [c["name"] for c in pod["initContainers"]] == ["fetch-model", "unpack-model"]
    assert pod["automountServiceAccountToken"] is False
    _assert_hardened(_manifests(kserve)["InferenceService"]["spec"]["predictor"])
    namespace = _manifests(plain)["Namespace"]["metadata"]["labels"]
    assert namespace["pod-security.kubernetes.io/enforce"] == "restricted"


def test_init_containers_fetch_the_s3_artifact_into_a_read_only_model_volume(plain: list[RecordedResource]) -> None:
    pod = _pod(_manifests(plain))
    fetch, unpack = pod["initContainers"]
    assert fetch["image"] == "amazon/aws-cli:2.32.8"  # pinned, never latest
    assert fetch["command"][:3] == ["aws", "s3", "cp"] and URI in fetch["command"]  # exec form, one argv entry
    assert {"name": "HOME", "value": "/tmp"} in fetch["env"]
    assert {"name": "AWS_REGION", "value": "eu-west-1"} in fetch["env"]
    # The read-only root needs a writable home/tmp for aws-cli.
    assert {"name": "tmp", "mountPath": "/tmp"} in fetch["volumeMounts"]
    assert "tar -xzf /download/model.tar.gz -C /model" in unpack["command"][-1]
    assert {"name": "model", "mountPath": "/model"} in unpack["volumeMounts"]
    (server,) = pod["containers"]
    assert {"name": "model", "mountPath": "/opt/ml/model", "readOnly": True} in server["volumeMounts"]
    assert server["env"][0] == {"name": "MODEL_DIR", "value": "/opt/ml/model"}
    assert server["args"] == ["serve"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert set(volumes) == {"model", "download", "tmp"} and all("emptyDir" in v for v in volumes.values())


def test_probes_check_the_health_path_on_the_serving_port(plain: list[RecordedResource]) -> None:
    (server,) = _pod(_manifests(plain))["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert server[probe]["httpGet"] == {"path": "/ping", "port": 8080}, probe
    assert server["startupProbe"]["periodSeconds"] * server["startupProbe"]["failureThreshold"] == 300
    other = _pod(_manifests(_plan(health_path="/healthz", probe_port=9000)))["containers"][0]
    assert other["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 9000}


def test_the_service_account_names_the_given_role_for_irsa(plain: list[RecordedResource]) -> None:
    account = _manifests(plain)["ServiceAccount"]
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": ROLE}
    assert account["automountServiceAccountToken"] is False
    assert _pod(_manifests(plain))["serviceAccountName"] == account["metadata"]["name"] == "risk-scorer"
    assert not [r for r in plain if r.type.startswith("aws:")]  # a given role: nothing created


def _aws(resources: list[RecordedResource]) -> dict[str, RecordedResource]:
    return {r.type: r for r in resources if r.type.startswith("aws:")}


def test_with_an_oidc_provider_it_creates_the_irsa_role_the_service_account_names(
    own_role: list[RecordedResource],
) -> None:
    created = _aws(own_role)
    assert set(created) == {"aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"}
    role = created["aws:iam/role:Role"]
    assert role.name == "risk-role" and created["aws:iam/rolePolicy:RolePolicy"].name == "risk-role-policy"
    assert role.inputs["name"] == "demo-dev-risk-k8s-serving"
    assert role.inputs["tags"] == {"project": "demo", "owner": "ml-team@example.com"}  # AWS tags, unsanitised
    annotations = _manifests(own_role)["ServiceAccount"]["metadata"]["annotations"]
    assert annotations == {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/demo-dev-risk-k8s-serving"}


def test_only_this_service_account_may_assume_the_created_role(own_role: list[RecordedResource]) -> None:
    trust = json.loads(_aws(own_role)["aws:iam/role:Role"].inputs["assumeRolePolicy"])
    assert trust["Statement"] == [
        {
            "Sid": "ServiceAccountAssumesThroughIrsa",
            "Effect": "Allow",
            "Principal": {"Federated": OIDC},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{ISSUER}:sub": "system:serviceaccount:risk-serving:risk-scorer",
                    f"{ISSUER}:aud": "sts.amazonaws.com",
                }
            },
        }
    ]


def _permissions(resources: list[RecordedResource]) -> list[dict[str, Any]]:
    return json.loads(_aws(resources)["aws:iam/rolePolicy:RolePolicy"].inputs["policy"])["Statement"]


def test_the_created_role_reads_the_model_prefix_and_decrypts_through_s3_only(
    own_role: list[RecordedResource],
) -> None:
    assert _permissions(own_role) == [
        {
            "Sid": "ReadModelArtifact",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::demo-dev-artifacts/models/risk/*",
        },
        {
            "Sid": "DecryptModelArtifactViaS3",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": KEY,
            "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
        },
    ]
    policy = _aws(own_role)["aws:iam/rolePolicy:RolePolicy"]
    assert policy.inputs["role"] == "demo-dev-risk-k8s-serving"


def test_without_a_prefix_only_the_artifact_itself_and_an_alias_names_the_key() -> None:
    alias = "arn:aws:kms:eu-west-1:123456789012:alias/demo-dev"
    statements = _permissions(_plan(**{**OWN_ROLE, "artifact_read_prefix": None, "kms_key_arn": alias}))
    read, decrypt = statements
    assert read["Resource"] == "arn:aws:s3:::demo-dev-artifacts/models/risk/v7/model.tar.gz"
    # IAM grants kms:Decrypt on keys, not aliases: the account's keys in the region, pinned to the alias.
    assert decrypt["Resource"] == "arn:aws:kms:eu-west-1:123456789012:key/*"
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"},
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/demo-dev"},
    }
    sse_s3 = _permissions(_plan(**{**OWN_ROLE, "kms_key_arn": None}))
    assert [s["Sid"] for s in sse_s3] == ["ReadModelArtifact"]


def test_kserves_storage_initializer_may_also_list_the_artifact_prefix() -> None:
    statements = {s["Sid"]: s for s in _permissions(_plan(**OWN_ROLE, runtime="kserve"))}
    assert statements["ListModelArtifact"] == {
        "Sid": "ListModelArtifact",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::demo-dev-artifacts",
        # HeadBucket carries no prefix; the listing is of the model's prefix only.
        "Condition": {"StringLikeIfExists": {"s3:prefix": "models/risk/*"}},
    }
    assert set(statements) == {"ReadModelArtifact", "ListModelArtifact", "DecryptModelArtifactViaS3"}


def test_pods_start_only_once_their_role_can_read_the_artifact(own_role: list[RecordedResource]) -> None:
    policy = _aws(own_role)["aws:iam/rolePolicy:RolePolicy"]
    for resources, workload in ((own_role, "Deployment"), (_plan(**OWN_ROLE, runtime="kserve"), "InferenceService")):
        (resource,) = [r for r in resources if r.inputs.get("kind") == workload]
        assert policy.urn in resource.dependencies, workload
    account = next(r for r in own_role if r.inputs.get("kind") == "ServiceAccount")
    assert _aws(own_role)["aws:iam/role:Role"].urn in account.dependencies  # annotated with its ARN


def test_autoscaler_bounds_and_disruption_budget(plain: list[RecordedResource]) -> None:
    manifests = _manifests(plain)
    hpa = manifests["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "risk-scorer"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 4)
    assert hpa["spec"]["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    assert manifests["Deployment"]["spec"]["replicas"] == 2
    deployment = next(r for r in plain if r.type == "kubernetes:apps/v1:Deployment")
    assert deployment.options["ignore_changes"] == ["spec.replicas"]  # the HPA owns it
    pdb = manifests["PodDisruptionBudget"]["spec"]
    assert pdb["minAvailable"] == 1 and pdb["selector"]["matchLabels"] == manifests["Service"]["spec"]["selector"]
    single = _manifests(_plan(replicas=1, min_replicas=1))["PodDisruptionBudget"]["spec"]
    assert single["maxUnavailable"] == 1 and "minAvailable" not in single  # never blocks a drain


def test_network_policy_opens_only_the_serving_port_and_dns_https_egress(plain: list[RecordedResource]) -> None:
    manifests = _manifests(plain)
    spec = manifests["NetworkPolicy"]["spec"]
    assert spec["podSelector"]["matchLabels"] == manifests["Service"]["spec"]["selector"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = spec["ingress"]
    assert ingress["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert ingress["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateway"}}}]
    egress_ports = [p for rule in spec["egress"] for p in rule["ports"]]
    assert egress_ports == [
        {"port": 53, "protocol": "UDP"},
        {"port": 53, "protocol": "TCP"},
        {"port": 443, "protocol": "TCP"},
    ]
    assert spec["egress"][1]["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.0.0/16"]}}]
    open_to_all = _manifests(_plan(allow_from_namespace_labels=None))["NetworkPolicy"]["spec"]["ingress"]
    assert open_to_all == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]


def _reachable(rule: dict[str, Any], address: str) -> bool:
    """Whether an egress rule's destinations include `address` (no `to` = every destination)."""
    if "to" not in rule:
        return True
    ip = ipaddress.ip_address(address)
    for peer in rule["to"]:
        block = peer.get("ipBlock")
        if block is None:
            continue  # a pod/namespace selector: in-cluster pods, never the link-local endpoints
        if ip in ipaddress.ip_network(block["cidr"]) and not any(
            ip in ipaddress.ip_network(e) for e in block.get("except", [])
        ):
            return True
    return False


@pytest.mark.parametrize(
    "overrides",
    [{}, OWN_ROLE, {**OWN_ROLE, "runtime": "kserve"}, {"egress_https_cidrs": ("0.0.0.0/0", "::/0")}],
)
def test_irsa_needs_no_port_80_and_the_metadata_endpoints_stay_unreachable(overrides: dict[str, Any]) -> None:
    """IRSA exchanges the web-identity token with STS over HTTPS (443): no rule opens port 80, and no
    rule reaches instance metadata or the Pod Identity agent on any port (their ranges are excepted)."""
    egress = _manifests(_plan(**overrides))["NetworkPolicy"]["spec"]["egress"]
    assert all(rule.get("ports") for rule in egress)  # a rule without ports would open every port
    assert {p["port"] for rule in egress for p in rule["ports"]} == {53, 443}
    for address in METADATA_ENDPOINTS:
        assert not any(_reachable(rule, address) for rule in egress), address
    assert _reachable(egress[1], "52.218.0.1")  # S3 and STS stay reachable over HTTPS


def test_ipv6_egress_excepts_aws_host_local_addresses() -> None:
    egress = _manifests(_plan(egress_https_cidrs=("10.0.0.0/8", "::/0")))["NetworkPolicy"]["spec"]["egress"]
    assert egress[1]["to"] == [
        {"ipBlock": {"cidr": "10.0.0.0/8"}},  # holds no host-local range: nothing to except
        {"ipBlock": {"cidr": "::/0", "except": ["fd00:ec2::/32"]}},
    ]
    assert HOST_LOCAL_NETWORKS == ("169.254.0.0/16", "fd00:ec2::/32")


def test_every_object_carries_sanitised_cost_and_app_labels(
    plain: list[RecordedResource], kserve: list[RecordedResource]
) -> None:
    manifests = list(_manifests(plain).values()) + list(_manifests(kserve).values())
    pods = [_manifests(plain)["Deployment"]["spec"]["template"]["metadata"]]
    for metadata in [m["metadata"] for m in manifests] + pods:
        labels = metadata["labels"]
        assert labels["owner"] == "ml-team_at_example.com" and labels["cost-centre"] == "CC-42"
        assert labels["app.kubernetes.io/managed-by"] == "mlstack"
        assert labels["app.kubernetes.io/name"] == "risk-scorer" and labels["app.kubernetes.io/instance"] == "risk"
        assert labels["app.kubernetes.io/version"] == labels["mlstack/model-version"] == "7"
        assert labels["mlstack/model-name"] == "Risk-Scorer"
        assert all(LABEL_VALUE.match(v) and len(v) <= 63 for v in labels.values()), labels
        assert all(valid_label_key(k) for k in labels)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("ml-team@example.com", "ml-team_at_example.com"),
        ("Data Science / Risk", "Data-Science---Risk"),
        ("-édge.", "dge"),
        ("x" * 70, "x" * 63),
        ("", ""),
    ],
)
def test_label_values_are_sanitised(raw: str, clean: str) -> None:
    assert label_value(raw) == clean and LABEL_VALUE.match(clean)


def test_children_are_parented_and_use_the_callers_provider() -> None:
    def program() -> None:
        cluster = k8s.Provider("cluster", kubeconfig="{}")
        serving = KubernetesServing("risk", _args(), pulumi.ResourceOptions(providers=[cluster]))
        pulumi.export("url", serving.url)

    resources, outputs = record(program)
    (component,) = [r for r in resources if r.type == COMPONENT]
    children = [r for r in resources if r.type.startswith("kubernetes:")]
    assert {r.name for r in children} == {
        f"risk-{role}"
        for role in ("namespace", "service-account", "deployment", "service", "hpa", "pdb", "network-policy")
    }
    assert all(r.parent == component.urn for r in children)
    assert all(
        r.provider.startswith("urn:pulumi:test::project::pulumi:providers:kubernetes::cluster::") for r in children
    )
    assert outputs["url"] == "http://risk-scorer.risk-serving.svc.cluster.local:80"


def test_the_created_role_is_a_child_on_the_aws_provider(own_role: list[RecordedResource]) -> None:
    (component,) = [r for r in own_role if r.type == COMPONENT]
    created = list(_aws(own_role).values())
    assert {r.name for r in created} == {"risk-role", "risk-role-policy"}
    assert all(r.parent == component.urn for r in created)
    assert all("pulumi:providers:kubernetes" not in (r.provider or "") for r in created)


def test_kserve_runtime_renders_an_inference_service_instead_of_a_deployment(kserve: list[RecordedResource]) -> None:
    manifests = _manifests(kserve)
    assert set(manifests) == {"Namespace", "ServiceAccount", "InferenceService", "NetworkPolicy"}
    isvc = manifests["InferenceService"]
    assert next(r for r in kserve if r.inputs["kind"] == "InferenceService").type == (
        "kubernetes:serving.kserve.io/v1beta1:InferenceService"
    )
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
    predictor = isvc["spec"]["predictor"]
    assert predictor["serviceAccountName"] == "risk-scorer"
    assert (predictor["minReplicas"], predictor["maxReplicas"], predictor["scaleTarget"]) == (2, 4, 70)
    (server,) = predictor["containers"]
    assert server["env"][:2] == [{"name": "STORAGE_URI", "value": URI}, {"name": "MODEL_DIR", "value": "/mnt/models"}]
    assert server["readinessProbe"]["httpGet"] == {"path": "/ping", "port": 8080}
    assert manifests["ServiceAccount"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == ROLE
    policy = manifests["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"]
    assert policy == {"serving.kserve.io/inferenceservice": "risk-scorer"}


def test_workloads_start_after_their_network_policy_and_service_account(
    plain: list[RecordedResource], kserve: list[RecordedResource]
) -> None:
    for resources, workload in ((plain, "Deployment"), (kserve, "InferenceService")):
        by_kind = {r.inputs["kind"]: r for r in resources if r.type.startswith("kubernetes:")}
        needs = set(by_kind[workload].dependencies)
        assert {by_kind[k].urn for k in ("Namespace", "ServiceAccount", "NetworkPolicy")} <= needs, workload
        (component,) = [r for r in resources if r.type == COMPONENT]
        assert all(r.parent == component.urn for r in by_kind.values())
    by_kind = {r.inputs["kind"]: r for r in plain if r.type.startswith("kubernetes:")}
    assert by_kind["Deployment"].urn in by_kind["HorizontalPodAutoscaler"].dependencies


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"model_data_uri": "https://bucket/model.tar.gz"}, "model_data_uri"),
        ({"model_data_uri": "s3://bucket/model.zip"}, "model_data_uri"),
        ({"app_name": "Risk_Scorer"}, "app_name"),
        ({"min_replicas": 3, "replicas": 2}, "min_replicas"),
        ({"max_replicas": 1}, "max_replicas"),
        ({"run_as_user": 0}, "non-root"),
        ({"labels": {"cost centre": "x"}}, "label keys"),
        ({"role_arn": None}, "needs AWS credentials"),
        ({"oidc_provider_arn": OIDC}, "exactly one of them"),
        ({**OWN_ROLE, "oidc_provider_arn": "arn:aws:iam::123456789012:role/x"}, "not an IAM OIDC provider ARN"),
        ({**OWN_ROLE, "oidc_provider_arn": f"arn:aws:iam::1234:oidc-provider/{ISSUER}"}, "not an IAM OIDC"),
        ({**OWN_ROLE, "region": None}, "needs region"),
        ({**OWN_ROLE, "artifact_read_prefix": "s3://demo-dev-artifacts/models/other"}, "artifact_read_prefix"),
        ({**OWN_ROLE, "role_name": "x" * 65}, "role_name"),
        ({"egress_https_cidrs": ("169.254.169.254/32",)}, "must never reach"),
        ({"egress_https_cidrs": ("10.0.0.1/8",)}, "host bits"),
    ],
)
def test_unsafe_or_invalid_args_are_rejected(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _args(**overrides)
