"""Cyclic garbage collection paused for a block: for code that builds one large object graph.

A plan holds every resource's outputs, futures and tasks until it is recorded, so each
collection walks all of it and frees almost nothing: over half of a 3,000-resource plan's
CPU under the default thresholds (bench/README.md). Standard library only, so the console
entry point can pause collection before its heavy imports.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic collection in the block; the previous setting afterwards (nesting is safe)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
