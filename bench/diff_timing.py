"""`mlstack diff prod` against one `mlstack plan prod`: the PR feedback loop's two commands.

Run: `.venv/bin/python bench/diff_timing.py` (BENCH_RUNS=5 by default). Prints medians
of wall time, each command in a fresh interpreter, on a temporary git repository that
holds the example with one edit committed (prod's instance type). Figures, not a test.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
FILES = ("Pulumi.yaml", "__main__.py", "mlstack.yaml", "mlstack.lock.json")


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=b@example.com", "-c", "user.name=bench", *args], cwd=cwd, check=True)


def median_wall(command: list[str], cwd: Path) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=False, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch)
        for name in FILES:
            shutil.copy(ROOT / name, repo / name)
        shutil.copytree(ROOT / "stacks", repo / "stacks")
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "base")
        spec = repo / "mlstack.yaml"
        spec.write_text(spec.read_text().replace("instance_type: ml.c5.xlarge", "instance_type: ml.c5.2xlarge"))
        git(repo, "commit", "-qam", "prod: bigger instances")
        cli = [sys.executable, "-m", "mlstack"]
        subprocess.run([*cli, "plan", "prod"], cwd=repo, check=True, capture_output=True)  # warm the caches
        plan = median_wall([*cli, "plan", "prod"], repo)
        diff = median_wall([*cli, "diff", "prod", "--base", "HEAD~1", "--markdown"], repo)
    bytecode = "without" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "with"
    print(f"median of {RUNS} runs, {os.cpu_count()} cores, dependencies compiled, own code {bytecode} .pyc writes")
    print(f"mlstack plan prod            : {plan:6.2f} s")
    print(f"mlstack diff prod --markdown : {diff:6.2f} s  ({diff / plan:.2f} x one plan; two plans in parallel)")


if __name__ == "__main__":
    main()
