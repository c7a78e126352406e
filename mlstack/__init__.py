"""mlstack: a declarative MLOps stack on Amazon SageMaker, built on Pulumi.

The reusable parts import as `mlstack.components`, `mlstack.pipelines` and
`mlstack.policies`, never as top-level names: Pulumi puts a project's own directory
first on `sys.path`, so a user project with its own `pipelines/` package would
otherwise shadow ours. The wheel installs them inside `mlstack/`; in a source
checkout they are the repository's top-level folders (the design's layout), which
the finder below serves under the same names. An editable install cannot rename
packages itself (hatchling refuses path rewrites that add a prefix).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from importlib import metadata
from pathlib import Path

SHARED_PACKAGES = ("components", "pipelines", "policies")

try:
    __version__ = metadata.version("mlstack")
except metadata.PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"

_HERE = Path(__file__).resolve().parent
_CHECKOUT = _HERE.parent


class _CheckoutPackages(importlib.abc.MetaPathFinder):
    """Serves exactly mlstack.components / .pipelines / .policies from a source checkout."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        parent, _, name = fullname.partition(".")
        if parent != __name__ or name not in SHARED_PACKAGES:
            return None
        location = _CHECKOUT / name
        return importlib.util.spec_from_file_location(
            fullname, location / "__init__.py", submodule_search_locations=[str(location)]
        )


def shared_package_dir(name: str) -> Path:
    """Where `mlstack.<name>` lives: inside the installed package, or at the checkout's root."""
    installed = _HERE / name
    return installed if installed.is_dir() else _CHECKOUT / name


if not (_HERE / "components").is_dir() and (_CHECKOUT / "components" / "__init__.py").is_file():
    sys.meta_path.append(_CheckoutPackages())
