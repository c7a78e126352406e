"""Turn pydantic validation errors into located, readable problems."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from .base import PATTERN_HELP
from .errors import Problem, format_path

MAX_SHOWN = 80
"""Longest value echoed in a message; longer ones are cut with an ellipsis."""


def shown(value: Any) -> str:
    """A value as a message quotes it: its repr, on one line and at most MAX_SHOWN characters."""
    if isinstance(value, str) and len(value) > MAX_SHOWN - 3:
        text = repr(value[: MAX_SHOWN - 3])
        return text[:-1] + "…" + text[-1]
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def suggest(value: object, choices: list[str] | tuple[str, ...], cutoff: float = 0.6) -> str | None:
    """The choice `value` most likely meant (case does not count), or None."""
    if not isinstance(value, str) or not choices:
        return None
    lowered = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=cutoff)
    return lowered[close[0]] if close else None


def did_you_mean(value: object, choices: list[str] | tuple[str, ...]) -> str:
    """'; did you mean 'x'?' for the closest choice, or ''."""
    close = suggest(value, choices)
    return f"; did you mean '{close}'?" if close else ""


def _literal_choices(root_model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    model = model_at(root_model, loc[:-1])
    field = model.model_fields.get(str(loc[-1])) if model and loc else None
    if field is None:
        return []

    def literals(annotation: Any) -> list[str]:
        origin = typing.get_origin(annotation)
        if origin is typing.Literal:
            return [a for a in typing.get_args(annotation) if isinstance(a, str)]
        if origin in (typing.Annotated, typing.Union, types.UnionType):
            args = typing.get_args(annotation)
            return [v for a in (args[:1] if origin is typing.Annotated else args) for v in literals(a)]
        return []

    return literals(field.annotation)


def _position(node: Any, part: Any, *, key: bool) -> tuple[int, int] | None:
    data = node.lc.data or {}
    if part not in data:
        return None
    entry = data[part]
    if isinstance(node, CommentedSeq):
        return entry[0], entry[1]
    return (entry[0], entry[1]) if key else (entry[2], entry[3])


def locate(root: Any, loc: tuple[Any, ...], *, key: bool = False) -> tuple[tuple[int, int], tuple[Any, ...]]:
    """Walk `loc` down the YAML tree as far as it exists.

    Returns the 0-based (line, column) of the deepest node found and the part of
    `loc` that was walked. `key=True` points at the last key rather than its value
    (for unknown keys). A walk that stops early points at the last key found.
    """
    node = root
    position = (root.lc.line, root.lc.col) if hasattr(root, "lc") else (0, 0)
    key_position = position
    walked: list[Any] = []
    for index, part in enumerate(loc):
        is_last = index == len(loc) - 1
        if isinstance(node, CommentedMap) and part in node:
            found = _position(node, part, key=key and is_last)
            found_key = _position(node, part, key=True)
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            found = found_key = _position(node, part, key=False)
        else:
            if isinstance(node, CommentedMap) and not key:
                # a missing key: point at the key of the map that lacks it
                return key_position, tuple(walked)
            break
        if found is not None:
            position = found
        if found_key is not None:
            key_position = found_key
        walked.append(part)
        node = node[part]
    if walked and isinstance(node, CommentedMap | CommentedSeq):
        # a whole section is at fault: its key reads better than its first line
        return key_position, tuple(walked)
    return position, tuple(walked)


def _unwrap(annotation: Any) -> list[Any]:
    """The model classes an annotation may hold (through Optional, list, dict, Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, set):
        return [m for arg in typing.get_args(annotation) for m in _unwrap(arg)]
    if origin is dict:
        return _unwrap(typing.get_args(annotation)[1])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def model_at(root_model: type[BaseModel], parts: tuple[Any, ...]) -> type[BaseModel] | None:
    """The spec model class found at a path of field names (list indices skipped)."""
    model: type[BaseModel] | None = root_model
    for part in parts:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        candidates = _unwrap(field.annotation)
        model = candidates[0] if candidates else None
    return model


def _at_parts(error: ErrorDetails) -> tuple[Any, ...]:
    at = str((error.get("ctx") or {}).get("at") or "")
    return tuple(int(p) if p.isdigit() else p for p in at.split(".")) if at else ()


def _message(error: ErrorDetails, root_model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = model_at(root_model, loc[:-1])
        allowed = sorted(model.model_fields) if model else []
        hint = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        text = f"unknown key '{key}'"
        if hint:
            text += f"; did you mean '{hint[0]}'?"
        if allowed:
            text += f" (allowed: {', '.join(allowed)})"
        return one_line(text)  # a key may hold a newline too
    if kind == "missing":
        return one_line(f"missing required key '{loc[-1]}'")
    message = error["msg"]
    if message.startswith(("Value error, ", "Assertion failed, ")):
        message = message.split(", ", 1)[1]
    value = error.get("input")
    if isinstance(value, str) and len(value) > MAX_SHOWN - 3 and value in message:
        # a custom message that quotes the value: quote it short
        message = message.replace(f"'{value}'", shown(value)).replace(value, shown(value)[1:-1])
    pattern = str((error.get("ctx") or {}).get("pattern", ""))
    if kind == "string_pattern_mismatch" and pattern in PATTERN_HELP:
        message = f"must be {PATTERN_HELP[pattern]}"
    if kind not in ("aws_enum", "aws_pattern") and isinstance(value, str | int | float | bool):
        message += f" (got {shown(value)})"
    if kind == "literal_error":
        hint = suggest(value, _literal_choices(root_model, loc))
        if hint is not None:
            message += f"; did you mean '{hint}'?"
    message = one_line(message)
    return message[:1].lower() + message[1:] if message[:2] != message[:2].upper() else message


def to_problems(errors: list[ErrorDetails], tree: Any, file: str, root_model: type[BaseModel]) -> list[Problem]:
    problems = []
    for error in errors:
        loc = tuple(error["loc"]) + _at_parts(error)
        is_key_error = error["type"] == "extra_forbidden" or (loc and loc[-1] == "[key]")
        if loc and loc[-1] == "[key]":
            loc = loc[:-1]
        (line, column), walked = locate(tree, loc, key=bool(is_key_error))
        shown = loc if error["type"] in ("missing", "extra_forbidden") else walked
        path = one_line(format_path(shown))
        problems.append(Problem(file, line + 1, column + 1, path, _message(error, root_model, loc)))
    return problems
