"""The KubernetesServing component under Pulumi mocks: every manifest it renders is validated
against the Kubernetes 1.31 OpenAPI schemas (kubernetes-validate, strict: unknown fields fail),
and the KServe InferenceService, which kubernetes-validate has no schema for, against a schema of
ours whose pod parts are the same strict Kubernetes definitions."""

from __future__ import annotations

import functools
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
from referencing import Registry, Resource

from mlstack.components.k8s_serving import KubernetesServing, KubernetesServingArgs, label_value, valid_label_key
from mlstack.plan.synth import RecordedResource, record

K8S_VERSION = "1.31"
ROLE = "arn:aws:iam::123456789012:role/risk-serving"
URI = "s3://demo-dev-artifacts/models/risk/v7/model.tar.gz"
COMPONENT = "mlstack:serving:KubernetesServing"
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
DEFS = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s."  # the $id of kubernetes-validate's definitions


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


def _plan(**overrides: Any) -> list[RecordedResource]:
    resources, _ = record(lambda: KubernetesServing("risk", _args(**overrides)))
    return resources


@pytest.fixture(scope="module")
def plain() -> list[RecordedResource]:
    return _plan()


@pytest.fixture(scope="module")
def kserve() -> list[RecordedResource]:
    return _plan(runtime="kserve")


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


@functools.cache
def _inference_service_validator() -> jsonschema.Draft202012Validator:
    """The fields we set, closed (no unknown keys); pod parts are the strict Kubernetes definitions."""
    definitions = kubernetes_validate.utils.schema_contents(
        f"kubernetes-json-schema/v{K8S_VERSION}.0-local-strict/_definitions.json", K8S_VERSION
    )
    closed = {"type": "object", "additionalProperties": False}
    predictor = {
        **closed,
        "required": ["serviceAccountName", "minReplicas", "maxReplicas", "containers"],
        "properties": {
            "serviceAccountName": {"type": "string", "minLength": 1},
            "automountServiceAccountToken": {"type": "boolean"},
            "minReplicas": {"type": "integer", "minimum": 0},
            "maxReplicas": {"type": "integer", "minimum": 1},
            "scaleMetric": {"enum": ["cpu", "memory", "concurrency", "rps"]},
            "scaleTarget": {"type": "integer", "minimum": 1},
            "securityContext": {"$ref": DEFS + "api.core.v1.PodSecurityContext"},
            "containers": {
                "type": "array",
                "minItems": 1,
                "maxItems": 1,
                "items": {
                    "$ref": DEFS + "api.core.v1.Container",
                    "properties": {"name": {"const": "kserve-container"}},
                    "required": ["env"],
                },
            },
            "volumes": {"type": "array", "items": {"$ref": DEFS + "api.core.v1.Volume"}},
        },
    }
    schema = {
        **closed,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "serving.kserve.io/v1beta1"},
            "kind": {"const": "InferenceService"},
            "metadata": {"$ref": DEFS + "apimachinery.pkg.apis.meta.v1.ObjectMeta"},
            "spec": {**closed, "required": ["predictor"], "properties": {"predictor": predictor}},
        },
    }
    registry: Registry = Resource.from_contents(definitions) @ Registry()
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _validate(manifest: dict[str, Any]) -> None:
    if manifest["kind"] == "InferenceService":
        _inference_service_validator().validate(manifest)
    else:
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


@pytest.mark.parametrize("overrides", [{}, {"role_arn": None, "min_replicas": 1}, {"runtime": "kserve"}])
def test_every_rendered_manifest_is_valid_for_kubernetes_1_31(overrides: dict[str, Any]) -> None:
    manifests = _manifests(_plan(**overrides))
    started = time.perf_counter()
    for manifest in manifests.values():
        _validate(manifest)
    assert time.perf_counter() - started < 2


def test_validation_is_strict() -> None:
    """Sanity: an unknown field fails both validators, so the passes above mean something."""
    typo = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": {"replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, K8S_VERSION, strict=True)
    isvc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "x"},
        "spec": {"predictor": {"serviceAccountName": "x", "minReplicas": 1, "maxReplicas": 2, "containers": []}},
    }
    for broken in ({"minReplica": 1}, {"containers": [{"name": "kserve-container", "env": [], "imag": "x"}]}):
        bad = {**isvc, "spec": {"predictor": {**isvc["spec"]["predictor"], **broken}}}
        with pytest.raises(jsonschema.ValidationError):
            _inference_service_validator().validate(bad)


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


def test_irsa_annotation_only_when_a_role_is_given(plain: list[RecordedResource]) -> None:
    account = _manifests(plain)["ServiceAccount"]
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": ROLE}
    assert account["automountServiceAccountToken"] is False
    assert _pod(_manifests(plain))["serviceAccountName"] == account["metadata"]["name"] == "risk-scorer"
    assert "annotations" not in _manifests(_plan(role_arn=None))["ServiceAccount"]["metadata"]


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
    open_to_all = _manifests(_plan(allow_from_namespace_labels=None))["NetworkPolicy"]["spec"]["ingress"]
    assert open_to_all == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]


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
    ],
)
def test_unsafe_or_invalid_args_are_rejected(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _args(**overrides)
