"""Serve a trained model on Kubernetes (pulumi-kubernetes 4.x): a hardened Deployment, or a KServe
InferenceService, in a namespace of its own.

The `deployment` runtime renders Namespace, ServiceAccount (IRSA), Deployment, Service (ClusterIP),
HorizontalPodAutoscaler (autoscaling/v2), PodDisruptionBudget and NetworkPolicy. The model artifact
(a SageMaker-style model.tar.gz in S3) is fetched by two init containers into an emptyDir that the
server mounts read-only: `amazon/aws-cli` downloads it (that image has no `tar`, see
aws/aws-cli#5106), then `busybox` unpacks it. The `kserve` runtime renders a
`serving.kserve.io/v1beta1` InferenceService (RawDeployment mode: no Knative needed) in place of
Deployment/Service/HPA/PDB; KServe's own storage initializer fetches and unpacks the artifact into
/mnt/models, and KServe owns the pods' lifecycle, so no PDB is rendered for it.

Kubernetes has no tags: the caller's `labels` (project, environment, owner, cost-centre...) go on
every object's metadata.labels, values sanitised by `label_value`.

The Kubernetes provider (cluster, kubeconfig) comes from the caller through `opts`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from ._policy import child

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")  # RFC 1035: Service names need a leading letter
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_MODEL_TARBALL = "/download/model.tar.gz"
_RESERVED_ENV = ("MODEL_DIR", "STORAGE_URI")  # set by the component
KSERVE_MODEL_DIR = "/mnt/models"  # where KServe's storage initializer unpacks storageUri


def label_value(value: str) -> str:
    """A valid Kubernetes label value (<= 63 of [A-Za-z0-9-_.], alphanumeric at both ends, or empty).

    Rule: "@" becomes "_at_" (an e-mail owner stays readable: ml-team@example.com ->
    ml-team_at_example.com), every other invalid character becomes "-", the result is cut to 63
    characters and stripped of leading/trailing "-", "_" and ".".
    """
    text = re.sub(r"[^A-Za-z0-9._-]", "-", value.replace("@", "_at_"))
    return text[:63].strip("-_.")


def valid_label_key(key: str) -> bool:
    """`[prefix/]name`: prefix a DNS subdomain, name 1-63 characters."""
    prefix, _, name = key.rpartition("/")
    return bool(_LABEL_NAME.match(name)) and (not prefix or bool(_LABEL_PREFIX.match(prefix)))


@dataclass(frozen=True, kw_only=True)
class KubernetesServingArgs:
    namespace: str
    """Namespace created for this model (DNS-1035 label), labelled with `pod_security`."""
    app_name: str
    """Name of the workload, Service and ServiceAccount (DNS-1035 label, <= 63 characters)."""
    model_name: str
    """Model label `mlstack/model-name` (sanitised)."""
    model_version: str
    """Model label `mlstack/model-version` and `app.kubernetes.io/version` (sanitised)."""
    image: str
    """Serving container image; pin it by digest. It must run as a non-root UID and serve HTTP."""
    model_data_uri: str
    """s3://bucket/key/model.tar.gz: the trained artifact."""
    runtime: Literal["deployment", "kserve"] = "deployment"
    """`deployment` (plain Kubernetes objects) or `kserve` (an InferenceService; KServe installed)."""
    container_port: int = 8080
    """Port the server listens on (8080 like SageMaker containers)."""
    service_port: int = 80
    """ClusterIP Service port (deployment runtime; KServe's predictor Service listens on 80)."""
    server_args: Sequence[str] = ()
    """Arguments of the server container (e.g. ("serve",) for SageMaker images); empty = image CMD."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Extra environment of the server container (MODEL_DIR is always set)."""
    model_mount_path: str = "/opt/ml/model"
    """Where the unpacked model is mounted read-only (deployment runtime); passed as MODEL_DIR."""
    model_volume_size: str = "4Gi"
    """sizeLimit of the model and download emptyDirs (the tarball is deleted once unpacked)."""
    health_path: str = "/ping"
    """HTTP path of the startup, readiness and liveness probes (/ping like SageMaker containers)."""
    probe_port: int | None = None
    """Port probed; None = container_port."""
    startup_seconds: int = 300
    """How long the server may take to load the model before liveness applies."""
    role_arn: pulumi.Input[str] | None = None
    """IAM role for IRSA (`eks.amazonaws.com/role-arn`); it must be able to read model_data_uri."""
    region: str | None = None
    """AWS region of the bucket, given to aws-cli (and to KServe's storage initializer)."""
    replicas: int = 2
    """Initial replica count; the HPA owns it afterwards (Pulumi ignores later drift)."""
    min_replicas: int = 2
    """HPA floor; >= 2 keeps a replica up during node drains."""
    max_replicas: int = 4
    """HPA ceiling."""
    target_cpu_utilization: int = 70
    """HPA target, percent of the CPU request."""
    cpu_request: str = "500m"
    """CPU request of the server (the HPA's utilisation is relative to it)."""
    memory_request: str = "1Gi"
    """Memory request of the server."""
    cpu_limit: str | None = None
    """None = no CPU limit (avoids CFS throttling of latency-sensitive serving); requests still bound."""
    memory_limit: str = "1Gi"
    """Memory limit; equal to the request by default, so the node never overcommits the server's memory."""
    run_as_user: int = 65532
    """Non-zero UID (and GID) for every container; the images must work with it."""
    allow_from_namespace_labels: Mapping[str, str] | None = None
    """Namespaces (by labels) allowed to reach the serving port; None = any in-cluster source, that port only."""
    egress_https_cidrs: Sequence[str] = ("0.0.0.0/0",)
    """Where pods may open HTTPS (443): S3 and STS for the model download and IRSA. S3 addresses are
    many and change (use a VPC gateway endpoint to keep it private), so the default is any address."""
    fetch_image: str = "amazon/aws-cli:2.32.8"
    """Init container that downloads the artifact (official aws-cli image, version pinned)."""
    unpack_image: str = "busybox:1.36.1"
    """Init container that unpacks it (aws-cli's image has no tar)."""
    kserve_deployment_mode: Literal["RawDeployment", "Serverless"] = "RawDeployment"
    """KServe mode; Serverless needs Knative, and its activator must then be allowed by the NetworkPolicy."""
    pod_security: Literal["restricted", "baseline"] = "restricted"
    """Pod Security Admission level enforced on the namespace; our pods meet `restricted`. KServe injects
    its storage initializer with its own securityContext: check it meets the level before using kserve."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Cost/ownership labels on every object (our app.kubernetes.io/* and mlstack/* keys win)."""

    def __post_init__(self) -> None:
        for what, value in (("namespace", self.namespace), ("app_name", self.app_name)):
            if not _DNS_LABEL.match(value):
                raise ValueError(f"{what} {value!r} is not a DNS label (a-z, 0-9, '-', <= 63, leading letter)")
        if not re.match(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S+\.tar\.gz$", self.model_data_uri):
            raise ValueError(f"model_data_uri {self.model_data_uri!r} is not an s3://bucket/key.tar.gz URI")
        if not 1 <= self.min_replicas <= self.replicas <= self.max_replicas:
            raise ValueError("need 1 <= min_replicas <= replicas <= max_replicas")
        if not 1 <= self.target_cpu_utilization <= 100:
            raise ValueError("target_cpu_utilization is a percentage (1-100)")
        if self.run_as_user <= 0:
            raise ValueError("run_as_user must be a non-root UID")
        bad = sorted(k for k in self.labels if not valid_label_key(k))
        if bad:
            raise ValueError(f"invalid label keys: {bad}")


class KubernetesServing(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    service_account_name: pulumi.Output[str]
    url: pulumi.Output[str]
    """Cluster-internal HTTP URL of the model server."""
    deployment: k8s.apps.v1.Deployment | None = None
    inference_service: k8s.apiextensions.CustomResource | None = None

    def __init__(self, name: str, args: KubernetesServingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlstack:serving:KubernetesServing", name, None, opts)
        self._args = args
        self._selector = {"app.kubernetes.io/name": args.app_name, "app.kubernetes.io/instance": label_value(name)}
        self._labels = {
            **{k: label_value(v) for k, v in args.labels.items()},
            **self._selector,
            "app.kubernetes.io/version": label_value(args.model_version),
            "app.kubernetes.io/managed-by": "mlstack",
            "mlstack/model-name": label_value(args.model_name),
            "mlstack/model-version": label_value(args.model_version),
        }
        admission = {f"pod-security.kubernetes.io/{m}": args.pod_security for m in ("enforce", "audit", "warn")}
        ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": args.namespace, "labels": {**self._labels, **admission}},
            opts=child(self),
        )
        self.namespace = ns.metadata.name
        sa = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata=self._meta(args.app_name, self._sa_annotations()),
            # IRSA's token comes from the EKS webhook's own projected volume: no API token needed.
            automount_service_account_token=False,
            opts=child(self),
        )
        self.service_account_name = sa.metadata.name
        kserve = args.runtime == "kserve"
        # KServe labels the pods it creates with their InferenceService.
        pods = {"serving.kserve.io/inferenceservice": args.app_name} if kserve else self._selector
        # Created first, and waited for: no pod ever runs without its policy.
        policy = [self._network_policy(name, pods)]
        if kserve:
            self.inference_service = self._inference_service(name, policy)
            host = pulumi.Output.concat(args.app_name, "-predictor.", self.namespace)
            self.url = pulumi.Output.concat("http://", host, ".svc.cluster.local")
        else:
            self.deployment = self._deployment(name, policy)
            service = self._service(name)
            self._autoscaling(name, self.deployment)
            host = pulumi.Output.concat(service.metadata.name, ".", self.namespace)
            self.url = pulumi.Output.concat("http://", host, f".svc.cluster.local:{args.service_port}")
        self.register_outputs(
            {"namespace": self.namespace, "service_account_name": self.service_account_name, "url": self.url}
        )

    def _meta(self, obj_name: str, annotations: Mapping[str, Any] | None = None) -> dict[str, Any]:
        # Referencing the Namespace output orders every object after it.
        meta: dict[str, Any] = {"name": obj_name, "namespace": self.namespace, "labels": self._labels}
        if annotations:
            meta["annotations"] = dict(annotations)
        return meta

    def _sa_annotations(self) -> dict[str, Any]:
        args = self._args
        annotations: dict[str, Any] = {}
        if args.role_arn is not None:
            annotations["eks.amazonaws.com/role-arn"] = args.role_arn
        if args.runtime == "kserve" and args.region:
            # KServe's storage initializer reads its S3 settings from the service account.
            annotations["serving.kserve.io/s3-region"] = args.region
            annotations["serving.kserve.io/s3-usehttps"] = "1"
        return annotations

    def _pod_security(self) -> dict[str, Any]:
        uid = self._args.run_as_user
        return {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "seccompProfile": {"type": "RuntimeDefault"}}

    def _container_security(self) -> dict[str, Any]:
        return {
            **self._pod_security(),
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
        }

    def _server(self, model_dir: str, mounts: list[dict[str, Any]]) -> dict[str, Any]:
        args = self._args
        probe = {"httpGet": {"path": args.health_path, "port": args.probe_port or args.container_port}}
        resources: dict[str, Any] = {
            "requests": {"cpu": args.cpu_request, "memory": args.memory_request},
            "limits": {"memory": args.memory_limit} | ({"cpu": args.cpu_limit} if args.cpu_limit else {}),
        }
        server: dict[str, Any] = {
            "name": "kserve-container" if args.runtime == "kserve" else "server",  # KServe expects this name
            "image": args.image,
            "ports": [{"name": "http", "containerPort": args.container_port, "protocol": "TCP"}],
            "env": [{"name": "MODEL_DIR", "value": model_dir}]
            + [{"name": k, "value": v} for k, v in sorted(args.env.items()) if k not in _RESERVED_ENV],
            "resources": resources,
            # Startup gives model loading its time; liveness only restarts a server that hangs afterwards.
            "startupProbe": {**probe, "periodSeconds": 5, "failureThreshold": max(1, args.startup_seconds // 5)},
            "readinessProbe": {**probe, "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3},
            "livenessProbe": {**probe, "periodSeconds": 20, "timeoutSeconds": 5, "failureThreshold": 3},
            "securityContext": self._container_security(),
            # The root filesystem is read-only: servers get a writable /tmp only.
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, *mounts],
        }
        if args.server_args:
            server["args"] = list(args.server_args)
        return server

    def _init_containers(self) -> list[dict[str, Any]]:
        args = self._args
        small = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}
        # HOME on the writable emptyDir: aws-cli caches credentials under ~/.aws.
        env = [{"name": "HOME", "value": "/tmp"}]
        if args.region:
            env += [{"name": "AWS_REGION", "value": args.region}, {"name": "AWS_DEFAULT_REGION", "value": args.region}]
        fetch = {
            "name": "fetch-model",
            "image": args.fetch_image,
            # exec form, no shell: the URI is one argv entry and cannot inject commands.
            "command": ["aws", "s3", "cp", "--only-show-errors", args.model_data_uri, _MODEL_TARBALL],
            "env": env,
            "resources": small,
            "securityContext": self._container_security(),
            "volumeMounts": [{"name": "download", "mountPath": "/download"}, {"name": "tmp", "mountPath": "/tmp"}],
        }
        unpack = {
            "name": "unpack-model",
            "image": args.unpack_image,
            # Fixed paths only; deleting the tarball frees the volume for the server's lifetime.
            "command": ["/bin/sh", "-c", f"tar -xzf {_MODEL_TARBALL} -C /model && rm -f {_MODEL_TARBALL}"],
            "resources": small,
            "securityContext": self._container_security(),
            "volumeMounts": [{"name": "download", "mountPath": "/download"}, {"name": "model", "mountPath": "/model"}],
        }
        return [fetch, unpack]

    def _deployment(self, name: str, after: list[pulumi.Resource]) -> k8s.apps.v1.Deployment:
        args = self._args
        size = args.model_volume_size
        pod_spec = {
            "serviceAccountName": self.service_account_name,  # an output: created after the account
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": self._pod_security(),
            "initContainers": self._init_containers(),
            "containers": [
                self._server(
                    args.model_mount_path, [{"name": "model", "mountPath": args.model_mount_path, "readOnly": True}]
                )
            ],
            "volumes": [
                {"name": "model", "emptyDir": {"sizeLimit": size}},
                {"name": "download", "emptyDir": {"sizeLimit": size}},
                {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
            ],
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": self._selector},
                }
            ],
        }
        return k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=self._meta(args.app_name),
            spec={
                "replicas": args.replicas,
                "revisionHistoryLimit": 5,
                "selector": {"matchLabels": self._selector},  # immutable: no version in it
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {"metadata": {"labels": self._labels}, "spec": pod_spec},
            },
            # The HPA owns the replica count once created; Pulumi must not reset it.
            opts=child(self, ignore_changes=["spec.replicas"], depends_on=after),
        )

    def _service(self, name: str) -> k8s.core.v1.Service:
        args = self._args
        return k8s.core.v1.Service(
            f"{name}-service",
            metadata=self._meta(args.app_name),
            spec={
                "type": "ClusterIP",
                "selector": self._selector,
                "ports": [{"name": "http", "port": args.service_port, "targetPort": "http", "protocol": "TCP"}],
            },
            opts=child(self),
        )

    def _autoscaling(self, name: str, deployment: k8s.apps.v1.Deployment) -> None:
        args = self._args
        cpu = {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": args.target_cpu_utilization}}
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=self._meta(args.app_name),
            spec={
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment.metadata.name},
                "minReplicas": args.min_replicas,
                "maxReplicas": args.max_replicas,
                "metrics": [{"type": "Resource", "resource": cpu}],
            },
            opts=child(self),
        )
        # One replica may go at a time; with a single replica minAvailable 1 would block drains forever.
        budget = {"minAvailable": 1} if args.min_replicas >= 2 else {"maxUnavailable": 1}
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=self._meta(args.app_name),
            spec={
                **budget,
                "selector": {"matchLabels": self._selector},
                # Crash-looping pods must not block node drains.
                "unhealthyPodEvictionPolicy": "AlwaysAllow",
            },
            opts=child(self),
        )

    def _inference_service(self, name: str, after: list[pulumi.Resource]) -> k8s.apiextensions.CustomResource:
        args = self._args
        server = self._server(KSERVE_MODEL_DIR, [])
        # Custom containers get the artifact from STORAGE_URI: KServe's storage initializer (an init
        # container KServe injects, with its own securityContext) downloads and unpacks it.
        server["env"].insert(0, {"name": "STORAGE_URI", "value": args.model_data_uri})
        annotations = {"serving.kserve.io/deploymentMode": args.kserve_deployment_mode}
        if args.kserve_deployment_mode == "RawDeployment":
            annotations["serving.kserve.io/autoscalerClass"] = "hpa"  # Serverless scales with Knative's KPA
        predictor = {
            "serviceAccountName": self.service_account_name,
            "automountServiceAccountToken": False,
            "minReplicas": args.min_replicas,
            "maxReplicas": args.max_replicas,
            "scaleMetric": "cpu",
            "scaleTarget": args.target_cpu_utilization,
            "securityContext": self._pod_security(),
            "containers": [server],
            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
        }
        return k8s.apiextensions.CustomResource(
            f"{name}-inference-service",
            api_version="serving.kserve.io/v1beta1",
            kind="InferenceService",
            metadata=self._meta(args.app_name, annotations),
            spec={"predictor": predictor},
            opts=child(self, depends_on=after),
        )

    def _network_policy(self, name: str, pods: Mapping[str, str]) -> k8s.networking.v1.NetworkPolicy:
        args = self._args
        ingress: dict[str, Any] = {"ports": [{"port": args.container_port, "protocol": "TCP"}]}
        if args.allow_from_namespace_labels is not None:
            ingress["from"] = [{"namespaceSelector": {"matchLabels": dict(args.allow_from_namespace_labels)}}]
        dns = {
            "to": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                }
            ],
            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
        }
        # Pod-wide (policies cannot target one container): the init containers need S3 and STS.
        https = {
            "to": [{"ipBlock": {"cidr": cidr}} for cidr in args.egress_https_cidrs],
            "ports": [{"port": 443, "protocol": "TCP"}],
        }
        return k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata=self._meta(args.app_name),
            spec={
                "podSelector": {"matchLabels": dict(pods)},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [ingress],
                "egress": [dns, https],
            },
            opts=child(self),
        )
