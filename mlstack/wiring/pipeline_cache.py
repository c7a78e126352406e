"""A disk cache in front of the pipeline builder.

Building a definition imports the SageMaker SDK (~2 s) and composes every step.
The result is a pure function of the inputs, the SDK version and the builder's
own code, so it is cached under that key: `mlstack plan` pays for the SDK only
when something the definition depends on changed.
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import hashlib
import json
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from importlib import metadata
from pathlib import Path

from mlstack import shared_package_dir
from mlstack.pipelines.batch_inputs import BatchPipelineInputs
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


def cache_key(inputs: TrainingPipelineInputs | MonitorPipelineInputs | BatchPipelineInputs) -> str:
    body = type(inputs).__name__ + json.dumps(dataclasses.asdict(inputs), sort_keys=True, default=str)
    return hashlib.sha256(f"{_code_and_sdk_fingerprint()}\n{body}".encode()).hexdigest()


Inputs = TrainingPipelineInputs | MonitorPipelineInputs | BatchPipelineInputs


def _cached(inputs: Inputs) -> tuple[Path, str | None]:
    path = cache_dir() / "pipelines" / f"{cache_key(inputs)}.json"
    if os.environ.get("MLSTACK_NO_CACHE") == "1":
        return path, None
    try:
        return path, path.read_text()
    except OSError:
        return path, None


def _store(path: Path, definition: str) -> str:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(definition)
        tmp.replace(path)
    except OSError:
        pass  # read-only cache: still correct, just slower next time
    return definition


def cached_definition(inputs: Inputs) -> str:
    """The builder's definition for `inputs`, from the cache when nothing it depends on changed.

    MLSTACK_NO_CACHE=1 always rebuilds (the result is the same; it is only slower).
    """
    path, definition = _cached(inputs)
    return definition if definition is not None else _store(path, build_here(inputs))


def definition_soon(inputs: Inputs) -> str | Awaitable[str]:
    """For an Output.apply callback: the cached definition now, or a cold one built by a worker
    process while the program goes on, so several cold definitions build on both cores at once."""
    path, definition = _cached(inputs)
    if definition is not None:
        return definition
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(_workers().threads, _workers().build, inputs)
    return _stored_when_done(path, future)


async def _stored_when_done(path: Path, future: Awaitable[str]) -> str:
    return _store(path, await future)


class _Workers:
    """Up to two worker processes, each lent to one build at a time."""

    def __init__(self, count: int) -> None:
        self.threads = ThreadPoolExecutor(max_workers=count, thread_name_prefix="mlstack-definitions")
        self.idle: queue.Queue[subprocess.Popen[bytes]] = queue.Queue()
        self.started: list[subprocess.Popen[bytes]] = []
        self.count = count
        self.lock = threading.Lock()

    def _take(self) -> subprocess.Popen[bytes]:
        with self.lock:
            if self.idle.empty() and len(self.started) < self.count:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "mlstack.wiring.definition_worker"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                )
                self.started.append(worker)
                return worker
        return self.idle.get()

    def build(self, inputs: Inputs) -> str:
        from mlstack.wiring.definition_worker import read_message, write_message

        worker = self._take()
        assert worker.stdin is not None and worker.stdout is not None
        try:
            write_message(worker.stdin, pickle.dumps(inputs))
            reply = read_message(worker.stdout)
        except OSError:
            reply = None
        if reply is None:  # the worker died: build here instead, correct if slower
            with self.lock:
                self.started.remove(worker)
            return build_here(inputs)
        self.idle.put(worker)
        status, _, body = reply.partition(b"\n")
        if status != b"ok":
            raise RuntimeError(f"building the pipeline definition failed: {body.decode(errors='replace')}")
        return body.decode()

    def close(self) -> None:
        for worker in self.started:
            if worker.stdin:
                worker.stdin.close()
        for worker in self.started:
            try:
                worker.wait(timeout=5)
            except subprocess.TimeoutExpired:
                worker.kill()
        self.threads.shutdown(wait=False)


def build_here(inputs: Inputs) -> str:
    from mlstack.wiring.definition_worker import build

    return build(inputs)


def prewarm() -> None:
    """Start a worker now, so the next cold definition does not wait for the SDK's import
    (`plan --watch`: the first edit that changes a pipeline)."""
    workers = _workers()
    workers.idle.put(workers._take())


@cache
def _workers() -> _Workers:
    workers = _Workers(max(1, min(2, os.cpu_count() or 1)))
    atexit.register(workers.close)
    return workers
