"""Plan speed against its floor: the figures issue "Plan speed" asks for, in one run.

Run: `make bench` (or `.venv/bin/python bench/plan_speed.py`). Prints figures; not a test.
Every figure is a fresh interpreter's CPU time (user + system, from getrusage) or wall time,
the median of BENCH_RUNS runs (default 3), with the installed packages' bytecode as
`uv sync` writes it, and PYTHONDONTWRITEBYTECODE as the environment has it (say which when
quoting). The import floor is computed from the plan's own resource types: importing pulumi
and exactly the provider classes the plan registers, nothing of mlstack. It is measured the
way the command runs, with cyclic garbage collection off (`mlstack.cli.commands`).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
PACKAGES = {"aws": "pulumi_aws", "aws-native": "pulumi_aws_native", "kubernetes": "pulumi_kubernetes"}
MEASURE = (
    "\nimport resource\nusage = resource.getrusage(resource.RUSAGE_SELF)\n"
    "print('BENCH', usage.ru_utime + usage.ru_stime, usage.ru_maxrss)"
)


def cpu_and_memory(code: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(CPU seconds, peak MiB) of `code` in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", code + MEASURE], cwd=cwd, capture_output=True, text=True, env=env, check=True
    )
    line = next(line for line in reversed(result.stdout.splitlines()) if line.startswith("BENCH "))
    _, seconds, kib = line.split()
    return float(seconds), int(kib) / 1024


def median(code: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> tuple[float, float]:
    runs = [cpu_and_memory(code, cwd, env) for _ in range(RUNS)]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def command_code(*args: str) -> str:
    """One `mlstack` command through the console entry point, as a user runs it."""
    return (
        "import sys\nfrom mlstack.cli import main\n"
        f"sys.argv = ['mlstack', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code"
    )


def plan_code(environment: str) -> str:
    return command_code("plan", environment, "--json", "-o", "/dev/null")


def without_bytecode(scratch: Path) -> dict[str, str]:
    """An environment where no module has bytecode: Python looks for it only under an empty prefix."""
    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(scratch / "no-bytecode")}


def resource_types(environment: str, plan_json: Path) -> list[str]:
    """The plan's resource types; the plan itself is written to `plan_json`."""
    subprocess.run(
        [sys.executable, "-m", "mlstack", "plan", environment, "--json", "-o", str(plan_json)], cwd=ROOT, check=True
    )
    return sorted({resource["type"] for resource in json.loads(plan_json.read_text())["resources"]})


def floor_code(types: list[str]) -> str:
    """Import pulumi and each provider class the plan's resource types name."""
    classes = set()
    for type_ in types:
        package, module, name = type_.split(":")
        base = PACKAGES.get(package)
        if base is None:
            continue  # pulumi's own (providers, dynamic) come with `import pulumi`
        if package == "kubernetes":
            group, version = module.split("/")
            classes.add(
                (f"{base}.{group}.{version}", name) if "." not in group else (f"{base}.apiextensions", "CustomResource")
            )
        else:
            python = module.split("/")[0].replace("-", "_")
            classes.add((f"{base}.{python}_" if python in ("lambda",) else f"{base}.{python}", name))
    lines = ["import gc", "gc.disable()", "import importlib", "import pulumi"]
    lines += [f"getattr(importlib.import_module({m!r}), {c!r})" for m, c in sorted(classes)]
    return "\n".join(lines)


def registration_code(types: list[str], plan_json: Path) -> str:
    """The import floor, then the plan's own resources (type, name, inputs) registered flat
    under Pulumi's bare mocks: what any Pulumi program registering them pays."""
    return floor_code(types) + (
        "\nimport json\nimport pulumi\nfrom pulumi.runtime import mocks, set_mocks, sync_await, stack\n"
        "class Echo(pulumi.runtime.Mocks):\n"
        "    def new_resource(self, args): return args.name, dict(args.inputs)\n"
        "    def call(self, args): return {}, None\n"
        "set_mocks(Echo(), project='bench', stack='floor', preview=True)\n"
        f"resources = json.load(open({str(plan_json)!r}))['resources']\n"
        "def program():\n"
        "    for r in resources:\n"
        "        if r['custom']: pulumi.CustomResource(r['type'], r['urn'], r['inputs'])\n"
        "        else: pulumi.ComponentResource(r['type'], r['urn'])\n"
        "sync_await._sync_await(stack.run_pulumi_func(program))"
    )


def copies_project(count: int, into: Path) -> Path:
    """The example with its SageMaker-served model `count` times (plan dev: the overlays name copy 0)."""
    into.mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py", "mlstack.lock.json"):
        shutil.copy(ROOT / name, into / name)
    shutil.copytree(ROOT / "stacks", into / "stacks")
    text = (ROOT / "mlstack.yaml").read_text()
    start, end = text.index("  - name: fraud-detector\n"), text.index("  - name: merchant-risk\n")
    block = text[start:end]
    copies = "".join(block.replace("name: fraud-detector\n", f"name: fraud-detector-{n}\n", 1) for n in range(count))
    text = (text[:start] + copies + text[end:]).replace(
        "      - name: fraud-detector\n", "      - name: fraud-detector-0\n"
    )
    (into / "mlstack.yaml").write_text(text)
    return into


def resources(cwd: Path) -> int:
    out = subprocess.run(
        [sys.executable, "-m", "mlstack", "plan", "dev", "--json"], cwd=cwd, capture_output=True, check=True
    )
    return len(json.loads(out.stdout)["resources"])


def wall(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def watch_replan() -> float:
    """Seconds of a watch's re-plan of the example after an edit that changes no pipeline definition."""
    code = (
        "import time\nfrom mlstack.plan.synth import synthesize\nsynthesize('prod')\n"
        "started = time.perf_counter()\nsynthesize('prod')\nprint('REPLAN', time.perf_counter() - started)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return float(next(line for line in out.splitlines() if line.startswith("REPLAN")).split()[1])


def main() -> None:
    written = os.environ.get("PYTHONDONTWRITEBYTECODE") == "1"
    print(f"{RUNS} runs each; PYTHONDONTWRITEBYTECODE={'1' if written else 'unset'}; installed packages compiled\n")
    with tempfile.TemporaryDirectory() as scratch:
        plan_json = Path(scratch) / "prod.json"
        types = resource_types("prod", plan_json)
        floor, floor_mib = median(floor_code(types))
        registered, _ = median(registration_code(types, plan_json))
        plan, plan_mib = median(plan_code("prod"))
        count = len(json.loads(plan_json.read_text())["resources"])
        print(f"import floor ({len(types)} resource types of plan prod) : {floor:5.2f} CPU s, {floor_mib:4.0f} MiB")
        print(f"  + its {count} resources registered under bare mocks : {registered:5.2f} CPU s")
        print(f"mlstack plan prod --json                       : {plan:5.2f} CPU s, {plan_mib:4.0f} MiB")
        print(f"plan / import floor, / registration floor      : {plan / floor:5.2f}, {plan / registered:5.2f}")
        bare = without_bytecode(Path(scratch))
        for name, code in (("plan prod", plan_code("prod")), ("check prod", command_code("check", "prod", "--json"))):
            compiled, uncompiled = median(code), median(code, env=bare)
            print(
                f"mlstack {name:<10} with / without bytecode   : {compiled[0]:5.2f} / {uncompiled[0]:5.2f} CPU s, "
                f"{compiled[1]:4.0f} / {uncompiled[1]:4.0f} MiB"
            )
        projects = [copies_project(count, Path(scratch) / f"m{count}") for count in (5, 30, 49)]
        counts = [resources(project) for project in projects]  # also warms the definition cache
        costs = [median(plan_code("dev"), cwd=project) for project in projects]
        for step in range(len(projects) - 1):
            (small, large), (before, after) = counts[step : step + 2], costs[step : step + 2]
            per = (after[0] - before[0]) / (large - small) * 1000
            print(
                f"plan dev, {small} -> {large} resources : {before[0]:5.2f} -> {after[0]:5.2f} CPU s, "
                f"{per:4.2f} ms per extra resource, peak {after[1]:4.0f} MiB at {large}"
            )
        large = projects[-1]
        cold = {**os.environ, "MLSTACK_CACHE_DIR": str(Path(scratch) / "cold")}
        seconds = wall([sys.executable, "-m", "mlstack", "plan", "dev", "--json"], large, cold)
        print(f"plan dev, 49+1 models, definition cache cold    : {seconds:5.2f} s wall")
    print(f"watch re-plan of the example (warm process)    : {watch_replan():5.2f} s")


if __name__ == "__main__":
    main()
