"""The typed project spec: one YAML file describes an ML project and its environments."""

from .errors import Problem, SpecError
from .loader import (
    EnvironmentSpec,
    SpecDocument,
    load_all,
    load_environment,
    read_document,
    resolve,
)
from .project_spec import TIERS, ModelSpec, ProjectSpec, SpecFile, Tier

__all__ = [
    "TIERS",
    "EnvironmentSpec",
    "ModelSpec",
    "Problem",
    "ProjectSpec",
    "SpecDocument",
    "SpecError",
    "SpecFile",
    "Tier",
    "load_all",
    "load_environment",
    "read_document",
    "resolve",
]
