"""Training script (SageMaker script mode): tree models from scikit-learn or XGBoost.

SageMaker runs `python train.py --<name> <value> ...`, one pair per hyperparameter, with
the splits in SM_CHANNEL_TRAIN / SM_CHANNEL_VALIDATION (<channel>/data.csv, label first)
and tars SM_MODEL_DIR into model.tar.gz afterwards. Standalone (no project imports);
the file names equal pipelines/layout.py's, which tests/test_step_scripts.py checks.

Hyperparameter `algorithm` picks the estimator; every other hyperparameter must be one
that estimator takes, so a typo fails the job instead of silently training on defaults.
Class labels are encoded as 0..k-1 in sorted order for every algorithm (XGBoost needs
that); features.json keeps the original labels under "classes" to decode predictions.

The model directory also gets code/inference.py, a copy of the inference.py next to this
script (both come in the code channel): the serving containers load the model with it.
Categorical columns (preprocess.py's columns.json) are encoded with that inference.py, the
categories seen in the train split recorded in features.json; the validation metrics are
evaluate.py's (also beside this script), the ones the quality gate reads on the test split.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

SPLIT_FILE = "data.csv"
COLUMNS_FILE = "columns.json"  # preprocess.py's, beside each split's data.csv
MODEL_FILE = "model.joblib"
FEATURES_FILE = "features.json"
INFERENCE_SCRIPT = "inference.py"  # copied from beside this script into <model dir>/<MODEL_CODE_DIR>/
EVALUATION_SCRIPT = "evaluate.py"  # beside this script too: the metrics
MODEL_CODE_DIR = "code"
PROBLEM_TYPES = ("BinaryClassification", "MulticlassClassification", "Regression")
DEFAULT_SEED = 42

log = logging.getLogger("train")


class UsageError(Exception):
    """Bad hyperparameters or arguments."""


class DataError(Exception):
    """The channels' data cannot train the requested model."""


class SetupError(Exception):
    """The job lacks something besides data and hyperparameters (the inference code)."""


def sibling(script: str) -> Path:
    """A step script beside this one: the deploying program uploads them together to the code prefix."""
    path = Path(__file__).resolve().parent / script
    if not path.is_file():
        raise SetupError(
            f"no {script} beside {Path(__file__).name} in {path.parent}: the model could not be served "
            "or evaluated; upload it with the other step scripts"
        )
    return path


def load_sibling(script: str) -> Any:
    path = sibling(script)
    spec = importlib.util.spec_from_file_location(f"mlstack_step_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _int(value: str) -> int:
    number = float(value)  # SageMaker may pass 200 as "200" or "200.0"
    if not number.is_integer():
        raise ValueError(f"{value!r} is not an integer")
    return int(number)


def _optional_int(value: str) -> int | None:
    return None if value.strip().lower() in ("none", "null") else _int(value)


def _count_or_fraction(value: str) -> int | float:  # scikit-learn reads an int as a count, a float as a fraction
    return int(value) if value.strip().isdigit() else float(value)


def _max_features(value: str) -> str | int | float | None:
    lowered = value.strip().lower()
    if lowered in ("sqrt", "log2"):
        return lowered
    return None if lowered in ("none", "null") else _count_or_fraction(value)


def _bool_or_auto(value: str) -> bool | str:
    choices: dict[str, bool | str] = {"auto": "auto", "true": True, "false": False}
    if value.strip().lower() not in choices:
        raise ValueError(f"{value!r} is not true, false or auto")
    return choices[value.strip().lower()]


# Hyperparameter -> kind, per algorithm; CONVERTERS turns each kind into the converter from the
# string SageMaker passes. Plain literals on purpose: mlstack's spec reads these three tables from
# this file (with `ast`, without importing it) to validate a spec's hyperparameters before any job
# runs, so edit them here only. The XGBoost names are the built-in algorithm's; RENAMED maps them
# to the scikit-learn API's parameter names.
RENAMED = {
    "eta": "learning_rate",
    "num_round": "n_estimators",
    "alpha": "reg_alpha",
    "lambda": "reg_lambda",
    "seed": "random_state",
}
COMMON_KINDS = {"seed": "int"}
HYPERPARAMETER_KINDS = {
    "xgboost": {
        "max_depth": "int",
        "num_round": "int",
        "n_estimators": "int",
        "max_bin": "int",
        "early_stopping_rounds": "int",
        "eta": "float",
        "learning_rate": "float",
        "subsample": "float",
        "colsample_bytree": "float",
        "min_child_weight": "float",
        "scale_pos_weight": "float",
        "gamma": "float",
        "alpha": "float",
        "lambda": "float",
        "objective": "str",
        "tree_method": "str",
        "eval_metric": "str",
    },
    "hist_gradient_boosting": {
        "max_iter": "int",
        "min_samples_leaf": "int",
        "max_bins": "int",
        "max_depth": "optional_int",
        "max_leaf_nodes": "optional_int",
        "learning_rate": "float",
        "l2_regularization": "float",
        "early_stopping": "bool_or_auto",
        "class_weight": "str",
    },
    "random_forest": {
        "n_estimators": "int",
        "n_jobs": "int",
        "max_depth": "optional_int",
        "min_samples_split": "count_or_fraction",
        "min_samples_leaf": "count_or_fraction",
        "max_features": "max_features",
        "class_weight": "str",
    },
}
CONVERTERS: dict[str, Callable[[str], Any]] = {
    "int": _int,
    "optional_int": _optional_int,
    "float": float,
    "str": str,
    "count_or_fraction": _count_or_fraction,
    "max_features": _max_features,
    "bool_or_auto": _bool_or_auto,
}
COMMON: dict[str, Callable[[str], Any]] = {name: CONVERTERS[kind] for name, kind in COMMON_KINDS.items()}
HYPERPARAMETERS: dict[str, dict[str, Callable[[str], Any]]] = {
    algorithm: {name: CONVERTERS[kind] for name, kind in kinds.items()}
    for algorithm, kinds in HYPERPARAMETER_KINDS.items()
}


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--algorithm", required=True, choices=sorted(HYPERPARAMETERS))
    parser.add_argument(
        "--problem-type", "--problem_type", dest="problem_type", default=PROBLEM_TYPES[0], choices=PROBLEM_TYPES
    )
    parser.add_argument("--train", default=env("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    parser.add_argument("--validation", default=env("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation"))
    parser.add_argument("--model-dir", default=env("SM_MODEL_DIR", "/opt/ml/model"))
    return parser


def parse_hyperparameters(tokens: list[str]) -> dict[str, str]:
    """The arguments argparse did not know: `--name value` or `--name=value` pairs."""
    found: dict[str, str] = {}
    position = 0
    while position < len(tokens):
        token = tokens[position]
        if not token.startswith("--") or token == "--":
            raise UsageError(f"unexpected argument {token!r}; hyperparameters come as --name value")
        name, equals, value = token[2:].partition("=")
        if not equals:
            if position + 1 == len(tokens) or tokens[position + 1].startswith("--"):
                raise UsageError(f"hyperparameter --{name} has no value")
            position += 1
            value = tokens[position]
        position += 1
        name = name.replace("-", "_")
        if name in found:
            raise UsageError(f"hyperparameter {name} given twice")
        found[name] = value
    return found


def build_estimator(algorithm: str, problem_type: str, hyperparameters: dict[str, str]) -> Any:
    table = {**COMMON, **HYPERPARAMETERS[algorithm]}
    kwargs: dict[str, Any] = {"random_state": DEFAULT_SEED}  # deterministic unless a seed is given
    set_by: dict[str, str] = {}
    for name, raw in sorted(hyperparameters.items()):
        if name.startswith("sagemaker_"):
            continue  # reserved by SageMaker (program, region, ...), not meant for the estimator
        if name not in table:
            known = ", ".join(sorted(table))
            raise UsageError(f"unknown hyperparameter '{name}' for algorithm '{algorithm}'; it takes: {known}")
        parameter = RENAMED.get(name, name)
        if parameter in set_by:
            raise UsageError(f"hyperparameters '{set_by[parameter]}' and '{name}' both set {parameter}; give one")
        try:
            kwargs[parameter] = table[name](raw)
        except ValueError as error:
            raise UsageError(f"hyperparameter '{name}': {error}") from None
        set_by[parameter] = name
    classification = problem_type != "Regression"
    if "class_weight" in kwargs and not classification:
        raise UsageError("hyperparameter 'class_weight' applies to classification only")
    if algorithm == "xgboost":
        import xgboost  # only this path needs it: the scikit-learn image has no XGBoost

        objective = kwargs.get("objective")
        if objective and classification != objective.startswith(("binary:", "multi:")):
            raise UsageError(f"objective '{objective}' does not fit problem type {problem_type}")
        return (xgboost.XGBClassifier if classification else xgboost.XGBRegressor)(**kwargs)
    if algorithm == "hist_gradient_boosting":
        from sklearn import ensemble

        model = ensemble.HistGradientBoostingClassifier if classification else ensemble.HistGradientBoostingRegressor
        return model(**kwargs)
    from sklearn import ensemble, impute, pipeline

    kwargs.setdefault("n_jobs", -1)
    forest = (ensemble.RandomForestClassifier if classification else ensemble.RandomForestRegressor)(**kwargs)
    # Older scikit-learn forests reject missing values; the boosters handle them natively.
    return pipeline.Pipeline([("impute", impute.SimpleImputer(strategy="median")), ("model", forest)])


def categorical_columns(directory: str) -> list[str]:
    path = Path(directory) / COLUMNS_FILE
    if not path.is_file():  # splits written before preprocess.py wrote columns.json: all numeric
        return []
    return [str(name) for name in json.loads(path.read_text()).get("categorical", [])]


def load_split(directory: str, channel: str, categorical: list[str]) -> pd.DataFrame:
    path = Path(directory) / SPLIT_FILE
    if not path.is_file():
        raise DataError(f"{channel} channel: no {SPLIT_FILE} in {directory}")
    # Only an empty field is missing: a category may be called "NA".
    frame = pd.read_csv(path, dtype={name: str for name in categorical}, keep_default_na=False, na_values=[""])
    if frame.empty or frame.shape[1] < 2:
        raise DataError(f"{channel} channel: {path} needs rows, a label column and at least one feature column")
    non_numeric = [
        str(column)
        for column in frame.columns[1:]
        if column not in categorical and not pd.api.types.is_numeric_dtype(frame[column])
    ]
    if non_numeric:
        raise DataError(f"{channel} channel: non-numeric feature column(s): {', '.join(non_numeric)}")
    return frame


def encode_labels(labels: pd.Series, classes: list[Any], channel: str) -> np.ndarray:
    index = {value: position for position, value in enumerate(classes)}
    unknown = sorted({str(value) for value in labels if value not in index})
    if unknown:
        raise DataError(f"{channel} labels not in the training split: {', '.join(unknown[:10])}")
    return labels.map(index).to_numpy(dtype=np.int64)


def fit_categories(frame: pd.DataFrame, categorical: list[str], inference: Any) -> dict[str, list[str]]:
    """Per categorical column, its categories in the train split, sorted: a category's code is its position."""
    found = {}
    for name in categorical:
        texts = {inference.category_text(value) for value in frame[name].tolist()}
        found[name] = sorted(text for text in texts if text is not None)
    return found


def train(args: argparse.Namespace, hyperparameters: dict[str, str]) -> dict[str, float]:
    estimator = build_estimator(args.algorithm, args.problem_type, hyperparameters)  # fail fast, before the data
    inference, evaluation = load_sibling(INFERENCE_SCRIPT), load_sibling(EVALUATION_SCRIPT)
    categorical = categorical_columns(args.train)
    train_frame = load_split(args.train, "train", categorical)
    validation_frame = load_split(args.validation, "validation", categorical)
    if list(validation_frame.columns) != list(train_frame.columns):
        raise DataError("train and validation splits have different columns")
    label, features = str(train_frame.columns[0]), [str(column) for column in train_frame.columns[1:]]
    classes: list[Any] | None = None
    if args.problem_type == "Regression":
        if not pd.api.types.is_numeric_dtype(train_frame[label]) or pd.api.types.is_bool_dtype(train_frame[label]):
            raise DataError(f"Regression needs a numeric label; '{label}' is {train_frame[label].dtype}")
        y_train, y_validation = (frame[label].to_numpy(dtype=np.float64) for frame in (train_frame, validation_frame))
    else:
        classes = sorted(pd.unique(train_frame[label]).tolist())
        if len(classes) < 2 or (args.problem_type == "BinaryClassification" and len(classes) != 2):
            shown = ", ".join(map(str, classes[:10]))
            raise DataError(f"{args.problem_type} cannot train on {len(classes)} label value(s) in '{label}': {shown}")
        y_train = encode_labels(train_frame[label], classes, "train")
        y_validation = encode_labels(validation_frame[label], classes, "validation")
    categories = fit_categories(train_frame, [name for name in features if name in categorical], inference)
    x_train, x_validation = (
        inference.encode_frame(frame, features, categories) for frame in (train_frame, validation_frame)
    )
    log.info("training %s (%s) on %d rows, %d features", args.algorithm, args.problem_type, *x_train.shape)
    if estimator.get_params().get("early_stopping_rounds"):  # XGBoost stops on the validation split
        estimator.fit(x_train, y_train, eval_set=[(x_validation, y_validation)], verbose=False)
    else:
        estimator.fit(x_train, y_train)
    try:
        results = evaluation.compute_metrics(args.problem_type, estimator, x_validation, y_validation)
    except evaluation.DataError as error:
        raise DataError(f"validation split: {error}") from None
    model_dir = Path(args.model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(estimator, model_dir / MODEL_FILE)
    description = {"algorithm": args.algorithm, "classes": classes, "features": features, "label": label}
    description["categories"] = categories
    description["problem_type"] = args.problem_type
    (model_dir / FEATURES_FILE).write_text(json.dumps(description, indent=2, sort_keys=True) + "\n")
    # Where the framework serving containers look for inference code inside model.tar.gz.
    (model_dir / MODEL_CODE_DIR).mkdir(exist_ok=True)
    shutil.copyfile(inference.__file__, model_dir / MODEL_CODE_DIR / INFERENCE_SCRIPT)
    return results


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stdout)
    args, rest = build_parser().parse_known_args(argv)
    try:
        results = train(args, parse_hyperparameters(rest))
    except (UsageError, DataError, SetupError) as error:
        print(f"train: error: {error}", file=sys.stderr)
        return 1
    for name, value in sorted(results.items()):
        print(f"validation_{name}={value:.6f}")  # one line per metric, for SageMaker metric definitions
    return 0


if __name__ == "__main__":
    sys.exit(main())
