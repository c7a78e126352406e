"""Tables the bundled step scripts (pipelines/steps/) define, read without importing them.

The scripts need the SageMaker images' libraries and are not part of the spec, but what
they accept (train.py's hyperparameters) and write (evaluate.py's metrics) is what the
spec must check. So each such table is a plain literal in its script, read here with
`ast`: one source of truth, edited in the script only.
"""

from __future__ import annotations

import ast
from pathlib import Path


def bundled_script(name: str) -> Path:
    from mlstack import shared_package_dir

    return shared_package_dir("pipelines") / "steps" / name


def literals(path: Path, names: set[str]) -> dict[str, object]:
    """The values of the top-level assignments of `names` in `path`; each must be a literal."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in names:
            found[target.id] = ast.literal_eval(value)
    missing = names - set(found)
    if missing:
        raise RuntimeError(f"{path} assigns no literal {', '.join(sorted(missing))}")
    return found
