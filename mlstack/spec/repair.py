"""Validate so that one broken value does not hide the checks of everything else.

pydantic runs a model's cross-field validators only when all its fields are valid,
so a single bad value (say `autoscaling.min_capacity: 0`) hides every rule of the
models above it (prod's "at least 2 instances", duplicate names, references...).

`validate_all` validates, then sets aside each broken value and validates again:
a key with a default is dropped (the default stands in), a broken list item is left
out (locations are mapped back to the list as written), a broken required section
of the root stands in unvalidated. It repeats while that uncovers new problems.

A check in a model next to a value that was set aside might be comparing against
the stand-in, so problems located in that model (or below the value) from later
rounds are not reported: every problem reported is one the spec really has.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from .locate import _at_parts, _unwrap

Path = tuple[Any, ...]
_ROUNDS = 6
# Checks that look items up by name, across lists: with an item left out they may miss it.
_REFERENCE_KINDS = frozenset({"duplicate", "unknown_group", "offline_store", "target", "event_time", "unknown"})


def _model_of(annotation: Any) -> type[BaseModel] | None:
    found = _unwrap(annotation)
    return found[0] if found else None


def _repair_point(data: Any, root: type[BaseModel], loc: Path) -> tuple[str, Path, Path] | None:
    """(action, path, scope) that sets aside the value at fault at `loc`.

    action is 'delete' (a key with a default, or a dict entry), 'drop' (a list
    item) or 'stand_in' (a required root section); scope is the model whose checks
    may have seen the stand-in."""
    node: Any = data
    model: type[BaseModel] | None = root
    model_path: Path = ()
    best: tuple[str, Path, Path] | None = None
    walked: list[Any] = []
    container_is_dict_field = False
    for part in loc:
        if isinstance(node, dict) and part in node:
            if model is not None and not container_is_dict_field:
                field = model.model_fields.get(part)
                if field is None:
                    break
                path = (*walked, part)
                if not field.is_required():
                    best = ("delete", path, model_path)
                elif not walked and _model_of(field.annotation) is not None:
                    best = ("stand_in", path, path)
                annotation = field.annotation
                inner = _model_of(annotation)
                container_is_dict_field = inner is None or _is_dict(annotation)
                model = inner
            else:  # an entry of a dict field
                best = ("delete", (*walked, part), model_path)
                container_is_dict_field = False
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path = (*walked, part)
            best = ("drop", path, path if model is not None else model_path)
            container_is_dict_field = False
        else:
            break
        walked.append(part)
        node = node[part]
        if model is not None and isinstance(node, dict) and not container_is_dict_field:
            model_path = tuple(walked)
    return best


def _is_dict(annotation: Any) -> bool:
    import typing

    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_dict(typing.get_args(annotation)[0])
    if origin in (typing.Union, __import__("types").UnionType):
        return any(_is_dict(a) for a in typing.get_args(annotation))
    return origin is dict


def _build(
    data: Any,
    path: Path,
    deletes: set[Path],
    drops: set[Path],
    stand_ins: dict[Path, Any],
    index_maps: dict[Path, list[int]],
) -> Any:
    if path in stand_ins:
        return stand_ins[path]
    if isinstance(data, dict):
        return {
            k: _build(v, (*path, k), deletes, drops, stand_ins, index_maps)
            for k, v in data.items()
            if (*path, k) not in deletes
        }
    if isinstance(data, list):
        kept = [i for i in range(len(data)) if (*path, i) not in drops]
        if len(kept) != len(data):
            index_maps[path] = kept
        return [_build(data[i], (*path, i), deletes, drops, stand_ins, index_maps) for i in kept]
    return data


def _map_back(loc: Path, index_maps: dict[Path, list[int]]) -> Path:
    out: list[Any] = []
    for part in loc:
        mapping = index_maps.get(tuple(out))
        in_range = mapping is not None and isinstance(part, int) and 0 <= part < len(mapping)
        out.append(mapping[part] if in_range and mapping is not None else part)
    return tuple(out)


def _at(data: Any, path: Path) -> Any:
    for part in path:
        data = data[part]
    return data


def _key(error: ErrorDetails) -> tuple[Any, ...]:
    return (tuple(error["loc"]), error["type"], error["msg"])


def validate_all(
    model: type[BaseModel], data: Any, context: dict[str, Any]
) -> tuple[BaseModel | None, list[ErrorDetails]]:
    """The validated model, or None and every problem found (locations as written)."""
    try:
        return model.model_validate(data, context=context), []
    except ValidationError as exc:
        errors = list(exc.errors())
    if not isinstance(data, dict):
        return None, errors
    deletes: set[Path] = set()
    drops: set[Path] = set()
    stand_ins: dict[Path, Any] = {}
    scopes: list[Path] = []
    dropped_names: set[str] = set()  # a check may miss a left-out item by name ("no feature group 'x'")
    seen = {_key(e) for e in errors}
    pending = errors
    for _ in range(_ROUNDS):
        progress = False
        for error in pending:
            point = _repair_point(data, model, tuple(error["loc"]))
            if point is None:
                continue
            action, path, scope = point
            if path in deletes or path in drops or path in stand_ins:
                continue
            progress = True
            scopes.append(scope)
            if action == "delete":
                deletes.add(path)
            elif action == "drop":
                drops.add(path)
                item = _at(data, path)
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    dropped_names.add(item["name"])
            else:
                field = model.model_fields[path[0]]
                section = _model_of(field.annotation)
                assert section is not None
                stand_ins[path] = section.model_construct()
        if not progress:
            break
        index_maps: dict[Path, list[int]] = {}
        repaired = _build(data, (), deletes, drops, stand_ins, index_maps)
        try:
            model.model_validate(repaired, context=context)
            break
        except ValidationError as exc:
            found = exc.errors()
        pending = []
        for error in found:
            full = _map_back(tuple(error["loc"]) + _at_parts(error), index_maps)
            mapped: ErrorDetails = {**error, "loc": full, "ctx": {**(error.get("ctx") or {}), "at": ""}}
            if _key(mapped) in seen:
                continue
            seen.add(_key(mapped))
            pending.append(mapped)  # set aside in the next round, reported or not
            about_stand_in = (
                any(full[: len(scope)] == scope for scope in scopes)
                or any(f"'{name}'" in error["msg"] for name in dropped_names)
                or (bool(drops) and error["type"] in _REFERENCE_KINDS)
            )
            if not about_stand_in:
                errors.append(mapped)
        if not pending:
            break
    return None, errors
