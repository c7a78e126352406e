"""Timing figures for the PR feedback loop: spec validation and offline plans.

Run: `make bench` (or `.venv/bin/python bench/plan_timing.py`). Prints figures;
it is not a pass/fail test. Each command runs in a fresh interpreter, as a user
would run it, and reports the median of several runs.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def wall(args: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def median_of(args: list[str], env: dict[str, str] | None = None) -> float:
    return statistics.median(wall(args, env) for _ in range(RUNS))


def in_process(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def main() -> None:
    cli = [sys.executable, "-m", "mlstack"]
    print(f"median of {RUNS} runs, fresh interpreter each\n")
    with tempfile.TemporaryDirectory() as cold_cache:
        cold = {**os.environ, "MLSTACK_CACHE_DIR": cold_cache}
        first = wall([*cli, "validate"], cold)
    print(f"mlstack validate (all envs), cold AWS-shape cache : {first:6.2f} s")
    print(f"mlstack validate (all envs), warm                 : {median_of([*cli, 'validate']):6.2f} s")
    for env in ("dev", "prod"):
        print(f"mlstack plan {env:<5} (rich tree)                    : {median_of([*cli, 'plan', env]):6.2f} s")
    print(f"mlstack plan prod --json                          : {median_of([*cli, 'plan', 'prod', '--json']):6.2f} s")
    print(f"mlstack check prod (39 rules)                     : {median_of([*cli, 'check', 'prod']):6.2f} s")
    no_cache = {**os.environ, "MLSTACK_NO_CACHE": "1"}
    print(f"mlstack plan dev, pipeline definitions rebuilt    : {wall([*cli, 'plan', 'dev'], no_cache):6.2f} s")
    print()
    print(
        in_process(
            "import time; t=time.perf_counter(); import mlstack.spec; a=time.perf_counter()-t;"
            "t=time.perf_counter(); import pulumi, pulumi_aws; b=time.perf_counter()-t;"
            "from mlstack.plan.synth import synthesize; synthesize('dev');"
            "t=time.perf_counter(); p=synthesize('prod'); c=time.perf_counter()-t;"
            "print(f'import mlstack.spec                 : {a:6.3f} s');"
            "print(f'import pulumi + pulumi_aws          : {b:6.3f} s');"
            "print(f'synthesize(prod), warm, in-process  : {c:6.3f} s ({len(p.resources)} resources)')"
        ),
        end="",
    )


if __name__ == "__main__":
    main()
