"""What the bundled training script (pipelines/steps/train.py) accepts as hyperparameters.

The tables are train.py's own (RENAMED, COMMON_KINDS, HYPERPARAMETER_KINDS), read from the
script without importing it (step_scripts.py). The checks below mirror the converters train.py applies to
the string SageMaker passes (tests/test_spec_training_rules.py keeps them equal).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .locate import did_you_mean
from .step_scripts import bundled_script, literals

ALGORITHM = "algorithm"
BUNDLED_ENTRY_POINT = "train.py"
# Also hyperparameters of the job, but set by mlstack, never by the spec (pipelines/inputs.py).
PROBLEM_TYPE_NAMES = ("problem_type", "problem-type")
RESERVED_PREFIX = "sagemaker_"


@dataclass(frozen=True)
class ScriptTable:
    renamed: Mapping[str, str]
    common: Mapping[str, str]
    algorithms: Mapping[str, Mapping[str, str]]

    def accepted(self, algorithm: str) -> dict[str, str]:
        """Name -> kind of every hyperparameter `algorithm` takes (besides `algorithm`)."""
        return {**self.common, **self.algorithms[algorithm]}


def train_script() -> Path:
    return bundled_script(BUNDLED_ENTRY_POINT)


def read_table(path: Path) -> ScriptTable:
    """The three literal tables assigned at the top level of `path`."""
    found = literals(path, {"RENAMED", "COMMON_KINDS", "HYPERPARAMETER_KINDS"})
    return ScriptTable(found["RENAMED"], found["COMMON_KINDS"], found["HYPERPARAMETER_KINDS"])  # type: ignore[arg-type]


@cache
def bundled_table() -> ScriptTable:
    return read_table(train_script())


# --- the converters' checks: kind -> (what it takes, in words; check of the passed string) ----------
def _int(value: str) -> None:
    if not float(value).is_integer():
        raise ValueError(value)


def _optional_int(value: str) -> None:
    if value.strip().lower() not in ("none", "null"):
        _int(value)


def _count_or_fraction(value: str) -> None:
    if not value.strip().isdigit():
        float(value)


def _max_features(value: str) -> None:
    if value.strip().lower() not in ("sqrt", "log2", "none", "null"):
        _count_or_fraction(value)


def _bool_or_auto(value: str) -> None:
    if value.strip().lower() not in ("auto", "true", "false"):
        raise ValueError(value)


KINDS: dict[str, tuple[str, Callable[[str], object] | None]] = {
    "int": ("an integer", _int),
    "optional_int": ("an integer or none", _optional_int),
    "float": ("a number", float),
    "str": ("a string", None),
    "count_or_fraction": ("a count (integer) or a fraction (number)", _count_or_fraction),
    "max_features": ("sqrt, log2, none, a count (integer) or a fraction (number)", _max_features),
    "bool_or_auto": ("true, false or auto", _bool_or_auto),
}


def passed_string(value: str | int | float | bool) -> str:
    """What the script receives: SageMaker passes every hyperparameter as `--name str(value)`."""
    return str(value)


def accepts(kind: str, raw: str) -> bool:
    check = KINDS[kind][1]
    if check is None:
        return True
    try:
        check(raw)
    except (ValueError, OverflowError):
        return False
    return True


def problems(
    hyperparameters: Mapping[str, str | int | float | bool], table: ScriptTable | None = None
) -> list[tuple[str, str, str]]:
    """(key at fault or '', kind of error, message) for hyperparameters train.py would reject."""
    table = table or bundled_table()
    found: list[tuple[str, str, str]] = []
    algorithms = sorted(table.algorithms)
    by_name = {key.replace("-", "_"): key for key in hyperparameters}
    if len(by_name) < len(hyperparameters):
        seen: dict[str, str] = {}
        for key in hyperparameters:
            name = key.replace("-", "_")
            if name in seen:
                found.append((key, "hyperparameter_twice", f"'{key}' and '{seen[name]}' are the same hyperparameter"))
            seen.setdefault(name, key)
    if ALGORITHM not in by_name:
        found.append(
            (
                "",
                "algorithm_missing",
                f"the bundled train.py needs hyperparameter 'algorithm': one of {', '.join(algorithms)}",
            )
        )
        return found
    algorithm_key = by_name[ALGORITHM]
    algorithm = passed_string(hyperparameters[algorithm_key])
    if algorithm not in table.algorithms:
        found.append(
            (
                algorithm_key,
                "algorithm",
                f"'{algorithm}' is not an algorithm of the bundled train.py "
                f"(allowed: {', '.join(algorithms)}{did_you_mean(algorithm, algorithms)})",
            )
        )
        return found
    accepted = table.accepted(algorithm)
    set_by: dict[str, str] = {}
    for name, key in sorted(by_name.items()):
        if name == ALGORITHM:
            continue
        if key in PROBLEM_TYPE_NAMES or name in PROBLEM_TYPE_NAMES:
            found.append(
                (
                    key,
                    "hyperparameter",
                    "the problem type comes from the model's problem_type; remove it here",
                )
            )
            continue
        if name.startswith(RESERVED_PREFIX):
            found.append(
                (
                    key,
                    "hyperparameter",
                    f"'{key}': {RESERVED_PREFIX}* hyperparameters are reserved by SageMaker",
                )
            )
            continue
        if name not in accepted:
            allowed = sorted(accepted)
            found.append(
                (
                    key,
                    "hyperparameter",
                    f"'{key}' is not a hyperparameter of algorithm '{algorithm}'{did_you_mean(name, allowed)} "
                    f"(allowed: {', '.join(allowed)})",
                )
            )
            continue
        parameter = table.renamed.get(name, name)
        if parameter in set_by:
            found.append((key, "hyperparameter", f"'{set_by[parameter]}' and '{key}' both set {parameter}; give one"))
            continue
        set_by[parameter] = key
        kind = accepted[name]
        raw = passed_string(hyperparameters[key])
        if not accepts(kind, raw):
            found.append((key, "hyperparameter_type", f"'{key}' takes {KINDS[kind][0]}, not '{raw}'"))
    return found


# Algorithms that need a library only one framework's training image has (train.py imports it lazily).
IMAGE_OF_ALGORITHM = {"xgboost": "xgboost"}
CLASSIFICATION_OBJECTIVES = ("binary:", "multi:")


def fit_problems(
    hyperparameters: Mapping[str, str | int | float | bool], framework: str, problem_type: str
) -> list[tuple[str, str, str]]:
    """(key, kind, message) for valid hyperparameters train.py still refuses for this image or problem type."""
    by_name = {key.replace("-", "_"): key for key in hyperparameters}
    algorithm = passed_string(hyperparameters.get(by_name.get(ALGORITHM, ""), ""))
    found: list[tuple[str, str, str]] = []
    image = IMAGE_OF_ALGORITHM.get(algorithm)
    if image is not None and framework != image:
        found.append(
            (
                by_name[ALGORITHM],
                "algorithm_image",
                f"algorithm '{algorithm}' needs framework: {image}; the {framework} training image has no {algorithm}",
            )
        )
    classification = problem_type != "Regression"
    if "class_weight" in by_name and not classification:
        found.append((by_name["class_weight"], "hyperparameter", "'class_weight' applies to classification only"))
    objective = passed_string(hyperparameters.get(by_name.get("objective", ""), ""))
    if algorithm == "xgboost" and objective and classification != objective.startswith(CLASSIFICATION_OBJECTIVES):
        found.append(
            (
                by_name["objective"],
                "hyperparameter",
                f"objective '{objective}' does not fit problem type {problem_type}",
            )
        )
    return found
