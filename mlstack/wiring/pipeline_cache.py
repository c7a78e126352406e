"""A disk cache in front of the pipeline builder.

Building a definition imports the SageMaker SDK (~2 s) and composes every step.
The result is a pure function of the inputs, the SDK version and the builder's
own code, so it is cached under that key: `mlstack plan` pays for the SDK only
when something the definition depends on changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from functools import cache
from importlib import metadata

from mlstack import shared_package_dir
from mlstack.pipelines.inputs import TrainingPipelineInputs
from mlstack.pipelines.monitor_inputs import MonitorPipelineInputs
from mlstack.spec.aws import cache_dir

_SDK_DISTRIBUTIONS = ("sagemaker", "sagemaker-core", "sagemaker-mlops", "sagemaker-train")


@cache
def _code_and_sdk_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in sorted(shared_package_dir("pipelines").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for name in _SDK_DISTRIBUTIONS:
        try:
            digest.update(f"{name}=={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}: missing".encode())
    return digest.hexdigest()


def cache_key(inputs: TrainingPipelineInputs | MonitorPipelineInputs) -> str:
    body = type(inputs).__name__ + json.dumps(dataclasses.asdict(inputs), sort_keys=True, default=str)
    return hashlib.sha256(f"{_code_and_sdk_fingerprint()}\n{body}".encode()).hexdigest()


def cached_definition(inputs: TrainingPipelineInputs | MonitorPipelineInputs) -> str:
    """The builder's definition for `inputs`, from the cache when nothing it depends on changed.

    MLSTACK_NO_CACHE=1 always rebuilds (the result is the same; it is only slower).
    """
    path = cache_dir() / "pipelines" / f"{cache_key(inputs)}.json"
    if os.environ.get("MLSTACK_NO_CACHE") != "1":
        try:
            return path.read_text()
        except OSError:
            pass
    if isinstance(inputs, MonitorPipelineInputs):
        from mlstack.pipelines.monitor_builder import build_monitor_definition

        definition = build_monitor_definition(inputs)
    else:
        from mlstack.pipelines.builder import build_definition

        definition = build_definition(inputs)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(definition)
        tmp.replace(path)
    except OSError:
        pass  # read-only cache: still correct, just slower next time
    return definition
