"""Compare two offline plans as the engine would: by URN (aliases honoured), per resource an op.

create / update / replace / delete / same, with the changed input paths, why a change
replaces (mlstack.plan.replacement), which deletions and replacements lose state, how
endpoints roll over, which model versions each side deploys, feature-schema changes
and the governance delta. Works on the JSON of `mlstack plan --json [--check]`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mlstack.plan.physical_names import PHYSICAL_NAME_KEYS
from mlstack.plan.replacement import STATEFUL_TYPES, Verdict, classify

OPS = ("create", "update", "replace", "delete", "same")
SYMBOL = {"create": "+", "update": "~", "replace": "±", "delete": "-", "same": " "}
# A changed physical name always replaces (aws-native job definitions name themselves too).
NAME_KEYS = (*PHYSICAL_NAME_KEYS, "jobDefinitionName")
_SECRET = re.compile(r"^\[secret(:[0-9a-f]+)?\]$")


@dataclass(frozen=True)
class Change:
    path: str
    old: Any
    new: Any
    kind: str  # pulumi's detailedDiff kinds: add, delete, update (+ "-replace" when it forces replacement)


@dataclass(frozen=True)
class Step:
    op: str
    urn: str
    type: str
    name: str
    parent: str
    changes: tuple[Change, ...] = ()
    verdict: Verdict | None = None
    old_urn: str | None = None
    """The base URN when the resource was matched through an alias."""
    stateful: bool = False
    protected: bool = False
    dependencies: tuple[str, ...] = ()

    @property
    def loses_state(self) -> bool:
        return self.stateful and self.op in ("replace", "delete")

    @property
    def replace_reasons(self) -> list[str]:
        return list(self.verdict.reasons) if self.verdict and self.op == "replace" else []

    def as_preview_step(self) -> dict[str, Any]:
        """Shaped like a step of `pulumi preview --json`."""
        body: dict[str, Any] = {"op": self.op, "urn": self.urn, "type": self.type}
        if self.old_urn:
            body["oldUrn"] = self.old_urn
        if self.changes:
            body["diffReasons"] = sorted({_top(c.path) for c in self.changes})
            body["detailedDiff"] = {c.path: {"kind": c.kind} for c in self.changes}
        if self.op == "replace":
            body["replaceReasons"] = self.replace_reasons
        if self.verdict and self.verdict.may_replace:
            body["mayReplace"] = True
        if self.loses_state:
            body["losesState"] = True
        return body


@dataclass(frozen=True)
class Rollover:
    endpoint: str
    old_config: str
    new_config: str
    strategy: str
    detail: str

    def sentence(self) -> str:
        return f"endpoint {self.endpoint} rolls over to configuration {self.new_config} ({self.detail})"


@dataclass(frozen=True)
class Diff:
    project: str
    stack: str
    steps: tuple[Step, ...]
    base: dict[str, Any] = field(repr=False)
    head: dict[str, Any] = field(repr=False)

    def of(self, op: str) -> list[Step]:
        return [s for s in self.steps if s.op == op]

    @property
    def counts(self) -> Counter[str]:
        return Counter(s.op for s in self.steps)

    @property
    def headline(self) -> str:
        counts = self.counts
        return " ".join(f"{SYMBOL[op]}{counts.get(op, 0)}" for op in ("create", "update", "replace", "delete"))

    @property
    def changed(self) -> bool:
        return any(s.op != "same" for s in self.steps)

    @property
    def stateful_losses(self) -> list[Step]:
        return [s for s in self.steps if s.loses_state]

    @property
    def protects_stateful(self) -> bool:
        environment = self.head.get("environment") or self.base.get("environment") or {}
        return bool(environment.get("protect_stateful"))

    def refused(self, allow_stateful_changes: bool = False) -> bool:
        return bool(self.stateful_losses) and self.protects_stateful and not allow_stateful_changes

    def rollovers(self) -> list[Rollover]:
        found = []
        for step in self.of("update"):
            if step.type != "aws:sagemaker/endpoint:Endpoint":
                continue
            change = next((c for c in step.changes if c.path == "endpointConfigName"), None)
            if change is None:
                continue
            inputs = _resource(self.head, step.urn)["inputs"]
            strategy, detail = _rollout(inputs)
            found.append(
                Rollover(str(inputs.get("name", step.name)), str(change.old), str(change.new), strategy, detail)
            )
        return found

    def model_versions(self) -> dict[str, tuple[Any, Any]]:
        """Model -> (base version, head version), for models whose chosen version differs or exists on one side."""
        old = (self.base.get("outputs") or {}).get("model_versions") or {}
        new = (self.head.get("outputs") or {}).get("model_versions") or {}
        return {m: (old.get(m), new.get(m)) for m in sorted(set(old) | set(new))}

    def feature_additions(self) -> dict[str, list[list[str]]]:
        return (self.head.get("feature_schema_changes") or {}).get("added") or {}

    def governance(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
        """(violations new in head, violations fixed) — None when a side has no governance result."""
        old, new = self.base.get("governance"), self.head.get("governance")
        if old is None or new is None:
            return None

        def key(v: dict[str, Any]) -> tuple[str, str, str]:
            return (v["policy"], v["urn"], v["message"])

        before = {key(v): v for v in old["violations"]}
        after = {key(v): v for v in new["violations"]}
        return [after[k] for k in sorted(set(after) - set(before))], [
            before[k] for k in sorted(set(before) - set(after))
        ]

    def preview_json(self) -> dict[str, Any]:
        return {"steps": [s.as_preview_step() for s in self.steps]}


def _top(path: str) -> str:
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def _resource(plan: dict[str, Any], urn: str) -> dict[str, Any]:
    return next(r for r in plan["resources"] if r["urn"] == urn)


def _rollout(inputs: dict[str, Any]) -> tuple[str, str]:
    config = inputs.get("deploymentConfig") or {}
    policy = config.get("blueGreenUpdatePolicy") or {}
    routing = policy.get("trafficRoutingConfiguration") or {}
    strategy = str(routing.get("type") or "ALL_AT_ONCE")
    parts = [strategy]
    size = routing.get("canarySize") or routing.get("linearStepSize")
    if size:
        unit = " %" if size.get("type") == "CAPACITY_PERCENT" else " instances"
        parts[0] = f"{strategy} {size.get('value')}{unit}"
    if routing.get("waitIntervalInSeconds") is not None:
        parts.append(f"bake {routing['waitIntervalInSeconds']} s")
    alarms = (config.get("autoRollbackConfiguration") or {}).get("alarms") or []
    parts.append(f"rollback on {len(alarms)} alarms" if alarms else "no automatic rollback")
    return strategy, ", ".join(parts)


def leaf_changes(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any, str]]:
    """(path, old, new, kind) for every differing leaf; lists compare by index."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[tuple[str, Any, Any, str]] = []
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                out.append((sub, None, new[key], "add"))
            elif key not in new:
                out.append((sub, old[key], None, "delete"))
            else:
                out.extend(leaf_changes(old[key], new[key], sub))
        return out
    if isinstance(old, list) and isinstance(new, list):
        out = []
        for index in range(max(len(old), len(new))):
            sub = f"{path}[{index}]"
            if index >= len(old):
                out.append((sub, None, new[index], "add"))
            elif index >= len(new):
                out.append((sub, old[index], None, "delete"))
            else:
                out.extend(leaf_changes(old[index], new[index], sub))
        return out
    return [] if old == new else [(path, old, new, "update")]


def _ignored(path: str, ignore_changes: list[str]) -> bool:
    plain = re.sub(r"\[\d+\]", "", path)
    return any(plain == p or plain.startswith(f"{p}.") or path.startswith(f"{p}[") for p in ignore_changes)


def is_secret(value: Any) -> bool:
    return isinstance(value, str) and bool(_SECRET.match(value))


def compare_resource(old: dict[str, Any], new: dict[str, Any]) -> Step:
    """One resource present on both sides."""
    ignore = list(new["options"].get("ignore_changes") or [])
    raw = [c for c in leaf_changes(old["inputs"], new["inputs"]) if not _ignored(c[0], ignore)]
    changed_paths = [path for path, *_ in raw]
    physical = [k for k in NAME_KEYS if k in changed_paths]
    verdict = classify(
        new["type"],
        changed_paths,
        inputs=new["inputs"],
        renamed=physical,
        replace_on_changes=list(new["options"].get("replace_on_changes") or []),
        provider_changed=old.get("provider") != new.get("provider"),
    )
    forcing = set(verdict.reasons)
    changes = tuple(Change(path, o, n, f"{kind}-replace" if path in forcing else kind) for path, o, n, kind in raw)
    op = "same" if not changes and not verdict.replace else ("replace" if verdict.replace else "update")
    return Step(
        op=op,
        urn=new["urn"],
        type=new["type"],
        name=new["name"],
        parent=new["parent"],
        changes=changes,
        verdict=verdict,
        old_urn=old["urn"] if old["urn"] != new["urn"] else None,
        stateful=new["type"] in STATEFUL_TYPES,
        protected=bool(new["options"].get("protect")),
        dependencies=tuple(new.get("dependencies") or ()),
    )


def compare(base: dict[str, Any], head: dict[str, Any]) -> Diff:
    """Every resource of either plan, as a step; custom resources and components alike."""
    old_by_urn = {r["urn"]: r for r in base.get("resources", [])}
    matched: set[str] = set()
    steps: list[Step] = []
    for new in head.get("resources", []):
        old_urn = new["urn"] if new["urn"] in old_by_urn else None
        if old_urn is None:
            old_urn = next(
                (a for a in new["options"].get("aliases") or [] if a in old_by_urn and a not in matched), None
            )
        if old_urn is None:
            steps.append(_single("create", new))
            continue
        matched.add(old_urn)
        steps.append(compare_resource(old_by_urn[old_urn], new))
    for urn, old in old_by_urn.items():
        if urn not in matched:
            steps.append(_single("delete", old))
    steps.sort(key=lambda s: (OPS.index(s.op), s.type, s.urn))
    return Diff(
        project=str(head.get("project") or base.get("project") or ""),
        stack=str(head.get("stack") or base.get("stack") or ""),
        steps=tuple(steps),
        base=base,
        head=head,
    )


def _single(op: str, resource: dict[str, Any]) -> Step:
    return Step(
        op=op,
        urn=resource["urn"],
        type=resource["type"],
        name=resource["name"],
        parent=resource["parent"],
        stateful=resource["type"] in STATEFUL_TYPES,
        protected=bool(resource["options"].get("protect")),
        dependencies=tuple(resource.get("dependencies") or ()),
    )


EMPTY_PLAN: dict[str, Any] = {"resources": [], "outputs": {}}
