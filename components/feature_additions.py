"""In-place feature additions for SageMaker feature groups (a Pulumi dynamic resource).

pulumi-aws replaces a FeatureGroup whenever its feature definitions change, which
deletes the offline store and the online records. The FeatureStore component
therefore ignores changes to the definitions on the FeatureGroup itself and lets
this resource reconcile the live group with the desired features through boto3:
missing features are added with UpdateFeatureGroup(FeatureAdditions); a removed or
retyped feature is refused, because the API cannot do it and replacing would lose
data. The resource never deletes anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pulumi
import pulumi.dynamic

# UpdateFeatureGroup accepts at most 100 FeatureAdditions per call.
MAX_ADDITIONS_PER_CALL = 100


class FeatureSchemaError(Exception):
    """The desired features cannot be reached by additions alone."""


def _as_pairs(features: Sequence[Mapping[str, str]]) -> list[tuple[str, str]]:
    return [(str(f["name"]), str(f["type"])) for f in features]


def incompatibilities(existing: Mapping[str, str], desired: Sequence[tuple[str, str]]) -> list[str]:
    """Why `desired` cannot be reached from `existing` by additions (empty when it can)."""
    wanted = dict(desired)
    problems = []
    for name, type_ in existing.items():
        if name not in wanted:
            problems.append(
                f"feature '{name}' exists on the group but is no longer desired (features cannot be removed)"
            )
        elif wanted[name] != type_:
            problems.append(f"feature '{name}' is {type_} on the group, desired {wanted[name]} (types cannot change)")
    return problems


def missing(existing: Mapping[str, str], desired: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, type_) for name, type_ in desired if name not in existing]


def _wait_until_settled(client: Any, group: str, poll_seconds: float, timeout_seconds: float, sleep: Callable) -> dict:
    """Describe the group until no update is in progress (UpdateFeatureGroup is asynchronous)."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        description = client.describe_feature_group(FeatureGroupName=group)
        status = (description.get("LastUpdateStatus") or {}).get("Status")
        if status != "InProgress":
            if status == "Failed":
                reason = description["LastUpdateStatus"].get("FailureReason", "no reason given")
                raise FeatureSchemaError(f"the last update of feature group '{group}' failed: {reason}")
            return description
        if time.monotonic() >= deadline:
            raise FeatureSchemaError(f"feature group '{group}' still updating after {timeout_seconds:.0f} s")
        sleep(poll_seconds)


def reconcile(
    client: Any,
    group: str,
    desired: Sequence[tuple[str, str]],
    *,
    poll_seconds: float = 5.0,
    timeout_seconds: float = 900.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[tuple[str, str]]:
    """Add the desired features the live group lacks; return what was added."""
    description = _wait_until_settled(client, group, poll_seconds, timeout_seconds, sleep)
    existing = {d["FeatureName"]: d["FeatureType"] for d in description["FeatureDefinitions"]}
    problems = incompatibilities(existing, desired)
    if problems:
        raise FeatureSchemaError(f"feature group '{group}': " + "; ".join(problems))
    to_add = missing(existing, desired)
    for start in range(0, len(to_add), MAX_ADDITIONS_PER_CALL):
        batch = to_add[start : start + MAX_ADDITIONS_PER_CALL]
        client.update_feature_group(
            FeatureGroupName=group,
            FeatureAdditions=[{"FeatureName": name, "FeatureType": type_} for name, type_ in batch],
        )
        _wait_until_settled(client, group, poll_seconds, timeout_seconds, sleep)
    return to_add


def _client(region: str) -> Any:
    import boto3

    return boto3.client("sagemaker", region_name=region)


class FeatureAdditionsProvider(pulumi.dynamic.ResourceProvider):
    """Engine-side logic; plain Python, tested directly against moto and a Stubber."""

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        added = reconcile(_client(props["region"]), props["featureGroupName"], _as_pairs(props["features"]))
        return {**props, "lastAdded": [name for name, _ in added]}

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        return pulumi.dynamic.CreateResult(id_=props["featureGroupName"], outs=self._apply(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        problems = incompatibilities(dict(_as_pairs(olds.get("features", []))), _as_pairs(news["features"]))
        if problems and olds.get("featureGroupName") == news["featureGroupName"]:
            raise FeatureSchemaError(f"feature group '{news['featureGroupName']}': " + "; ".join(problems))
        keys = ("featureGroupName", "region", "features")
        changed = [k for k in keys if olds.get(k) != news.get(k)]
        replaces = [k for k in changed if k in ("featureGroupName", "region")]
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        return pulumi.dynamic.UpdateResult(outs=self._apply(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Features cannot be removed; the group itself belongs to its FeatureGroup resource."""


class FeatureAdditions(pulumi.dynamic.Resource):
    """Keeps a live feature group's features a superset of `features`, adding in place."""

    def __init__(
        self,
        name: str,
        *,
        feature_group_name: pulumi.Input[str],
        features: Sequence[tuple[str, str]],
        region: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "featureGroupName": feature_group_name,
            "features": [{"name": n, "type": t} for n, t in features],
            "region": region,
            "lastAdded": None,
        }
        super().__init__(FeatureAdditionsProvider(), name, props, opts)
