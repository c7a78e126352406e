"""Serving handlers for the model train.py writes, in the SageMaker framework containers.

The scikit-learn and XGBoost serving containers import this module as SAGEMAKER_PROGRAM
from SAGEMAKER_SUBMIT_DIRECTORY (/opt/ml/model/code: train.py puts a copy of this file
in <model dir>/code/, so it travels inside model.tar.gz) and call:

    model_fn(model_dir)              once per worker: model.joblib and features.json
    input_fn(body, content_type)     request body -> rows
    predict_fn(data, model)          rows -> predictions
    output_fn(prediction, accept)    predictions -> (response body, content type)

Requests carry features only, in features.json's order:
- text/csv: one row per line, no header, no label: what endpoint data capture records and
  what the data-quality baseline describes. An empty field is a missing value.
- application/json: {"instances": [...]} or a bare list; each instance is a list of values
  in that order, or an object {feature: value} (every feature present, null = missing;
  other keys, such as a record id, are ignored).
Booleans (true/false) are 1/0, as preprocess.py writes them for training.

Predictions, one per row: classification, the probability of the positive class (binary:
the second class of features.json's "classes", as evaluate.py scores it) or one probability
per class in that order (multiclass); regression, the predicted value.
- text/csv (also for */* or no Accept): one line per row, values comma-separated.
- application/json: {"predictions": [...]}.

Standalone (no project imports, Python 3.8 syntax) like the other step scripts; its file
names equal pipelines/layout.py's, which tests/test_step_scripts.py checks.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import joblib
import numpy as np

MODEL_FILE = "model.joblib"
FEATURES_FILE = "features.json"
CSV = "text/csv"
JSON = "application/json"
_BOOLEANS = {"true": 1.0, "false": 0.0}


class Model:
    """What model_fn loads: the estimator and its description from features.json."""

    def __init__(self, estimator: Any, description: dict[str, Any]) -> None:
        self.estimator = estimator
        self.features: list[str] = [str(name) for name in description["features"]]
        self.problem_type: str = description["problem_type"]
        self.classes: list[Any] | None = description.get("classes")


def model_fn(model_dir: str) -> Model:
    directory = Path(model_dir)
    for name in (MODEL_FILE, FEATURES_FILE):
        if not (directory / name).is_file():
            present = sorted(path.name for path in directory.iterdir()) if directory.is_dir() else []
            raise FileNotFoundError(f"no {name} in {directory}; it holds: {', '.join(present) or 'nothing'}")
    description = json.loads((directory / FEATURES_FILE).read_text())
    return Model(joblib.load(directory / MODEL_FILE), description)


def _media_type(value: str | None) -> str:
    """'text/csv; charset=utf-8' -> 'text/csv'; empty or */* -> ''."""
    media = (value or "").split(";")[0].strip().lower()
    return "" if media == "*/*" else media


def _number(value: Any) -> float:
    """A feature value as a float: None and empty strings are missing (NaN)."""
    if value is None:
        return math.nan
    if isinstance(value, (bool, int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return math.nan
        if text.lower() in _BOOLEANS:
            return _BOOLEANS[text.lower()]
        return float(text)  # ValueError for anything else
    raise ValueError(f"unsupported value type {type(value).__name__}")


def _row(values: list[Any], where: str) -> list[float]:
    row = []
    for column, value in enumerate(values, start=1):
        try:
            row.append(_number(value))
        except ValueError:
            raise ValueError(f"{where}, value {column}: {value!r} is not a number") from None
    return row


def _matrix(rows: list[list[float]]) -> np.ndarray:
    if not rows:
        raise ValueError("the request has no rows")
    widths = sorted({len(row) for row in rows})
    if len(widths) > 1:
        raise ValueError(f"rows have different numbers of values: {', '.join(map(str, widths))}")
    return np.asarray(rows, dtype=np.float64)


def _parse_csv(text: str) -> np.ndarray:
    rows = []
    for number, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not fields:  # blank line
            continue
        try:
            rows.append(_row(fields, f"line {number}"))
        except ValueError as error:
            hint = " (CSV requests have no header row)" if not rows else ""
            raise ValueError(f"{error}{hint}") from None
    return _matrix(rows)


def _parse_json(text: str) -> np.ndarray | list[dict[str, Any]]:
    document = json.loads(text)
    if isinstance(document, dict):
        if "instances" not in document:
            raise ValueError('a JSON request is {"instances": [...]} or a list of instances')
        document = document["instances"]
    if not isinstance(document, list) or not document:
        raise ValueError("the request has no instances")
    if all(isinstance(instance, dict) for instance in document):
        return document  # by feature name: predict_fn picks the model's features (and converts them)
    if all(isinstance(instance, list) for instance in document):
        return _matrix([_row(instance, f"instance {number}") for number, instance in enumerate(document, start=1)])
    raise ValueError("each instance must be a list of feature values or an object {feature: value}")


def input_fn(body: str | bytes | bytearray, content_type: str | None) -> np.ndarray | list[dict[str, Any]]:
    """The request as rows: a 2-D float array (values in feature order) or records by feature name."""
    text = bytes(body).decode("utf-8-sig") if isinstance(body, (bytes, bytearray)) else str(body)
    media = _media_type(content_type) or CSV
    if media == CSV:
        return _parse_csv(text)
    if media == JSON:
        return _parse_json(text)
    raise ValueError(f"unsupported content type {content_type!r}; send {CSV} or {JSON}")


def features_matrix(data: Any, features: list[str]) -> np.ndarray:
    """input_fn's rows as the 2-D float array the estimator takes, columns in feature order."""
    if isinstance(data, list) and all(isinstance(record, dict) for record in data):
        rows = []
        for number, record in enumerate(data, start=1):
            missing = [name for name in features if name not in record]
            if missing:
                raise ValueError(f"instance {number} lacks feature(s): {', '.join(missing)}")
            row = []
            for name in features:  # other keys (a record id, ...) are not the model's business
                try:
                    row.append(_number(record[name]))
                except ValueError:
                    raise ValueError(f"instance {number}, feature {name!r}: {record[name]!r} is not a number") from None
            rows.append(row)
        data = rows
    matrix = np.asarray(data, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != len(features):
        given = matrix.shape[1] if matrix.ndim == 2 else "?"
        raise ValueError(f"rows have {given} values; the model takes {len(features)}: {', '.join(features)}")
    return matrix


def predict_fn(data: Any, model: Model) -> np.ndarray:
    """Positive-class probability (binary), per-class probabilities (multiclass) or the value."""
    matrix = features_matrix(data, model.features)
    if model.problem_type == "Regression":
        return np.asarray(model.estimator.predict(matrix), dtype=np.float64)
    scores = np.asarray(model.estimator.predict_proba(matrix), dtype=np.float64)
    return scores[:, 1] if model.problem_type == "BinaryClassification" else scores


def _accepted(accept: str | None) -> str:
    """The first supported media type of an Accept header; CSV for none or */*."""
    for part in (accept or "").split(","):
        media = _media_type(part)
        if media in ("", CSV, JSON):
            return media or CSV
    raise ValueError(f"unsupported accept type {accept!r}; ask for {CSV} or {JSON}")


def output_fn(prediction: Any, accept: str | None) -> tuple[str, str]:
    """(body, content type): the containers turn the pair into the response."""
    media = _accepted(accept)
    values = np.asarray(prediction, dtype=np.float64)
    if media == JSON:
        return json.dumps({"predictions": values.tolist()}), JSON
    rows = values.reshape(len(values), -1)  # one line per row, even for one value per row
    return "".join(",".join(repr(float(value)) for value in row) + "\n" for row in rows), CSV
