"""Does a change replace a resource? The provider's own rules, per resource type.

- pulumi-aws: terraform-provider-aws's ForceNew attributes (mlstack.plan.force_new).
- pulumi-aws-native: the CloudFormation schema's createOnlyProperties (below; a test
  keeps them equal to cfn-lint's copy of the schemas).
- pulumi-kubernetes: fields the Kubernetes API refuses to change (below).
- mlstack's dynamic FeatureAdditions provider: its own diff() (components/feature_additions.py).
Besides: a changed physical name, `replace_on_changes` and a changed provider replace.
A type none of these knows is "may replace" — never silently an update.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlstack.plan.force_new import FORCE_NEW, ForceNew

# Resources whose replacement or deletion loses data or history.
STATEFUL_TYPES = frozenset(
    {
        "aws:kms/key:Key",
        "aws:s3/bucket:Bucket",
        "aws:sagemaker/featureGroup:FeatureGroup",
        "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
        "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer",
    }
)

_CFN = "CloudFormation schema createOnlyProperties (cfn-lint 1.58.0, schema_date 2026-10-20)"
_MONITOR_CREATE_ONLY = ("AppSpecification", "BaselineConfig", "JobInput", "JobOutputConfig")
# aws-native: every property of the Clarify / model-quality job definitions is create-only, Tags included.
CREATE_ONLY: dict[str, ForceNew] = {
    f"aws-native:sagemaker:{kind}JobDefinition": ForceNew(
        _CFN,
        frozenset(
            {
                "jobDefinitionName",
                *(f"{kind[0].lower()}{kind[1:]}{part}" for part in _MONITOR_CREATE_ONLY),
                "jobResources",
                "networkConfig",
                "roleArn",
                "stoppingCondition",
                "tags",
                "endpointName",
            }
        ),
        everything=True,
    )
    for kind in ("ModelQuality", "ModelBias", "ModelExplainability")
}

_K8S = "Kubernetes API immutable fields (pulumi-kubernetes replaces on them)"
_K8S_IDENTITY = frozenset({"metadata.name", "metadata.namespace"})
KUBERNETES: dict[str, ForceNew] = {
    "kubernetes:apps/v1:Deployment": ForceNew(_K8S, _K8S_IDENTITY | {"spec.selector"}),
    "kubernetes:core/v1:Service": ForceNew(_K8S, _K8S_IDENTITY | {"spec.clusterIP", "spec.clusterIPs"}),
    "kubernetes:core/v1:Namespace": ForceNew(_K8S, frozenset({"metadata.name"})),
    "kubernetes:core/v1:ServiceAccount": ForceNew(_K8S, _K8S_IDENTITY),
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": ForceNew(_K8S, _K8S_IDENTITY),
    "kubernetes:policy/v1:PodDisruptionBudget": ForceNew(_K8S, _K8S_IDENTITY),
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": ForceNew(_K8S, _K8S_IDENTITY),
    "kubernetes:monitoring.coreos.com/v1:ServiceMonitor": ForceNew(_K8S, _K8S_IDENTITY),
    "kubernetes:monitoring.coreos.com/v1:PrometheusRule": ForceNew(_K8S, _K8S_IDENTITY),
    "kubernetes:serving.kserve.io/v1beta1:InferenceService": ForceNew(_K8S, _K8S_IDENTITY),
}

FEATURE_ADDITIONS = ForceNew(
    "components/feature_additions.py FeatureAdditionsProvider.diff", frozenset({"featureGroupName", "region"})
)
_TAGS = frozenset({"tags", "tagsAll"})


@dataclass(frozen=True)
class Verdict:
    replace: bool
    reasons: tuple[str, ...] = ()
    """The changed paths that force replacement."""
    may_replace: bool = False
    """No rule is known for this type: the provider may replace it."""
    rule: str = ""


def rule_for(type_: str, inputs: dict[str, object] | None = None) -> ForceNew | None:
    if type_ == "pulumi-python:dynamic:Resource":
        return FEATURE_ADDITIONS if inputs and "featureGroupName" in inputs else None
    return FORCE_NEW.get(type_) or CREATE_ONLY.get(type_) or KUBERNETES.get(type_)


def _covers(rule: str, path: str) -> bool:
    """A change at `path` (indices dropped) is at, below or above a forcing path."""
    plain = re.sub(r"\[\d+\]", "", path)
    return plain == rule or plain.startswith(f"{rule}.") or rule.startswith(f"{plain}.")


def classify(
    type_: str,
    changed: list[str],
    *,
    inputs: dict[str, object] | None = None,
    renamed: list[str] | None = None,
    replace_on_changes: list[str] | None = None,
    provider_changed: bool = False,
) -> Verdict:
    """Whether changes at `changed` (dotted input paths) replace a resource of `type_`."""
    if not changed and not provider_changed:
        return Verdict(False)
    forcing = [p for p in changed if any(_covers(r, p) for r in (renamed or []) + (replace_on_changes or []))]
    if type_.startswith("pulumi:providers:"):
        return Verdict(False, may_replace=bool(changed), rule="a provider's own settings")
    rule = rule_for(type_, inputs)
    if rule is None:
        if type_.startswith(("mlstack:", "pulumi:")) or not changed:
            return Verdict(bool(forcing), tuple(forcing))
        return Verdict(bool(forcing), tuple(forcing), may_replace=not forcing, rule="no replacement rules known")
    for path in changed:
        top = re.split(r"[.\[]", path, maxsplit=1)[0]
        everything = rule.everything and (top not in _TAGS or "tags" in rule.paths)
        if path not in forcing and (everything or any(_covers(r, path) for r in rule.paths)):
            forcing.append(path)
    if provider_changed:
        return Verdict(True, (*forcing, "provider"), rule=rule.source)
    return Verdict(bool(forcing), tuple(forcing), rule=rule.source)
