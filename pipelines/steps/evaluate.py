"""Processing step: score the trained model on the test split, write evaluation.json.

Runs standalone (no project imports) in a processing container that has the training
framework: an XGBoost model needs xgboost to load. Paths default to the container paths
in pipelines/layout.py, which tests/test_step_scripts.py keeps equal. The output layout is
the one the pipeline's JsonGet reads (`metrics.<name>.value`):

    {"metrics": {"<name>": {"value": <float>}, ...}, "problem_type": "...", "rows": <int>}

METRICS lists what is written per problem type (mlstack's spec reads that table from this
file to check a gate's metric, so edit it here only). Classification: accuracy, auc, f1,
log_loss, precision, recall (binary: of the positive class, the second label in sorted
order; multiclass: macro averages, AUC one-vs-rest). Regression: mae, mse, r2, rmse.
train.py prints the same metrics for the validation split (it imports compute_metrics).

The test split is encoded with the inference.py inside model.tar.gz, the code that will
serve the model: what the gate judges is what the endpoint computes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

MODEL_DIR = "/opt/ml/processing/model"
TEST_DIR = "/opt/ml/processing/test"
OUTPUT_DIR = "/opt/ml/processing/evaluation"
MODEL_ARCHIVE = "model.tar.gz"  # what SageMaker makes of the training job's SM_MODEL_DIR
SPLIT_FILE = "data.csv"
EVALUATION_FILE = "evaluation.json"
MODEL_FILE = "model.joblib"
FEATURES_FILE = "features.json"
INFERENCE_CODE = "code/inference.py"  # train.py's copy inside model.tar.gz
# Problem type -> the metrics evaluation.json has. A plain literal: mlstack's spec reads it.
METRICS = {
    "BinaryClassification": ("accuracy", "auc", "f1", "log_loss", "precision", "recall"),
    "MulticlassClassification": ("accuracy", "auc", "f1", "log_loss", "precision", "recall"),
    "Regression": ("mae", "mse", "r2", "rmse"),
}


class DataError(Exception):
    """The model or the test split cannot be evaluated; the message says why."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--model-dir", default=MODEL_DIR, help=f"directory holding {MODEL_ARCHIVE}")
    parser.add_argument("--test-dir", default=TEST_DIR, help=f"directory holding the test {SPLIT_FILE}")
    parser.add_argument("--output-dir", default=OUTPUT_DIR, help=f"where {EVALUATION_FILE} is written")
    return parser


def load_model(model_dir: Path) -> tuple[Any, dict[str, Any], Any]:
    """The estimator, its features.json and the archive's inference module."""
    archive = model_dir / MODEL_ARCHIVE
    if not archive.is_file():
        raise DataError(f"no {MODEL_ARCHIVE} in {model_dir}")
    with tempfile.TemporaryDirectory() as scratch, tarfile.open(archive, "r:gz") as tar:
        # Copy out just these files by name: nothing in the archive chooses where we write.
        members = {os.path.normpath(member.name): member for member in tar.getmembers() if member.isfile()}
        for name in (MODEL_FILE, FEATURES_FILE, INFERENCE_CODE):
            source = tar.extractfile(members[os.path.normpath(name)]) if os.path.normpath(name) in members else None
            if source is None:
                raise DataError(f"{archive} has no {name}; it holds: {', '.join(sorted(members)) or 'nothing'}")
            with source, open(Path(scratch) / Path(name).name, "wb") as target:
                shutil.copyfileobj(source, target)
        description = json.loads((Path(scratch) / FEATURES_FILE).read_text())
        model = single_threaded(joblib.load(Path(scratch) / MODEL_FILE))
        spec = importlib.util.spec_from_file_location("served_inference", Path(scratch) / Path(INFERENCE_CODE).name)
        assert spec is not None and spec.loader is not None
        inference = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(inference)
    return model, description, inference


def single_threaded(model: Any) -> Any:
    """`model` predicting on one thread: a forest's threads add up tree votes in whatever order
    they finish, so its scores, and evaluation.json's bytes, could differ from run to run."""
    get_params = getattr(model, "get_params", None)
    if get_params is not None:
        threads = {name: 1 for name in get_params() if name == "n_jobs" or name.endswith("__n_jobs")}
        if threads:
            model.set_params(**threads)
    return model


def compute_metrics(problem_type: str, model: Any, features: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """METRICS[problem_type] of the model on these rows (train.py uses it for the validation split)."""
    from sklearn import metrics

    predicted = model.predict(features)
    if problem_type == "Regression":
        mse = float(metrics.mean_squared_error(target, predicted))
        return {
            "mae": float(metrics.mean_absolute_error(target, predicted)),
            "mse": mse,
            "r2": float(metrics.r2_score(target, predicted)),
            "rmse": float(np.sqrt(mse)),
        }
    scores = model.predict_proba(features)
    labels = list(range(scores.shape[1]))
    try:  # binary: AUC of the positive class's score; multiclass: macro one-vs-rest
        if len(labels) == 2:
            auc = metrics.roc_auc_score(target, scores[:, 1])
        else:
            auc = metrics.roc_auc_score(target, scores, multi_class="ovr", average="macro", labels=labels)
    except ValueError as error:  # e.g. a class missing from the split
        raise DataError(f"AUC is undefined on this split: {error}") from None
    average = "binary" if problem_type == "BinaryClassification" else "macro"
    averaged = {"f1": metrics.f1_score, "precision": metrics.precision_score, "recall": metrics.recall_score}
    results = {
        name: score(target, predicted, average=average, labels=labels, zero_division=0)
        for name, score in averaged.items()
    }
    results.update(
        accuracy=metrics.accuracy_score(target, predicted),
        auc=auc,
        log_loss=metrics.log_loss(target, scores, labels=labels),
    )
    return {name: float(value) for name, value in sorted(results.items())}


def evaluate(model_dir: Path, test_dir: Path) -> dict[str, Any]:
    model, description, inference = load_model(model_dir)
    label, features, problem_type = description["label"], description["features"], description["problem_type"]
    categories = description.get("categories") or {}
    path = test_dir / SPLIT_FILE
    if not path.is_file():
        raise DataError(f"no {SPLIT_FILE} in {test_dir}")
    # Only an empty field is missing, as train.py reads its splits: a category may be called "NA".
    test = pd.read_csv(path, dtype={name: str for name in categories}, keep_default_na=False, na_values=[""])
    missing = [column for column in [label, *features] if column not in test.columns]
    if missing:
        raise DataError(f"test split lacks column(s) the model was trained with: {', '.join(missing)}")
    if test.empty:
        raise DataError(f"{path} has no rows")
    if problem_type == "Regression":
        target = test[label].to_numpy(dtype=np.float64)
    else:
        index = {value: position for position, value in enumerate(description["classes"])}
        unknown = sorted({str(value) for value in test[label] if value not in index})
        if unknown:
            raise DataError(f"test labels the model never saw: {', '.join(unknown[:10])}")
        target = test[label].map(index).to_numpy(dtype=np.int64)
    scores = compute_metrics(problem_type, model, inference.encode_frame(test, features, categories), target)
    bad = [name for name, value in scores.items() if not math.isfinite(value)]
    if bad:  # JSON has no NaN, and a condition on NaN would be meaningless
        raise DataError(f"metric(s) not finite on {len(test)} test rows: {', '.join(bad)}")
    return {
        "metrics": {name: {"value": value} for name, value in scores.items()},
        "problem_type": problem_type,
        "rows": len(test),
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        report = evaluate(Path(args.model_dir), Path(args.test_dir))
    except DataError as error:
        print(f"evaluate: error: {error}", file=sys.stderr)
        return 1
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, sort_keys=True) + "\n"
    (output / EVALUATION_FILE).write_text(text)
    print(f"wrote {output / EVALUATION_FILE}:\n{text}", end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
