"""Warnings about a valid spec: things that work but that a user should know before deploying."""

from __future__ import annotations

from .errors import Problem
from .loader import EnvironmentSpec
from .monitoring import MODEL_MONITOR_CLOSED


def warnings_for(env: EnvironmentSpec) -> list[Problem]:
    """Located warnings of one environment (the same `file:line:col: path: message` as errors)."""
    found = []
    for index, model in enumerate(env.spec.models):
        if model.monitoring.enabled and model.monitoring.engine == "model-monitor":
            found.append(env.problem(("models", index, "monitoring", "engine"), f"warning: {MODEL_MONITOR_CLOSED}"))
    return found
