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
Booleans (true/false) are 1/0, as preprocess.py writes them for training. A categorical
feature (features.json's "categories": feature -> the categories seen in training) takes
its category as text and becomes the category's position in that list; a category never
seen in training, like an empty field, is a missing value. train.py and evaluate.py encode
with this module too (encode_frame), so training, the quality gate and serving agree.

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
        self.categories: dict[str, list[str]] = dict(description.get("categories") or {})


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


def category_text(value: Any) -> str | None:
    """A categorical value as the text its category is known by; None when missing.

    5411, 5411.0 and "5411" are one category (a CSV column of codes with a gap reads as floats).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


class Rows(list):  # type: ignore[type-arg]
    """input_fn's rows in feature order: raw values (CSV text, JSON values), converted in predict_fn,
    which knows which features are categorical. `where` names each row for messages."""

    def __init__(self, rows: list[list[Any]], where: list[str], hint: str = "") -> None:
        super().__init__(rows)
        self.where = where
        self.hint = hint  # added to a bad first row's message (CSV: no header row)


def _parse_csv(text: str) -> Rows:
    rows, where = [], []
    for number, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        if fields:  # not a blank line
            rows.append(fields)
            where.append(f"line {number}")
    return _checked(Rows(rows, where, " (CSV requests have no header row)"))


def _checked(rows: Rows) -> Rows:
    if not rows:
        raise ValueError("the request has no rows")
    widths = sorted({len(row) for row in rows})
    if len(widths) > 1:
        raise ValueError(f"rows have different numbers of values: {', '.join(map(str, widths))}")
    return rows


def _parse_json(text: str) -> Rows | list[dict[str, Any]]:
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
        return _checked(Rows(document, [f"instance {number}" for number in range(1, len(document) + 1)]))
    raise ValueError("each instance must be a list of feature values or an object {feature: value}")


def input_fn(body: str | bytes | bytearray, content_type: str | None) -> Rows | list[dict[str, Any]]:
    """The request as rows: values in feature order, or records by feature name."""
    text = bytes(body).decode("utf-8-sig") if isinstance(body, (bytes, bytearray)) else str(body)
    media = _media_type(content_type) or CSV
    if media == CSV:
        return _parse_csv(text)
    if media == JSON:
        return _parse_json(text)
    raise ValueError(f"unsupported content type {content_type!r}; send {CSV} or {JSON}")


class _Encoder:
    """One feature's conversion to the float the estimator takes."""

    def __init__(self, name: str, categories: list[str] | None) -> None:
        self.name = name
        self.codes = None if categories is None else {category: float(code) for code, category in enumerate(categories)}

    def __call__(self, value: Any) -> float:
        if self.codes is None:
            return _number(value)
        text = category_text(value)
        return math.nan if text is None else self.codes.get(text, math.nan)  # unseen: missing


def features_matrix(data: Any, features: list[str], categories: dict[str, list[str]] | None = None) -> np.ndarray:
    """input_fn's rows as the 2-D float array the estimator takes, columns in feature order."""
    encoders = [_Encoder(name, (categories or {}).get(name)) for name in features]
    if isinstance(data, list) and all(isinstance(record, dict) for record in data):
        rows = []
        for number, record in enumerate(data, start=1):
            missing = [name for name in features if name not in record]
            if missing:
                raise ValueError(f"instance {number} lacks feature(s): {', '.join(missing)}")
            row = []
            for encode in encoders:  # other keys (a record id, ...) are not the model's business
                value = record[encode.name]
                try:
                    row.append(encode(value))
                except ValueError:
                    raise ValueError(f"instance {number}, feature {encode.name!r}: {value!r} is not a number") from None
            rows.append(row)
        data = rows
    elif isinstance(data, Rows):
        if len(data[0]) != len(features):
            raise ValueError(f"rows have {len(data[0])} values; the model takes {len(features)}: {', '.join(features)}")
        converted = []
        for position, values in enumerate(data):  # no zip(strict=): serving runs Python 3.8
            row = []
            for column, encode in enumerate(encoders):
                value = values[column]
                try:
                    row.append(encode(value))
                except ValueError:
                    hint = data.hint if position == 0 else ""
                    where = data.where[position]
                    raise ValueError(f"{where}, value {column + 1}: {value!r} is not a number{hint}") from None
            converted.append(row)
        data = converted
    matrix = np.asarray(data, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != len(features):
        given = matrix.shape[1] if matrix.ndim == 2 else "?"
        raise ValueError(f"rows have {given} values; the model takes {len(features)}: {', '.join(features)}")
    return matrix


def encode_frame(frame: Any, features: list[str], categories: dict[str, list[str]]) -> np.ndarray:
    """A pandas frame's feature columns as the float array the estimator takes (training, evaluation)."""
    columns = []
    for name in features:
        column = frame[name]
        if name in categories:
            encode = _Encoder(name, categories[name])  # as requests are encoded
            columns.append([encode(value) for value in column.tolist()])
        else:
            columns.append(column.to_numpy(dtype=np.float64))
    return np.column_stack(columns) if columns else np.zeros((len(frame), 0))


def predict_fn(data: Any, model: Model) -> np.ndarray:
    """Positive-class probability (binary), per-class probabilities (multiclass) or the value."""
    matrix = features_matrix(data, model.features, model.categories)
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
