"""Rules: registry (to be written)."""

from __future__ import annotations

POLICIES: list = []
