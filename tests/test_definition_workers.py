"""Cold pipeline definitions build in worker processes, side by side, byte-identical to a build here."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from mlstack.wiring import pipeline_cache
from tests.test_pipeline_definition import EXAMPLES


def run(coroutine: object) -> object:
    """Run on a loop of its own: asyncio.run() would leave no current loop for Pulumi's later tests."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)  # type: ignore[arg-type]
    finally:
        loop.close()


@pytest.fixture
def cold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLSTACK_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_cold_definitions_build_in_workers_and_equal_a_build_here(cold: Path) -> None:
    inputs = [dataclasses.replace(example, model_name=f"m{n}") for n, example in enumerate(EXAMPLES.values())]

    async def all_soon() -> list[str]:
        pending = [pipeline_cache.definition_soon(item) for item in inputs]
        assert all(not isinstance(item, str) for item in pending)  # nothing cached yet: awaitables
        return list(await asyncio.gather(*pending))  # type: ignore[arg-type]

    built = run(all_soon())
    assert built == [pipeline_cache.build_here(item) for item in inputs]
    assert pipeline_cache._workers().started  # they ran in worker processes
    assert [pipeline_cache.definition_soon(item) for item in inputs] == built  # now cached: plain strings


def test_a_failed_build_in_a_worker_is_raised_here(cold: Path) -> None:
    broken = dataclasses.replace(next(iter(EXAMPLES.values())), model_name="bad")
    object.__setattr__(broken, "framework", "no-such-framework")  # past the inputs' own checks

    async def soon() -> str:
        return await pipeline_cache.definition_soon(broken)  # type: ignore[misc]

    with pytest.raises(RuntimeError, match="building the pipeline definition failed: "):
        run(soon())
    assert not list(cold.glob("pipelines/*.json"))  # nothing cached


def test_prewarm_starts_a_worker_that_waits_for_work() -> None:
    workers = pipeline_cache._workers()
    before = len(workers.started)
    pipeline_cache.prewarm()
    assert len(workers.started) >= min(before + 1, workers.count)
    assert workers.idle.qsize() >= 1  # lent back at once: the next build takes it


def test_ctrl_c_leaves_a_worker_quiet_until_its_parent_closes_it() -> None:
    """Ctrl-C in `plan --watch` reaches the workers too: they must not print tracebacks."""
    import signal
    import subprocess
    import sys
    import time

    worker = subprocess.Popen(
        [sys.executable, "-m", "mlstack.wiring.definition_worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(1.5)  # past the signal handler's installation, into the SDK's import or the read
    worker.send_signal(signal.SIGINT)
    assert worker.stdin is not None
    worker.stdin.close()  # what the parent does on exit
    assert worker.wait(timeout=60) == 0
    assert worker.stderr is not None
    err = worker.stderr.read()
    assert b"Traceback" not in err
