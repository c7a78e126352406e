"""Rules: featurestore (to be written)."""

from __future__ import annotations

POLICIES: list = []
