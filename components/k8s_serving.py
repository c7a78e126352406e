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

Credentials (IRSA only). The artifact download — our `fetch-model` init container, or KServe's
storage initializer — gets AWS credentials through IAM Roles for Service Accounts: EKS's webhook
sees the service account's `eks.amazonaws.com/role-arn` annotation and gives the pod a projected
web-identity token, which the AWS SDKs exchange with STS (HTTPS, 443) for the role's credentials.
Either the caller names an existing role (`role_arn`), or gives the cluster's IAM OIDC provider
(`oidc_provider_arn`) and the component creates the role as a child (`{name}-role`, its permissions
`{name}-role-policy`): trusted, with `sts:AssumeRoleWithWebIdentity` and `aud` sts.amazonaws.com, by
exactly `system:serviceaccount:<namespace>:<app_name>`; allowed s3:GetObject on the artifact (or
`artifact_read_prefix`) and kms:Decrypt of `kms_key_arn` through S3 in `region` only (the kserve
runtime adds s3:ListBucket: the storage initializer checks the bucket and lists the artifact's prefix).

The NetworkPolicy allows egress to kube-dns (53) and HTTPS (443) only. IRSA needs nothing more (STS
is HTTPS), so no port-80 rule exists: the EC2 instance metadata service (169.254.169.254,
fd00:ec2::254) stays unreachable — pods never borrow the node's role — and so does the EKS Pod
Identity agent (169.254.170.23, fd00:ec2::23), which this component does not use. The HTTPS rule
also carves the link-local and AWS host-local ranges (169.254.0.0/16, fd00:ec2::/32) out of every
CIDR that contains them, so the endpoints stay closed even if that rule's ports ever change.

Kubernetes has no tags: the caller's `labels` (project, environment, owner, cost-centre...) go on
every object's metadata.labels, values sanitised by `label_value`. The created IAM role carries
`tags`.

The Kubernetes provider (cluster, kubeconfig) comes from the caller through `opts`; the IAM role
uses the AWS provider the component inherits (the default one unless `opts` names another).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ._policy import child, document

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")  # RFC 1035: Service names need a leading letter
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_MODEL_TARBALL = "/download/model.tar.gz"
_RESERVED_ENV = ("MODEL_DIR", "STORAGE_URI")  # set by the component
KSERVE_MODEL_DIR = "/mnt/models"  # where KServe's storage initializer unpacks storageUri
# arn:aws:iam::<account>:oidc-provider/<issuer host and path, without https://>
OIDC_PROVIDER_ARN = re.compile(
    r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):oidc-provider/"
    r"(?P<issuer>[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(/[-A-Za-z0-9._~]+)*)$"
)
_KMS_ALIAS_ARN = re.compile(r"^(?P<scope>arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}):(?P<alias>alias/[A-Za-z0-9/_-]+)$")
_S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>\S+)$")
# Link-local (EC2 instance metadata 169.254.169.254, EKS Pod Identity agent 169.254.170.23) and AWS's
# IPv6 host-local range (fd00:ec2::254 metadata, fd00:ec2::23 Pod Identity): never reachable from pods.
HOST_LOCAL_NETWORKS = ("169.254.0.0/16", "fd00:ec2::/32")


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
    """An existing IAM role for IRSA (`eks.amazonaws.com/role-arn`): it must trust the cluster's OIDC
    provider for this service account and be able to read model_data_uri. Give it or oidc_provider_arn."""
    oidc_provider_arn: pulumi.Input[str] | None = None
    """The cluster's IAM OIDC provider (arn:aws:iam::<account>:oidc-provider/<issuer host/path>), in the
    account the role is created in: instead of role_arn, the component creates the IRSA role (see the
    module docstring). Needs `region`."""
    role_name: str | None = None
    """Physical name of the created role (<= 64 characters); None = a Pulumi auto-name."""
    artifact_read_prefix: str | None = None
    """s3://bucket/prefix under which the created role may s3:GetObject (e.g. every version of the model,
    so a new version needs no IAM change); None = model_data_uri only. model_data_uri must lie under it."""
    kms_key_arn: pulumi.Input[str] | None = None
    """Key the artifact is encrypted with (SSE-KMS): the created role may kms:Decrypt with it through S3
    (kms:ViaService s3.<region>.amazonaws.com) and no other way. An alias ARN
    (arn:aws:kms:<region>:<account>:alias/<name>) names the key by its alias: the grant then covers the
    account's keys in that region that carry the alias (kms:ResourceAliases). None = no KMS grant (SSE-S3)."""
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
    many and change (use a VPC gateway endpoint to keep it private), so the default is any address.
    HOST_LOCAL_NETWORKS are always excepted; a CIDR inside them is refused."""
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
    tags: Mapping[str, str] = field(default_factory=dict)
    """AWS tags of the created IAM role."""

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
        self._check_credentials()
        for cidr in self.egress_https_cidrs:
            _https_block(cidr)  # raises on a bad CIDR or one inside the host-local ranges

    def _check_credentials(self) -> None:
        if (self.role_arn is None) == (self.oidc_provider_arn is None):
            raise ValueError(
                "the model download needs AWS credentials: give role_arn (an existing IRSA role) "
                "or oidc_provider_arn (the component creates the role), exactly one of them"
            )
        if self.oidc_provider_arn is None:
            return
        if isinstance(self.oidc_provider_arn, str):
            _issuer(self.oidc_provider_arn)
        if not self.region:
            raise ValueError("oidc_provider_arn needs region (the role decrypts through S3 in that region)")
        if self.role_name is not None and not re.fullmatch(r"[A-Za-z0-9+=,.@_-]{1,64}", self.role_name):
            raise ValueError(f"role_name {self.role_name!r} is not an IAM role name (1-64 of [A-Za-z0-9+=,.@_-])")
        if self.artifact_read_prefix is not None:
            prefix = self.artifact_read_prefix.rstrip("/")
            if not _S3_URI.match(prefix) or not self.model_data_uri.startswith(prefix + "/"):
                raise ValueError(
                    f"artifact_read_prefix {self.artifact_read_prefix!r} is not an s3:// prefix holding "
                    f"model_data_uri {self.model_data_uri!r}"
                )


def _issuer(oidc_provider_arn: str) -> str:
    """The OIDC issuer (host/path) an IAM OIDC provider ARN names: the prefix of its condition keys."""
    match = OIDC_PROVIDER_ARN.match(oidc_provider_arn)
    if not match:
        raise ValueError(
            f"oidc_provider_arn {oidc_provider_arn!r} is not an IAM OIDC provider ARN "
            "(arn:aws:iam::<12 digits>:oidc-provider/<issuer host/path>)"
        )
    return match["issuer"]


def _https_block(cidr: str) -> dict[str, Any]:
    """A NetworkPolicy ipBlock for `cidr` with the host-local ranges it contains excepted."""
    network = ipaddress.ip_network(cidr, strict=True)
    excepted = []
    for local in map(ipaddress.ip_network, HOST_LOCAL_NETWORKS):
        if local.version != network.version or not network.overlaps(local):
            continue
        if network.subnet_of(local):  # type: ignore[arg-type]
            raise ValueError(f"egress_https_cidrs: {cidr} lies in {local}, which pods must never reach")
        excepted.append(str(local))
    return {"cidr": str(network), "except": excepted} if excepted else {"cidr": str(network)}


class KubernetesServing(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    service_account_name: pulumi.Output[str]
    url: pulumi.Output[str]
    """Cluster-internal HTTP URL of the model server."""
    role_arn: pulumi.Output[str]
    """The IRSA role the pods assume (given, or created)."""
    role: aws.iam.Role | None = None
    """The created role (with oidc_provider_arn), else None."""
    deployment: k8s.apps.v1.Deployment | None = None
    inference_service: k8s.apiextensions.CustomResource | None = None

    def __init__(self, name: str, args: KubernetesServingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlstack:serving:KubernetesServing", name, None, opts)
        self._args = args
        # Pods must not start before their role can read the artifact.
        credentials: list[pulumi.Resource] = []
        if args.oidc_provider_arn is not None:
            self.role, permissions = self._irsa_role(name)
            self.role_arn = self.role.arn
            credentials.append(permissions)
        else:
            self.role_arn = pulumi.Output.from_input(args.role_arn)  # type: ignore[arg-type]
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
        # Created first, and waited for: no pod ever runs without its policy (nor its credentials).
        policy = [self._network_policy(name, pods), *credentials]
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
            {
                "namespace": self.namespace,
                "service_account_name": self.service_account_name,
                "role_arn": self.role_arn,
                "url": self.url,
            }
        )

    def _irsa_role(self, name: str) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """The role EKS's IRSA gives this service account only, able to read the artifact only."""
        args = self._args
        subject = f"system:serviceaccount:{args.namespace}:{args.app_name}"

        def trust(provider_arn: str) -> str:
            issuer = _issuer(provider_arn)
            statement = {
                "Sid": "ServiceAccountAssumesThroughIrsa",
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {f"{issuer}:sub": subject, f"{issuer}:aud": "sts.amazonaws.com"}},
            }
            return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

        role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            description=f"Lets {subject} read its model artifact (IRSA; mlstack)",
            assume_role_policy=pulumi.Output.from_input(args.oidc_provider_arn).apply(trust),  # type: ignore[arg-type]
            max_session_duration=3600,
            tags=dict(args.tags),
            opts=child(self),
        )
        permissions = aws.iam.RolePolicy(
            f"{name}-role-policy",
            role=role.name,
            policy=document(*self._read_statements()),
            opts=child(self),
        )
        return role, permissions

    def _read_statements(self) -> list[dict[str, Any]]:
        args = self._args
        assert args.region is not None  # checked by the args
        uri = _S3_URI.match(args.model_data_uri)
        assert uri is not None  # checked by the args
        bucket_arn = f"arn:aws:s3:::{uri['bucket']}"
        if args.artifact_read_prefix is None:
            objects, listing = f"{bucket_arn}/{uri['key']}", uri["key"]
        else:
            prefix = args.artifact_read_prefix.rstrip("/").removeprefix(f"s3://{uri['bucket']}/")
            objects, listing = f"{bucket_arn}/{prefix}/*", f"{prefix}/*"
        statements: list[dict[str, Any]] = [
            {"Sid": "ReadModelArtifact", "Effect": "Allow", "Action": "s3:GetObject", "Resource": objects}
        ]
        if args.runtime == "kserve":
            # KServe's storage initializer calls HeadBucket (s3:ListBucket, no prefix) and then lists the
            # artifact's key as a prefix; aws-cli's `s3 cp` of one object needs neither.
            statements.append(
                {
                    "Sid": "ListModelArtifact",
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": bucket_arn,
                    "Condition": {"StringLikeIfExists": {"s3:prefix": listing}},
                }
            )
        if args.kms_key_arn is not None:
            via_s3 = {"kms:ViaService": f"s3.{args.region}.amazonaws.com"}
            alias = _KMS_ALIAS_ARN.match(args.kms_key_arn) if isinstance(args.kms_key_arn, str) else None
            decrypt: dict[str, Any] = {"Sid": "DecryptModelArtifactViaS3", "Effect": "Allow", "Action": "kms:Decrypt"}
            if alias:
                # Key policies delegate to IAM; an alias ARN as Resource would grant the alias, not the key.
                decrypt["Resource"] = f"{alias['scope']}:key/*"
                decrypt["Condition"] = {
                    "StringEquals": via_s3,
                    "ForAnyValue:StringEquals": {"kms:ResourceAliases": alias["alias"]},
                }
            else:
                decrypt["Resource"] = args.kms_key_arn
                decrypt["Condition"] = {"StringEquals": via_s3}
            statements.append(decrypt)
        return statements

    def _meta(self, obj_name: str, annotations: Mapping[str, Any] | None = None) -> dict[str, Any]:
        # Referencing the Namespace output orders every object after it.
        meta: dict[str, Any] = {"name": obj_name, "namespace": self.namespace, "labels": self._labels}
        if annotations:
            meta["annotations"] = dict(annotations)
        return meta

    def _sa_annotations(self) -> dict[str, Any]:
        args = self._args
        annotations: dict[str, Any] = {}
        # What EKS's IRSA webhook (amazon-eks-pod-identity-webhook) reads to give the pods a web-identity token.
        annotations["eks.amazonaws.com/role-arn"] = self.role_arn
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
        # Pod-wide (policies cannot target one container): the download needs S3 and, for IRSA, STS —
        # both HTTPS. No port 80: instance metadata and the Pod Identity agent stay out of reach.
        https = {
            "to": [{"ipBlock": _https_block(cidr)} for cidr in args.egress_https_cidrs],
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
