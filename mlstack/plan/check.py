"""`mlstack check`: the governance pack over an offline plan, in-process.

The same rules `pulumi preview --policy-pack policies` runs, with the same per-tier
configuration (`policies/config/<tier>.json`), over the resources the offline
synthesis recorded: resource rules per resource, stack rules over the whole stack.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from mlstack import shared_package_dir
from mlstack.plan.synth import SECRET_SIG, SIG_KEY, Plan

SEVERITY_ORDER = ("critical", "high", "medium", "low", "")


def config_dir() -> Path:
    """The installed pack's per-tier configs: the files `pulumi preview --policy-pack-config` takes."""
    return shared_package_dir("policies") / "config"


@dataclass(frozen=True)
class CheckResult:
    plan: Plan
    report: Any  # policies.testing.Report
    config_path: Path
    rules: int
    seconds: float

    @property
    def failed(self) -> bool:
        return bool(self.report.mandatory)

    def summary(self) -> str:
        """Plain text, one line per mandatory violation: for assertion messages and logs."""
        lines = [f"{v.policy}: {v.urn}: {v.message}" for v in sorted(self.report.mandatory, key=_order)]
        verdict = "FAILED" if self.failed else "PASSED"
        return "\n".join([f"{verdict} {self.plan.stack}: {len(lines)} mandatory violations", *lines])

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.plan.stack,
            "tier": self.plan.environment.tier,
            "config": self.config_path.name,
            "rules": self.rules,
            "resources": len(self.plan.resources),
            "passed": not self.failed,
            "violations": [
                {
                    "policy": v.policy,
                    "level": v.level,
                    "severity": v.severity,
                    "urn": v.urn,
                    "message": v.message,
                    "fix": v.fix,
                }
                for v in sorted(self.report.violations, key=_order)
            ],
            "not_evaluated": [{"policy": p, "urn": u, "reason": r} for p, u, r in sorted(self.report.not_evaluated)],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, sort_keys=True) + "\n"


def _order(violation: Any) -> tuple[int, str, str, str]:
    severity = violation.severity if violation.severity in SEVERITY_ORDER else ""
    return (SEVERITY_ORDER.index(severity), violation.policy, violation.urn, violation.message)


def config_for(tier: str, override: Path | None = None) -> tuple[Path, dict[str, Any]]:
    path = override or config_dir() / f"{tier}.json"
    return path, json.loads(path.read_text())


def _as_engine_sends(value: Any) -> Any:
    """Recorded inputs as a policy sees them: secrets unwrapped, unknowns kept as the engine's marker."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return _as_engine_sends(value.get("value"))
        return {k: _as_engine_sends(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_as_engine_sends(v) for v in value]
    if isinstance(value, pulumi.asset.Asset | pulumi.asset.Archive):
        return {"asset": type(value).__name__}
    return value


def check_plan(plan: Plan, config_override: Path | None = None) -> CheckResult:
    from mlstack.policies.rules import ALL_POLICIES
    from mlstack.policies.testing import Resource, run_pack

    started = time.perf_counter()
    path, config = config_for(plan.environment.tier, config_override)
    resources = [
        Resource(
            type=r.type,
            props=_as_engine_sends(r.inputs),
            urn=r.urn,
            name=r.name,
            protect=bool(r.options.get("protect")),
            ignore_changes=tuple(r.options.get("ignore_changes") or ()),
            parent=r.parent,
            dependencies=r.dependencies,
        )
        for r in plan.resources
        if r.custom
    ]
    report = run_pack(ALL_POLICIES, resources, config)
    return CheckResult(plan, report, path, len(ALL_POLICIES), time.perf_counter() - started)
