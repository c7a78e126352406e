"""Deep-merge an environment overlay into the base spec, keeping YAML positions.

Maps merge key by key; lists whose items are all maps with a `name` merge item by
item on that name (so an overlay can change one model without repeating the
others); any other value in the overlay replaces the base value. The merged tree
keeps, for every key and item, the line and column of the document it came from,
so a validation error points at the line that set the value.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq


def named_items(value: Any) -> bool:
    return isinstance(value, CommentedSeq) and all(
        isinstance(item, CommentedMap) and isinstance(item.get("name"), str) for item in value
    )


def _copy_position(target: CommentedMap | CommentedSeq, source: CommentedMap | CommentedSeq) -> None:
    target.lc.line, target.lc.col = source.lc.line, source.lc.col


def merge(base: Any, overlay: Any) -> Any:
    """Return base with overlay merged in. Neither input is modified."""
    if isinstance(base, CommentedMap) and isinstance(overlay, CommentedMap):
        return _merge_maps(base, overlay)
    if named_items(base) and named_items(overlay):
        return _merge_named_lists(base, overlay)
    return overlay


def position_of(node: CommentedMap | CommentedSeq, key: object) -> list[int]:
    """A key's [line, col, value line, value col]; keys brought in by a `<<:` merge have none of
    their own, so they take the position of the mapping that merged them."""
    data = getattr(node.lc, "data", None) or {}
    if key in data:
        return list(data[key])
    line, col = node.lc.line or 0, node.lc.col or 0
    return [line, col, line, col]


def _merge_maps(base: CommentedMap, overlay: CommentedMap) -> CommentedMap:
    merged = CommentedMap()
    _copy_position(merged, base)
    for key, value in base.items():
        merged[key] = value
        merged.lc.add_kv_line_col(key, position_of(base, key))
    for key, value in overlay.items():
        if key in base:
            merged[key] = merge(base[key], value)
            # The value now comes from the overlay where it replaced the base; a
            # merged container keeps the base position of its key.
            if not isinstance(merged[key], CommentedMap) or not isinstance(base[key], CommentedMap):
                merged.lc.add_kv_line_col(key, position_of(overlay, key))
        else:
            merged[key] = value
            merged.lc.add_kv_line_col(key, position_of(overlay, key))
    return merged


def _merge_named_lists(base: CommentedSeq, overlay: CommentedSeq) -> CommentedSeq:
    merged = CommentedSeq()
    _copy_position(merged, base)
    by_name = {item["name"]: index for index, item in enumerate(overlay)}
    for index, item in enumerate(base):
        if item["name"] in by_name:
            merged.append(_merge_maps(item, overlay[by_name.pop(item["name"])]))
        else:
            merged.append(item)
        merged.lc.add_kv_line_col(len(merged) - 1, position_of(base, index))
    for index in by_name.values():  # items only the overlay has
        merged.append(overlay[index])
        merged.lc.add_kv_line_col(len(merged) - 1, position_of(overlay, index))
    return merged


def to_plain(value: Any) -> Any:
    """ruamel's tree as plain dicts, lists and scalars, for validation."""
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value
