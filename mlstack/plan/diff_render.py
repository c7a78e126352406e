"""`mlstack diff` for people: a pull-request comment (Markdown) and a terminal view.

The comment is made to be read in ten seconds: a headline per environment, a banner
when state would be lost, what is created / updated / replaced / deleted and why,
then the detail folded away. It carries a hidden marker per project and environment
so a workflow keeps one sticky comment, and stays under GitHub's comment limit by
dropping detail first (and saying so).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlstack.plan.diff import SYMBOL, Change, Diff, Step, is_secret, leaf_changes

LIMIT = 60_000  # pulumi/actions caps a PR comment at 64,000 characters; leave room for the rest
_SHORT = 80
_OP_TITLE = {"create": "Create", "update": "Update", "replace": "Replace", "delete": "Delete"}
_OP_COLOUR = {"create": "#d4edda", "update": "#fff3cd", "replace": "#f8d7da", "delete": "#e2e3e5", "same": "#ffffff"}
MAX_GRAPH_NODES = 60


@dataclass(frozen=True)
class Provenance:
    base: str
    head: str
    mlstack: str

    def line(self, diff: Diff) -> str:
        environment = diff.head.get("environment") or diff.base.get("environment") or {}
        spec = environment.get("spec") or "?"
        digest = (environment.get("spec_sha256") or "")[:12]
        stack_file = environment.get("stack_file")
        return (
            f"base: {self.base} · head: {self.head} · spec {spec}"
            + (f" (sha256 {digest})" if digest else "")
            + (f", stack {stack_file}" if stack_file else "")
            + f" · planned offline by the installed mlstack {self.mlstack} (both sides)"
        )


def marker(diff: Diff) -> str:
    return f"<!-- mlstack-diff project={diff.project} env={diff.stack} -->"


def short(value: Any, width: int = _SHORT) -> str:
    """A value for a table cell: secrets masked, JSON for structures, long values shortened."""
    if value is None:
        return "—"
    if is_secret(value):
        return "[secret]"
    text = value if isinstance(value, str) else json.dumps(_masked(value), sort_keys=True, separators=(",", ":"))
    return text if len(text) <= width else f"{text[: width - 1]}…"


def short_pair(old: Any, new: Any, width: int = _SHORT) -> tuple[str, str]:
    """Both sides of a change; two long strings are shown from just before where they differ."""
    if isinstance(old, str) and isinstance(new, str) and not is_secret(old) and not is_secret(new):
        same = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
        if same > width // 2 and max(len(old), len(new)) > width:
            start = same - width // 4
            return short(f"…{old[start:]}", width), short(f"…{new[start:]}", width)
    return short(old, width), short(new, width)


def _json(value: Any) -> Any:
    if not isinstance(value, str) or is_secret(value) or not value.lstrip().startswith(("{", "[")):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict | list) else None


def expanded(change: Change) -> list[Change]:
    """A change of a JSON document held in a string (a pipeline definition, a policy) as the
    changes inside it, `path` naming the input then the place in the document; else itself."""
    old, new = _json(change.old), _json(change.new)
    if old is None or new is None:
        return [change]
    inner = leaf_changes(old, new)
    if not inner:
        return [change]
    return [Change(f"{change.path} ▸ {path}", before, after, change.kind) for path, before, after, _ in inner]


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return "[secret]" if is_secret(value) else value


def _code(text: str) -> str:
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def _kind(type_: str) -> str:
    return type_.rsplit(":", 1)[-1]


def why(step: Step) -> str:
    """One phrase: what changed, and for a replacement what forces it."""
    verdict = step.verdict
    if step.op == "replace" and verdict:
        forcing = ", ".join(_code(p) for p in verdict.reasons[:4]) + (" …" if len(verdict.reasons) > 4 else "")
        rule = re.sub(r"@([0-9a-f]{12})[0-9a-f]{28}", r"@\1", verdict.rule)
        return f"{forcing} forces replacement ({rule})" if rule else f"{forcing} forces replacement"
    if step.op == "update":
        paths = sorted({c.path for c in step.changes})
        text = ", ".join(_code(p) for p in paths[:4]) + (f" and {len(paths) - 4} more" if len(paths) > 4 else "")
        if verdict and verdict.may_replace:
            text += f" — **may replace** ({verdict.rule})"
        return text
    if step.op == "delete" and step.protected:
        return "protected: `pulumi up` refuses to delete it until unprotected"
    return ""


def _banner(diff: Diff, allow: bool) -> list[str]:
    losses = diff.stateful_losses
    if not losses:
        return []
    names = ", ".join(f"{_code(s.name)} ({_kind(s.type)}, {s.op})" for s in losses)
    lines = [
        "> [!CAUTION]",
        f"> **{len(losses)} stateful resource{'s' if len(losses) != 1 else ''} would be replaced or deleted**: "
        f"{names}. Their data or history is lost.",
    ]
    if diff.protects_stateful:
        verdict = (
            "accepted with `--allow-stateful-changes`"
            if allow
            else "refused (exit 1): keep the names, add an `alias`, or rerun with `--allow-stateful-changes` "
            "after review"
        )
        lines.append(f"> `{diff.stack}` protects stateful resources: this change is {verdict}.")
    return [*lines, ""]


def _op_lists(diff: Diff, limit: int | None) -> list[str]:
    lines: list[str] = []
    for op in ("replace", "delete", "create", "update"):
        steps = [s for s in diff.of(op) if s.type.split(":")[0] not in ("mlstack",)]
        if not steps:
            continue
        lines.append(f"**{_OP_TITLE[op]} ({len(steps)})**")
        shown = steps if limit is None else steps[:limit]
        for step in shown:
            reason = why(step)
            lines.append(
                f"- {SYMBOL[op]} {_code(_kind(step.type))} **{step.name}**" + (f" — {reason}" if reason else "")
            )
        if len(shown) < len(steps):
            lines.append(f"- … and {len(steps) - len(shown)} more (see `mlstack diff {diff.stack}` or the JSON)")
        lines.append("")
    return lines


def _facts(diff: Diff) -> list[str]:
    lines: list[str] = []
    rollovers = diff.rollovers()
    if rollovers:
        lines += ["**Endpoint roll-overs**", *(f"- {r.sentence()}" for r in rollovers), ""]
    versions = diff.model_versions()
    if any(old != new for old, new in versions.values()):
        lines += ["**Model versions deployed**", "", "| model | base | head |", "| --- | --- | --- |"]
        for model, (old, new) in versions.items():
            lines.append(f"| {model} | {_version(old)} | {_version(new)} |")
        lines.append("")
    elif versions:
        listed = ", ".join(f"{model} {_version(new)}" for model, (_, new) in versions.items())
        lines += [f"**Model versions deployed**: unchanged — {listed}", ""]
    additions = diff.feature_additions()
    if additions:
        lines.append("**Feature schema** (added in place, no data loss)")
        for group, features in sorted(additions.items()):
            lines.append(f"- {group}: + " + ", ".join(f"{name} ({kind})" for name, kind in features))
        lines.append("")
    governance = diff.governance()
    if governance is not None:
        new, fixed = governance
        if not new and not fixed:
            lines += ["**Governance**: no change", ""]
        else:
            lines.append("**Governance**")
            lines += [
                f"- new: `{v['policy']}` ({v['level']}) {v['message']} — {_code(v['urn'].split('::')[-1])}" for v in new
            ]
            lines += [f"- fixed: `{v['policy']}` {v['message']} — {_code(v['urn'].split('::')[-1])}" for v in fixed]
            lines.append("")
    return lines


def _version(entry: Any) -> str:
    if not entry:
        return "—"
    return f"v{entry.get('version')} ({entry.get('status')}, {entry.get('source')})"


def _details(diff: Diff) -> list[str]:
    changed = [s for s in diff.steps if s.changes]
    if not changed:
        return []
    noun = "resource" if len(changed) == 1 else "resources"
    lines = [f"<details><summary>Property changes ({len(changed)} {noun})</summary>", ""]
    for step in changed:
        lines += [
            f"#### {SYMBOL[step.op]} {step.name} ({_code(step.type)})",
            "",
            "| path | base | head |",
            "| --- | --- | --- |",
        ]
        for change in (inner for outer in step.changes for inner in expanded(outer)):
            flag = " **(replaces)**" if change.kind.endswith("-replace") else ""
            before, after = short_pair(change.old, change.new)
            lines.append(f"| {_code(change.path)}{flag} | {_code(before)} | {_code(after)} |")
        lines.append("")
    return [*lines, "</details>", ""]


def _graph(diff: Diff) -> list[str]:
    changed = [s for s in diff.steps if s.op != "same"]
    if not changed:
        return []
    by_urn = {s.urn: s for s in diff.steps}
    nodes: dict[str, Step] = {}
    for step in changed:
        nodes[step.urn] = step
        parent = step.parent
        while parent and parent in by_urn and parent not in nodes:
            nodes[parent] = by_urn[parent]
            parent = by_urn[parent].parent
    if len(nodes) > MAX_GRAPH_NODES:
        return [f"_Graph left out: {len(nodes)} resources (more than {MAX_GRAPH_NODES})._", ""]
    ids = {urn: f"n{i}" for i, urn in enumerate(sorted(nodes))}
    lines = ["<details><summary>Graph of the changes</summary>", "", "```mermaid", "flowchart LR"]
    for urn, node in sorted(nodes.items()):
        label = f"{SYMBOL[node.op].strip() or '·'} {node.name}<br/>{_kind(node.type)}".replace('"', "'")
        lines.append(f'  {ids[urn]}["{label}"]:::{node.op}')
    for urn, node in sorted(nodes.items()):
        if node.parent in ids:
            lines.append(f"  {ids[node.parent]} --> {ids[urn]}")
        lines += [f"  {ids[urn]} -.-> {ids[d]}" for d in node.dependencies if d in ids and d != node.parent]
    lines += [f"  classDef {op} fill:{colour},stroke:#555" for op, colour in _OP_COLOUR.items()]
    return [*lines, "```", "", "</details>", ""]


def markdown(diff: Diff, provenance: Provenance, *, allow_stateful_changes: bool = False, limit: int = LIMIT) -> str:
    """The PR comment of one environment (under `limit` characters)."""
    head = [marker(diff)]
    resources = len(diff.head.get("resources") or [])
    if not diff.changed and diff.governance() in (None, ([], [])):
        return "\n".join(
            [*head, f"### mlstack diff · {diff.project} · {diff.stack}: no changes ({resources} resources)", ""]
        )
    head += [f"### mlstack diff · {diff.project} · {diff.stack} · {diff.headline}", ""]
    foot = [f"<sub>{provenance.line(diff)}</sub>", ""]

    def render(lists: int | None, details: bool, graph: bool, note: str) -> str:
        body = [*head, *_banner(diff, allow_stateful_changes), *_op_lists(diff, lists), *_facts(diff)]
        body += (_details(diff) if details else []) + (_graph(diff) if graph else [])
        body += [f"_{note}_", ""] if note else []
        return "\n".join(body + foot)

    attempts: list[Callable[[], str]] = [
        lambda: render(None, True, True, ""),
        lambda: render(None, False, True, "Property changes left out to fit a PR comment: run `mlstack diff` locally."),
        lambda: render(None, False, False, "Property changes and the graph left out to fit a PR comment."),
        lambda: render(20, False, False, "Lists shortened and detail left out to fit a PR comment."),
    ]
    for attempt in attempts:
        text = attempt()
        if len(text) <= limit:
            return text
    return text[: limit - 200] + "\n\n_… cut to fit a PR comment: run `mlstack diff` locally for the rest._\n"


def terminal(diff: Diff, provenance: Provenance | None, *, allow_stateful_changes: bool = False) -> str:
    """A plain-text view for a terminal (rich markup); `provenance` None for a watch's re-plan."""
    lines = [f"[bold]{diff.project}[/] stack [bold]{diff.stack}[/]: {diff.headline}"]
    for line in _banner(diff, allow_stateful_changes):
        if line.startswith("> [!"):
            continue
        lines.append(f"[bold red]{line.removeprefix('> ').replace('**', '')}[/]" if line else "")
    colour = {"create": "green", "update": "yellow", "replace": "magenta", "delete": "red"}
    for op in ("replace", "delete", "create", "update"):
        for step in diff.of(op):
            reason = why(step).replace("`", "").replace("**", "")
            lines.append(
                f"[{colour[op]}]{SYMBOL[op]}[/] {step.name} [dim]{_kind(step.type)}[/]"
                + (f": {reason}" if reason else "")
            )
            changes = [inner for outer in step.changes for inner in expanded(outer)]
            for change in changes[:12]:
                lines.append(f"    {change.path}: {short(change.old, 60)} → {short(change.new, 60)}")
            if len(changes) > 12:
                lines.append(f"    … {len(changes) - 12} more")
    facts = [line.replace("**", "") for line in _facts(diff) if line and not line.startswith("| ---")]
    lines += facts
    if not diff.changed:
        lines.append("no changes")
    if provenance is not None:
        lines.append(f"[dim]{provenance.line(diff)}[/]")
    return "\n".join(lines)
