"""Feature-group schema evolution: additions in place, everything else refused.

SageMaker can add features to a live feature group (UpdateFeatureGroup with
FeatureAdditions) but cannot remove or retype one, nor change the record
identifier or event time. pulumi-aws would *replace* the group on any change to
its definitions, deleting the offline store and the online records. So mlstack:

- keeps the accepted schema of every group in a lock file next to the spec
  (`mlstack.lock.json`), committed and reviewed like any lock file;
- refuses, with a located error, any spec that drops or retypes a locked feature,
  changes a group's keys, or drops a locked group;
- reports additions, which the FeatureStore component applies in place.

`mlstack lock` records the spec's schema after review; `--drop GROUP` is the
deliberate way to retire a group.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from mlstack.spec import EnvironmentSpec, Problem, SpecError
from mlstack.spec.features import FeatureGroup

LOCK_VERSION = 1


@dataclass(frozen=True)
class LockedGroup:
    record_identifier: str
    event_time: str
    features: tuple[tuple[str, str], ...]
    """(name, type) in the order they were accepted."""

    @classmethod
    def of(cls, group: FeatureGroup) -> LockedGroup:
        return cls(group.record_identifier, group.event_time, tuple((f.name, f.type) for f in group.features))

    def types(self) -> dict[str, str]:
        return dict(self.features)


@dataclass(frozen=True)
class FeatureLock:
    path: Path
    groups: dict[str, LockedGroup]
    exists: bool

    def render(self) -> str:
        body = {
            "version": LOCK_VERSION,
            "comment": "Accepted feature-group schemas. Written by `mlstack lock`; review changes like code.",
            "feature_groups": {
                name: {
                    "record_identifier": group.record_identifier,
                    "event_time": group.event_time,
                    "features": [{"name": n, "type": t} for n, t in group.features],
                }
                for name, group in sorted(self.groups.items())
            },
        }
        text = json.dumps(body, indent=2)
        # one feature per line keeps lock diffs to one line per added feature
        return re.sub(r'\{\n\s+("name": "[^"]*"),\n\s+("type": "[^"]*")\n\s+\}', r"{\1, \2}", text) + "\n"


def lock_path(spec_path: Path) -> Path:
    return spec_path.with_name(f"{spec_path.stem}.lock.json")


def read_lock(spec_path: Path) -> FeatureLock:
    path = lock_path(spec_path)
    if not path.exists():
        return FeatureLock(path, {}, exists=False)
    try:
        body = json.loads(path.read_text())
        groups = {
            name: LockedGroup(
                entry["record_identifier"],
                entry["event_time"],
                tuple((f["name"], f["type"]) for f in entry["features"]),
            )
            for name, entry in body["feature_groups"].items()
        }
    except (ValueError, KeyError, TypeError) as exc:
        raise SpecError.single(path.name, 1, 1, "", f"unreadable lock file ({exc}); restore it from git") from None
    return FeatureLock(path, groups, exists=True)


_WHY = "SageMaker cannot {what}, and replacing the group would delete its offline store and online records"


def check_evolution(env: EnvironmentSpec, lock: FeatureLock) -> list[Problem]:
    """Located problems for every change to a locked schema that is not an addition."""
    problems: list[Problem] = []
    groups = {g.name: (i, g) for i, g in enumerate(env.spec.feature_groups)}
    for name, locked in sorted(lock.groups.items()):
        if name not in groups:
            problems.append(
                env.problem(
                    ("feature_groups",),
                    f"feature group '{name}' is in {lock.path.name} but not in the spec; removing it would "
                    f"delete its offline store and online records. To retire it deliberately, run "
                    f"`mlstack lock --drop {name}` and commit the lock",
                )
            )
            continue
        index, group = groups[name]
        at = ("feature_groups", index)
        for key in ("record_identifier", "event_time"):
            was, now = getattr(locked, key), getattr(group, key)
            if was != now:
                problems.append(
                    env.problem(
                        (*at, key),
                        f"{key} changed from '{was}' to '{now}': "
                        + _WHY.format(what="change it on a live group")
                        + ". Create a new group under a new name instead",
                        key=False,
                    )
                )
        current = {f.name: (position, f.type) for position, f in enumerate(group.features)}
        for feature, was_type in locked.features:
            if feature not in current:
                problems.append(
                    env.problem(
                        (*at, "features"),
                        f"feature '{feature}' was removed: "
                        + _WHY.format(what="drop a feature")
                        + ". Keep it (stop writing it), or move to a new group under a new name",
                    )
                )
                continue
            position, now_type = current[feature]
            if now_type != was_type:
                problems.append(
                    env.problem(
                        (*at, "features", position, "type"),
                        f"feature '{feature}' changed type {was_type} -> {now_type}: "
                        + _WHY.format(what="retype a feature")
                        + f". Add a new feature (e.g. {feature}_v2) instead",
                        key=False,
                    )
                )
    return problems


def additions(env: EnvironmentSpec, lock: FeatureLock) -> dict[str, list[tuple[str, str]]]:
    """Per locked group, the features the spec adds (applied in place). New groups are not listed."""
    result: dict[str, list[tuple[str, str]]] = {}
    for group in env.spec.feature_groups:
        locked = lock.groups.get(group.name)
        if locked is None:
            continue
        known = locked.types()
        added = [(f.name, f.type) for f in group.features if f.name not in known]
        if added:
            result[group.name] = added
    return result


def new_groups(env: EnvironmentSpec, lock: FeatureLock) -> list[str]:
    return [g.name for g in env.spec.feature_groups if g.name not in lock.groups]


def ensure_compatible(env: EnvironmentSpec, lock: FeatureLock) -> None:
    problems = check_evolution(env, lock)
    if problems:
        raise SpecError(problems)


def updated_lock(envs: dict[str, EnvironmentSpec], lock: FeatureLock, drop: tuple[str, ...] = ()) -> FeatureLock:
    """The lock with every environment's additions recorded. Refuses incompatible specs."""
    unknown = [name for name in drop if name not in lock.groups]
    if unknown:
        raise SpecError.single(lock.path.name, 1, 1, "", f"--drop: no group {', '.join(unknown)} in the lock")
    kept = {name: group for name, group in lock.groups.items() if name not in drop}
    base = FeatureLock(lock.path, kept, lock.exists)
    problems = [p for env in envs.values() for p in check_evolution(env, base)]
    if problems:
        raise SpecError(problems)
    groups = dict(kept)
    for env in envs.values():
        for group in env.spec.feature_groups:
            locked = groups.get(group.name)
            if locked is None:
                groups[group.name] = LockedGroup.of(group)
                continue
            known = locked.types()
            extra = tuple((f.name, f.type) for f in group.features if f.name not in known)
            if extra:
                groups[group.name] = LockedGroup(locked.record_identifier, locked.event_time, locked.features + extra)
    return FeatureLock(lock.path, groups, exists=True)
