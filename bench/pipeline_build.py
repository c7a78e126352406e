"""Timing of the training pipeline definition build (pipelines.builder), in fresh interpreters.

Run: `.venv/bin/python bench/pipeline_build.py` (BENCH_RUNS=5 by default). Prints figures;
it is not a pass/fail test. Each run is a new process, as `pulumi up` or the CLI would be,
and the figures are medians. The SageMaker SDK is ~2,000 modules, compiled on every import
when there is no bytecode cache (PYTHONDONTWRITEBYTECODE=1, or a read-only site-packages):
both cases are measured, the cached one with a temporary PYTHONPYCACHEPREFIX so that
site-packages is left untouched.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "5"))

# One process: SDK import (plus the offline session), then a first and a second build.
_RUN = """
import json, time
started = time.perf_counter()
from mlstack.pipelines.builder import TrainingPipelineInputs, build_definition, offline_session
inputs = TrainingPipelineInputs(
    pipeline_name="bench-training", model_name="bench", region="eu-west-1",
    role_arn="arn:aws:iam::111111111111:role/bench", bucket="bench-artifacts",
    kms_key_arn="arn:aws:kms:eu-west-1:111111111111:key/bench", framework="xgboost",
    framework_version="1.7-1", hyperparameters={"algorithm": "xgboost", "max_depth": 6},
    use_spot=True, s3_uri="s3://bench-data/", target="label", gate_metric="auc",
    gate_comparison="GreaterThanOrEqualTo", gate_threshold=0.9, model_package_group_name="bench",
)
light = time.perf_counter() - started
started = time.perf_counter()
with offline_session(inputs.region, inputs.bucket):
    import mlstack.pipelines._steps
sdk = time.perf_counter() - started
started = time.perf_counter()
size = len(build_definition(inputs))
first = time.perf_counter() - started
started = time.perf_counter()
build_definition(inputs)
second = time.perf_counter() - started
print(json.dumps({"light": light, "sdk": sdk, "first": first, "second": second, "size": size}))
"""


def run_once(env: dict[str, str]) -> dict[str, float]:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _RUN], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return {**json.loads(out.stdout), "process": time.perf_counter() - started}


def report(label: str, env: dict[str, str]) -> None:
    runs = [run_once(env) for _ in range(RUNS)]

    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    print(f"{label}")
    print(f"  import pipelines.builder + inputs (no SDK)   : {median('light'):6.3f} s")
    print(f"  SDK import + offline session                  : {median('sdk'):6.3f} s")
    print(f"  build_definition, first (SDK loaded)          : {median('first'):6.3f} s")
    print(f"  build_definition, again                       : {median('second'):6.3f} s")
    print(f"  whole process (interpreter, import, 2 builds) : {median('process'):6.3f} s")
    print(f"  definition size                               : {int(median('size'))} bytes")


def main() -> None:
    base = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    print(f"median of {RUNS} fresh-interpreter runs\n")
    report("no bytecode cache (PYTHONDONTWRITEBYTECODE=1)", {**base, "PYTHONDONTWRITEBYTECODE": "1"})
    with tempfile.TemporaryDirectory() as cache:
        warm = {key: value for key, value in base.items() if key != "PYTHONDONTWRITEBYTECODE"}
        warm["PYTHONPYCACHEPREFIX"] = cache
        run_once(warm)  # fills the cache
        print()
        report("bytecode cache warm", warm)


if __name__ == "__main__":
    main()
