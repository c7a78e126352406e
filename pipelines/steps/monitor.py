"""Processing step: drift of captured endpoint traffic (or batch transform output) against the baseline.

mlstack's own drift monitor, in place of SageMaker Model Monitor: Evidently-style
statistics per feature, computed with numpy/scipy/pandas only because it runs in the
SageMaker scikit-learn processing image (nothing can be installed there) as a
network-isolated job that only reads its staged inputs and writes its output directory.
Standalone (no project imports, Python 3.8 syntax) like the other step scripts.

Inputs (container paths are the defaults):
- <baseline-dir>/baseline.csv: header row, the model's feature columns in feature order
  (preprocess.py writes it). The order maps headerless CSV captures to features; a
  feature is numeric when pandas reads its baseline column as numeric, else categorical.
- every *.jsonl under <capture-dir>: SageMaker endpoint data capture, one record a line.
  Inputs are text/csv rows or application/json ({"instances": [...]} or a list; an
  instance is a list in feature order or an object by feature name), as inference.py
  accepts them; outputs are inference.py's predictions, one per input row. Encodings CSV,
  JSON and BASE64. A malformed line is counted and skipped.
- optionally every *.jsonl under <ground-truth-dir>: SageMaker ground truth records,
  joined to the captures on the inference id (inferenceId, else eventId). A request of
  several rows takes several comma-separated labels, in row order. Classification labels
  are class indices (0..k-1, the position in features.json's "classes"; true/false for
  binary); other labels are mapped in sorted order when exactly k distinct ones are seen.
- with --batch-dir, read instead of <capture-dir>: every *.out under <batch-dir>, what a
  SageMaker batch transform job with DataProcessing.JoinSource "Input" and SplitType Line
  writes (<name>.out for input file <name>), in the content type of its input
  (--batch-content-type). text/csv (the default): each line is the input row (headerless,
  features in baseline order), a comma and inference.py's CSV prediction of it, so the
  first N values are the N baseline features and the rest the prediction: exactly one
  value, multiclass two or more class probabilities. application/json: each line is the
  request (as inference.py accepts it) joined with the prediction under "SageMakerOutput";
  a request that is not an object is under "SageMakerInput". A line is one record. A line
  that cannot be read (not UTF-8, unparsable, a CSV line of another width, no usable
  request) is malformed, counted and skipped as a malformed capture line is; a prediction
  that is not a number is counted as unusable and leaves its row without one. Batch
  output has no event times (no window) and no inference ids to join ground truth on:
  <ground-truth-dir> is not read (a problem says so when it holds *.jsonl files), so no
  model quality and no bias.

Statistics, current (captured) against reference (baseline), as Evidently 0.7's stattests
compute them on NaN/inf-free data: PSI (its `psi`: Sturges bins over reference + current
for a numeric feature with more than 20 distinct reference values, otherwise shares of
each value; empty bins filled with a small share), Kolmogorov-Smirnov (its `ks`:
scipy.stats.ks_2samp) for numeric features and chi-square (its `chisquare`) for
categorical ones. A feature drifts when its PSI is over --threshold.

Outputs in <output-dir>: report.json (everything), report.md (a readable summary) and
metrics.json (CloudWatch datums; no NaN or infinity: a value that cannot be computed is
left out and report.json's "problems" says why). Batch output gives the metrics the same
rows captured would, with a Source=batch dimension besides Model (series of their own);
report.json's "source" says which was read ("capture" or "batch"; "capture_files" counts
the files read either way). Shares are fractions of the captured
rows (0..1, unit None). Drift is data, not failure: the exit code is 0 unless the inputs
are unusable (no baseline: 1; bad arguments: 2), with a one-line message on stderr.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import csv
import io
import json
import math
import re
import sys
import warnings
from array import array
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

CAPTURE_DIR = "/opt/ml/processing/capture"
BASELINE_DIR = "/opt/ml/processing/baseline"
GROUND_TRUTH_DIR = "/opt/ml/processing/ground-truth"
OUTPUT_DIR = "/opt/ml/processing/report"
BASELINE_FILE = "baseline.csv"
REPORT_FILE = "report.json"
SUMMARY_FILE = "report.md"
METRICS_FILE = "metrics.json"
PROBLEM_TYPES = ("BinaryClassification", "MulticlassClassification", "Regression")
CSV = "text/csv"
JSON = "application/json"
BATCH_CONTENT_TYPES = (CSV, JSON)
BATCH_SUFFIX = ".out"  # batch transform's output object of each input file
BATCH_OUTPUT_KEY = "SageMakerOutput"  # JoinSource "Input" on JSON: the prediction
BATCH_INPUT_KEY = "SageMakerInput"  # ... and the request, when it is not an object
MAX_EXAMPLES = 10  # malformed lines named in the report
MAX_NEW_CATEGORIES = 20
MAX_PRINTED_PROBLEMS = 20
EVIDENTLY_NUMERIC_BINNING_MIN_VALUES = 20  # more distinct reference values than this: histogram bins
_BOOLEANS = {"true": 1.0, "false": 0.0}
_UTC = timezone(timedelta(0))
_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")
_ABSENT = object()  # a JSON object without the feature's key


class UsageError(Exception):
    """Bad arguments."""


class DataError(Exception):
    """Inputs the monitor cannot work with at all (no baseline)."""


class Malformed(Exception):
    """A capture or batch output line that cannot be used; the message names the reason, never a data value."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line on stderr from main(), not argparse's usage text
        raise UsageError(message)


def _finite(value: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"{value!r} is not a finite number")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--model", required=True, help="model name (the Model dimension of every metric)")
    parser.add_argument("--problem-type", required=True, choices=PROBLEM_TYPES)
    parser.add_argument("--threshold", type=_finite, default=0.1, help="PSI over this is drift (default 0.1)")
    parser.add_argument("--ks-pvalue", type=_finite, default=0.05, help="KS p-value at or under this is flagged")
    parser.add_argument(
        "--probability-threshold", type=_finite, default=0.5, help="binary: positive when the probability is over it"
    )
    parser.add_argument("--facet", default=None, help="feature column of the bias facet")
    parser.add_argument("--facet-values", default=None, help="comma-separated facet values of the group")
    parser.add_argument(
        "--bins", type=int, default=10, help="bins of report.json's histograms (PSI uses Evidently's own binning)"
    )
    parser.add_argument("--capture-dir", default=CAPTURE_DIR, help="searched recursively for *.jsonl data capture")
    parser.add_argument(
        "--batch-dir",
        default=None,
        help=f"searched recursively for *{BATCH_SUFFIX} batch transform output (JoinSource Input); "
        "when given, read instead of --capture-dir",
    )
    parser.add_argument(
        "--batch-content-type",
        default=CSV,
        help=f"content type of the batch transform's input: {' or '.join(BATCH_CONTENT_TYPES)} (default {CSV})",
    )
    parser.add_argument("--baseline-dir", default=BASELINE_DIR, help=f"directory holding {BASELINE_FILE}")
    parser.add_argument(
        "--ground-truth-dir",
        default=GROUND_TRUTH_DIR,
        help="*.jsonl ground truth (optional: absent or empty = none; not read with --batch-dir)",
    )
    parser.add_argument(
        "--output-dir", default=OUTPUT_DIR, help=f"where {REPORT_FILE}, {SUMMARY_FILE}, {METRICS_FILE} go"
    )
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    if args.threshold <= 0:
        raise UsageError("--threshold must be positive")
    if not 0 < args.ks_pvalue < 1:
        raise UsageError("--ks-pvalue must be between 0 and 1")
    if not 0 <= args.probability_threshold <= 1:
        raise UsageError("--probability-threshold must be between 0 and 1")
    if args.bins < 1:
        raise UsageError("--bins must be at least 1")
    args.batch_content_type = _media_type(args.batch_content_type)
    if args.batch_content_type not in BATCH_CONTENT_TYPES:
        raise UsageError(f"--batch-content-type must be {' or '.join(BATCH_CONTENT_TYPES)}")
    if args.batch_dir is not None and not args.batch_dir:
        raise UsageError("--batch-dir must name a directory")
    if (args.facet is None) != (args.facet_values is None):
        raise UsageError("--facet and --facet-values go together")
    if args.facet is not None:
        args.facet_values = [value.strip() for value in args.facet_values.split(",") if value.strip()]
        if not args.facet or not args.facet_values:
            raise UsageError("--facet needs a column and --facet-values at least one value")
    return args


# --- values -----------------------------------------------------------------------------
def _number(value: Any) -> float | None:
    """A numeric feature value as inference.py reads it; None when missing, ValueError when not a number."""
    if value is None:
        return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text.lower() in _BOOLEANS:
            return _BOOLEANS[text.lower()]
        number = float(text)  # ValueError for anything else
    else:
        raise ValueError("not a scalar")
    return None if math.isnan(number) else number


def _category(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, (bool, int, float)):
        return None if isinstance(value, float) and math.isnan(value) else str(value)
    raise ValueError("not a scalar")


def _time(text: Any) -> datetime | None:
    match = _TIME.match(text.strip()) if isinstance(text, str) else None
    if not match:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    fraction, zone = match.group(7), match.group(8)
    offset = timedelta(0)
    if zone and zone != "Z":
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        offset = -offset if zone[0] == "-" else offset
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=_UTC)
    except ValueError:
        return None
    if fraction:
        moment += timedelta(microseconds=round(float(fraction) * 1_000_000))
    return moment - offset


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    text = moment.astimezone(_UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def _media_type(value: Any) -> str:
    media = str(value or "").split(";")[0].strip().lower()
    return "" if media == "*/*" else media


# --- evidently's statistics ---------------------------------------------------------------
def _fill_zeroes(shares: np.ndarray) -> np.ndarray:
    """Evidently's get_binned_data(feel_zeroes=True): an empty bin gets a tiny share, never 0."""
    shares = np.asarray(shares, dtype=np.float64).copy()
    smallest = shares[shares != 0].min()
    shares[shares == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return shares


def _value_shares(reference: Any, current: Any) -> tuple[np.ndarray, np.ndarray, list[Any], Counter, Counter]:
    reference_counts, current_counts = Counter(reference), Counter(current)
    keys = sorted(set(reference_counts) | set(current_counts))  # sorted: the same sums in every process
    reference_shares = np.array([reference_counts[key] / len(reference) for key in keys])
    current_shares = np.array([current_counts[key] / len(current) for key in keys])
    return reference_shares, current_shares, keys, reference_counts, current_counts


def psi(reference: Any, current: Any, numeric: bool) -> float:
    """Evidently 0.7's `psi` stattest (stattests/psi.py with utils.get_binned_data) on NaN-free samples."""
    if numeric and len(np.unique(reference)) > EVIDENTLY_NUMERIC_BINNING_MIN_VALUES:
        reference, current = np.asarray(reference, dtype=np.float64), np.asarray(current, dtype=np.float64)
        edges = np.histogram_bin_edges(np.concatenate([reference, current]), bins="sturges")
        reference_shares = np.histogram(reference, edges)[0] / len(reference)
        current_shares = np.histogram(current, edges)[0] / len(current)
    else:
        reference_shares, current_shares = _value_shares(reference, current)[:2]
    reference_shares, current_shares = _fill_zeroes(reference_shares), _fill_zeroes(current_shares)
    return float(np.sum((reference_shares - current_shares) * np.log(reference_shares / current_shares)))


def ks(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov (statistic, p-value): Evidently's `ks` is scipy's ks_2samp."""
    result = stats.ks_2samp(reference, current)
    return float(result[0]), float(result[1])


def chisquare_pvalue(reference: list[str], current: list[str]) -> float | None:
    """Evidently 0.7's `chisquare` stattest: observed current counts against reference counts scaled to them."""
    _, _, keys, reference_counts, current_counts = _value_shares(reference, current)
    scale = len(current) / len(reference)
    expected = [reference_counts[key] * scale for key in keys]
    observed = [current_counts[key] for key in keys]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = float(stats.chisquare(observed, expected)[1])
        except ValueError:
            return None
    return value if math.isfinite(value) else None


# --- the baseline and the captured columns -----------------------------------------------
class Column:
    """One feature: its baseline sample and what the captures held, row by row."""

    def __init__(self, name: str, baseline: pd.Series) -> None:
        self.name = name
        self.numeric = bool(pd.api.types.is_numeric_dtype(baseline))
        self.baseline_rows = len(baseline)
        if self.numeric:
            values = pd.to_numeric(baseline, errors="coerce").astype("float64").to_numpy()
            self.baseline_missing = int(np.isnan(values).sum())
            self.reference: Any = values[np.isfinite(values)]  # Evidently drops NaN and infinity
            self.current: Any = array("d")  # NaN where the row has no usable value
        else:
            present = baseline.dropna()
            self.baseline_missing = self.baseline_rows - len(present)
            self.reference = [str(value) for value in present]
            self.current = []  # str, or None where the row has no usable value
            self._known: dict[str, str] = {}
        self.absent = self.missing = self.mismatch = 0

    def add(self, raw: Any) -> None:
        if raw is _ABSENT:
            self.absent += 1
            self.current.append(math.nan if self.numeric else None)
            return
        try:
            value: Any = _number(raw) if self.numeric else _category(raw)
        except ValueError:
            self.mismatch += 1
            value = None
        else:
            if value is None:
                self.missing += 1
        if self.numeric:
            self.current.append(math.nan if value is None else value)
        else:
            self.current.append(None if value is None else self._known.setdefault(value, value))


def load_baseline(baseline_dir: Path) -> dict[str, Column]:
    path = baseline_dir / BASELINE_FILE
    if not path.is_file():
        raise DataError(f"no {BASELINE_FILE} in {baseline_dir}")
    try:
        frame = pd.read_csv(path)
    except (ValueError, OSError) as error:  # pandas' EmptyDataError and ParserError are ValueErrors
        raise DataError(f"cannot read {path}: {str(error).splitlines()[0]}") from None
    if frame.empty:
        raise DataError(f"{path} has no rows")
    return {str(name): Column(str(name), frame[name]) for name in frame.columns}


# --- capture records ----------------------------------------------------------------------
def _decode(block: Any, what: str) -> tuple[str, str]:
    """(media type, text) of a captureData endpointInput/endpointOutput block."""
    if not isinstance(block, dict):
        raise Malformed(f"no captureData.{what}")
    data, encoding = block.get("data"), str(block.get("encoding") or "").upper()
    if isinstance(data, (dict, list)) and encoding == "JSON":
        text = json.dumps(data)
    elif not isinstance(data, str):
        raise Malformed(f"captureData.{what} has no data")
    elif encoding == "BASE64":
        try:
            text = base64.b64decode(data, validate=True).decode("utf-8-sig")
        except (binascii.Error, ValueError):
            raise Malformed(f"captureData.{what}: undecodable BASE64 data") from None
    else:
        text = data.lstrip("\ufeff")
    media = _media_type(block.get("observedContentType"))
    if not media:
        media = {"JSON": JSON, "CSV": CSV}.get(encoding) or (JSON if text.lstrip()[:1] in ("{", "[") else CSV)
    return media, text


def _csv_rows(text: str) -> list[list[str]]:
    try:
        return [fields for fields in csv.reader(io.StringIO(text)) if fields]
    except csv.Error:
        raise Malformed("unparsable CSV") from None


def input_rows(media: str, text: str, features: list[str]) -> list[list[Any]]:
    """The request's rows, values in feature order (_ABSENT for a key a JSON object lacks)."""
    width = len(features)
    if media == CSV:
        rows: list[list[Any]] = _csv_rows(text)
        for number, row in enumerate(rows, start=1):
            if len(row) != width:
                raise Malformed(f"input row {number} has {len(row)} values; the baseline has {width} features")
    elif media == JSON:
        try:
            document = json.loads(text)
        except ValueError:
            raise Malformed("input is not JSON") from None
        return json_rows(document, features)
    else:
        raise Malformed(f"unsupported input content type {media[:60]!r}")
    if not rows:
        raise Malformed("input has no rows")
    return rows


def json_rows(document: Any, features: list[str]) -> list[list[Any]]:
    """input_rows of a parsed JSON request."""
    width = len(features)
    if isinstance(document, dict):
        if "instances" not in document:
            raise Malformed('JSON input is neither {"instances": [...]} nor a list')
        document = document["instances"]
    if not isinstance(document, list):
        raise Malformed("JSON instances are not a list")
    if all(isinstance(instance, dict) for instance in document):
        rows = [[instance.get(name, _ABSENT) for name in features] for instance in document]
    elif all(isinstance(instance, list) for instance in document):
        rows = document
        for number, row in enumerate(rows, start=1):
            if len(row) != width:
                raise Malformed(f"input instance {number} has {len(row)} values; the baseline has {width} features")
    else:
        raise Malformed("JSON instances are neither all lists nor all objects")
    if not rows:
        raise Malformed("input has no rows")
    return rows


def _prediction_values(row: Any) -> list[float]:
    values = row if isinstance(row, list) else [row]
    numbers = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError("a prediction is not a number")
        try:
            numbers.append(float(value))
        except ValueError:
            raise ValueError("a prediction is not a number") from None  # float()'s message quotes the value
    if not all(math.isfinite(number) for number in numbers):
        raise ValueError("a prediction is not finite")
    return numbers


def _json_predictions(document: Any) -> list[list[float]]:
    if isinstance(document, dict):
        document = document.get("predictions")
    if not isinstance(document, list):
        raise ValueError('JSON output is neither {"predictions": [...]} nor a list')
    return [_prediction_values(row) for row in document]


def predictions(media: str, text: str, rows: int, problem_type: str) -> list[Any]:
    """One prediction per input row: a float, or a list of class probabilities (multiclass).
    ValueError (no data values in the message) when the output does not fit the input."""
    if media == CSV:
        try:
            parsed = [_prediction_values(fields) for fields in csv.reader(io.StringIO(text)) if fields]
        except csv.Error:
            raise ValueError("unparsable CSV output") from None
    elif media == JSON:
        try:
            document = json.loads(text)
        except ValueError:
            raise ValueError("output is not JSON") from None
        parsed = _json_predictions(document)
    else:
        raise ValueError("unsupported output content type")
    return per_row_predictions(parsed, rows, problem_type)


def per_row_predictions(parsed: list[list[float]], rows: int, problem_type: str) -> list[Any]:
    """predictions() of parsed output lines (each a list of numbers)."""
    if problem_type == "MulticlassClassification":
        if len(parsed) != rows or any(len(row) < 2 or len(row) != len(parsed[0]) for row in parsed):
            raise ValueError(f"output has not one probability row per input row ({rows})")
        return parsed
    if all(len(row) == 1 for row in parsed):
        flat = [row[0] for row in parsed]
    elif len(parsed) == 1:  # one line of comma-separated values, one per row
        flat = parsed[0]
    else:
        raise ValueError("output rows have several values")
    if len(flat) != rows:
        raise ValueError(f"output has {len(flat)} predictions for {rows} input rows")
    return flat


# --- batch transform output ---------------------------------------------------------------
def _joined_predictions(output: Any, rows: int, problem_type: str) -> list[Any]:
    """predictions() of a JSON batch output's "SageMakerOutput": the response as JSON, or its text."""
    if isinstance(output, str):
        return predictions(JSON if output.lstrip()[:1] in ("{", "[") else CSV, output, rows, problem_type)
    parsed = _json_predictions(output) if isinstance(output, (dict, list)) else [_prediction_values(output)]
    return per_row_predictions(parsed, rows, problem_type)


def batch_rows(media: str, text: str, features: list[str], problem_type: str) -> tuple[list[list[Any]], list[Any], str]:
    """A batch transform output line (JoinSource "Input"): its input rows in feature order, one prediction
    per row (None without a usable one) and why the predictions are unusable ("" when they are not)."""
    if media == CSV:  # the input row, a comma, the prediction: the width tells them apart
        fields = _csv_rows(text)
        if len(fields) != 1:
            raise Malformed("not one CSV row")
        values, width = fields[0], len(features)
        if problem_type == "MulticlassClassification":
            fits, expected = len(values) >= width + 2, f"at least {width + 2}: {width} features and 2 or more classes"
        else:
            fits, expected = len(values) == width + 1, f"{width + 1}: {width} features and 1 prediction"
        if not fits:
            raise Malformed(f"line has {len(values)} values; expected {expected}")
        rows: list[list[Any]] = [values[:width]]
        output: Any = values[width:]
    else:
        try:
            document = json.loads(text)
        except ValueError:
            raise Malformed("not JSON") from None
        if not isinstance(document, dict) or BATCH_OUTPUT_KEY not in document:
            raise Malformed(f"no {BATCH_OUTPUT_KEY}")
        output = document[BATCH_OUTPUT_KEY]
        if BATCH_INPUT_KEY in document:
            request = document[BATCH_INPUT_KEY]
        else:
            request = {key: value for key, value in document.items() if key != BATCH_OUTPUT_KEY}
        rows = json_rows(request, features)
    try:
        if media == CSV:
            output = per_row_predictions([_prediction_values(output)], 1, problem_type)
        else:
            output = _joined_predictions(output, len(rows), problem_type)
    except ValueError as error:  # the inputs still count for drift
        return rows, [None] * len(rows), str(error)
    return rows, output, ""


class Examples:
    """A count and the first few places (file, line, reason) of something skipped."""

    def __init__(self) -> None:
        self.count = 0
        self.examples: list[dict[str, Any]] = []

    def add(self, file: str, line: int, reason: str) -> None:
        self.count += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append({"file": file, "line": line, "reason": reason})

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "examples": self.examples}


class Capture:
    """Everything read from the capture files, or from batch transform output."""

    def __init__(self, columns: dict[str, Column], problem_type: str, batch_media: str | None = None) -> None:
        self.columns = columns
        self.features = list(columns)
        self.problem_type = problem_type
        self.batch_media = batch_media  # the batch transform input's content type; None: data capture
        self.records = 0
        self.rows = 0
        self.files = 0
        self.malformed = Examples()
        self.unusable_predictions = Examples()
        self.predictions: list[Any] = []  # per row; None without a usable prediction
        self.requests: list[tuple[str | None, int, int]] = []  # (inference id, first row, rows)
        self.first: datetime | None = None
        self.last: datetime | None = None

    def read(self, directory: Path) -> None:
        """Every *.jsonl capture file under directory (batch: every *.out file)."""
        add = self.add if self.batch_media is None else self.add_batch
        for path in sorted(directory.rglob("*.jsonl" if self.batch_media is None else f"*{BATCH_SUFFIX}")):
            if not path.is_file():
                continue
            self.files += 1
            name = path.relative_to(directory).as_posix()
            with open(path, "rb") as handle:
                for number, line in enumerate(handle, start=1):
                    if line.strip():
                        try:
                            add(line, name, number)
                        except Malformed as error:
                            self.malformed.add(name, number, str(error))

    def add_batch(self, line: bytes, name: str, number: int) -> None:
        try:
            text = line.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Malformed("not UTF-8") from None
        rows, output, unusable = batch_rows(self.batch_media or CSV, text, self.features, self.problem_type)
        if unusable:
            self.unusable_predictions.add(name, number, unusable)
        self._keep(rows, output, None, None)

    def add(self, line: bytes, name: str, number: int) -> None:
        try:
            record = json.loads(line.decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise Malformed("not UTF-8") from None
        except ValueError:
            raise Malformed("not JSON") from None
        capture = record.get("captureData") if isinstance(record, dict) else None
        if not isinstance(capture, dict):
            raise Malformed("no captureData")
        rows = input_rows(*_decode(capture.get("endpointInput"), "endpointInput"), self.features)
        output: list[Any] = [None] * len(rows)
        if capture.get("endpointOutput") is not None:
            try:
                output = predictions(
                    *_decode(capture["endpointOutput"], "endpointOutput"), len(rows), self.problem_type
                )
            except (Malformed, ValueError) as error:  # the inputs still count for drift
                self.unusable_predictions.add(name, number, str(error))
        metadata = record.get("eventMetadata") if isinstance(record.get("eventMetadata"), dict) else {}
        identifier = metadata.get("inferenceId") or metadata.get("eventId")
        self._keep(rows, output, str(identifier) if identifier else None, _time(metadata.get("inferenceTime")))

    def _keep(self, rows: list[list[Any]], output: list[Any], identifier: str | None, moment: datetime | None) -> None:
        """A record's rows and predictions: only now, with the whole record understood, does it count."""
        self.records += 1
        self.requests.append((identifier, self.rows, len(rows)))
        self.rows += len(rows)
        self.predictions.extend(output)
        for position, column in enumerate(self.columns.values()):
            for row in rows:
                column.add(row[position])
        if moment is not None:
            self.first = moment if self.first is None else min(self.first, moment)
            self.last = moment if self.last is None else max(self.last, moment)


# --- per-feature statistics ---------------------------------------------------------------
def _share(count: int, rows: int) -> float | None:
    return count / rows if rows else None


def _summary(values: Any) -> dict[str, Any]:
    if len(values) == 0:
        return {"count": 0, "min": None, "max": None, "mean": None}
    return {
        "count": len(values),
        "min": float(np.min(values)),
        "max": float(np.max(values)),
        "mean": float(np.mean(values)),
    }


def feature_statistics(column: Column, rows: int, args: argparse.Namespace, problems: list[str]) -> dict[str, Any]:
    name = column.name
    report: dict[str, Any] = {
        "type": "numeric" if column.numeric else "categorical",
        "rows": rows,
        "missing_share": _share(column.missing + column.absent, rows),
        "absent_share": _share(column.absent, rows),
        "type_mismatch_share": _share(column.mismatch, rows),
    }
    if column.absent == rows and rows:
        problems.append(f"feature '{name}': absent from every captured row (JSON objects without it): no statistics")
    elif column.absent:
        problems.append(f"feature '{name}': absent from {column.absent} of {rows} captured row(s) (JSON objects)")
    if column.mismatch:
        kind = "not a number" if column.numeric else "not a scalar value"
        problems.append(f"feature '{name}': {column.mismatch} captured value(s) {kind} (type mismatch)")
    if column.missing and not column.baseline_missing:
        problems.append(f"feature '{name}': {column.missing} missing value(s); the baseline has none")
    report["baseline"] = {
        "rows": column.baseline_rows,
        "missing_share": column.baseline_missing / column.baseline_rows,
    }
    if column.numeric:
        current_all = np.frombuffer(column.current, dtype=np.float64) if len(column.current) else np.zeros(0)
        values = current_all[~np.isnan(current_all)]
        current = values[np.isfinite(values)]  # what Evidently's stattests see
        reference = column.reference
        report["baseline"].update(_summary(reference))
        report["current"] = _summary(current)
        if len(reference):
            low, high = float(reference.min()), float(reference.max())
            report["out_of_range_share"] = _share(int(((values < low) | (values > high)).sum()), rows)
            report["histogram"] = _histogram(reference, current, low, high, args.bins)
        else:
            report["out_of_range_share"] = None
            report["histogram"] = None
    else:
        current = [value for value in column.current if value is not None]
        reference = column.reference
        known = set(reference)
        new = Counter(value for value in current if value not in known)
        report["baseline"]["categories"] = len(known)
        report["current"] = {"count": len(current), "categories": len(set(current))}
        report["new_category_share"] = _share(sum(new.values()), rows)
        report["new_category_count"] = len(new)
        report["new_categories"] = [value for value, _ in sorted(new.items(), key=lambda item: (-item[1], item[0]))][
            :MAX_NEW_CATEGORIES
        ]
        if new:
            problems.append(
                f"feature '{name}': {len(new)} categor{'y' if len(new) == 1 else 'ies'} never seen in the baseline "
                f"in {sum(new.values())} row(s)"
            )
    report.update(psi=None, drifted=False)
    if column.numeric:
        report.update(ks_statistic=None, ks_pvalue=None, ks_drifted=None)
    else:
        report.update(chisquare_pvalue=None)
    if len(reference) == 0:
        problems.append(f"feature '{name}': the baseline has no values: no drift statistics")
    elif len(current) == 0:
        if rows and column.absent < rows:
            problems.append(f"feature '{name}': no usable captured value: no drift statistics")
    else:
        value = psi(reference, current, column.numeric)
        report["psi"] = value if math.isfinite(value) else None
        report["drifted"] = bool(report["psi"] is not None and value > args.threshold)
        if column.numeric:
            statistic, pvalue = ks(reference, current)
            report.update(ks_statistic=statistic, ks_pvalue=pvalue, ks_drifted=bool(pvalue <= args.ks_pvalue))
        else:
            report["chisquare_pvalue"] = chisquare_pvalue(reference, current)
    return report


def _histogram(reference: np.ndarray, current: np.ndarray, low: float, high: float, bins: int) -> dict[str, Any]:
    """Shares of baseline and current values in `bins` equal bins of the baseline's range (for plots)."""
    if low == high:
        high = low + 1.0
    edges = np.linspace(low, high, bins + 1)
    inside = current[(current >= low) & (current <= high)]
    counts = [np.histogram(sample, edges)[0] for sample in (reference, inside)]
    return {
        "edges": [float(edge) for edge in edges],
        "baseline": [float(count) / len(reference) for count in counts[0]],
        "current": [float(count) / len(current) if len(current) else 0.0 for count in counts[1]],
    }


# --- ground truth, model quality and bias -------------------------------------------------
def _labels(block: Any) -> list[str]:
    if not isinstance(block, dict):
        raise Malformed("no groundTruthData")
    data, encoding = block.get("data"), str(block.get("encoding") or "").upper()
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        return [str(data)]
    if not isinstance(data, str):
        raise Malformed("groundTruthData has no data")
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8-sig")
        except (binascii.Error, ValueError):
            raise Malformed("undecodable BASE64 data") from None
    if encoding == "JSON" or data.lstrip()[:1] == "[":
        try:
            document = json.loads(data)
        except ValueError:
            raise Malformed("ground truth data is not JSON") from None
        values = document if isinstance(document, list) else [document]
        return [json.dumps(value) if isinstance(value, bool) else str(value) for value in values]
    return [field.strip() for row in _csv_rows(data) for field in row]


def load_ground_truth(directory: Path) -> tuple[dict[str, list[str]], int, Examples] | None:
    """{inference id: labels in row order}, the number of records and the malformed lines; None without any."""
    files = sorted(path for path in directory.rglob("*.jsonl") if path.is_file()) if directory.is_dir() else []
    if not files:
        return None
    labels: dict[str, list[str]] = {}
    malformed, records = Examples(), 0
    for path in files:
        name = path.relative_to(directory).as_posix()
        with open(path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    try:
                        record = json.loads(line.decode("utf-8-sig"))
                    except ValueError:
                        raise Malformed("not JSON") from None
                    if not isinstance(record, dict):
                        raise Malformed("not a ground truth record")
                    metadata = record.get("eventMetadata")
                    identifier = metadata.get("eventId") if isinstance(metadata, dict) else None
                    if not identifier:
                        raise Malformed("no eventMetadata.eventId")
                    values = _labels(record.get("groundTruthData"))
                    if not values:
                        raise Malformed("no labels")
                except Malformed as error:
                    malformed.add(name, number, str(error))
                    continue
                records += 1
                labels[str(identifier)] = values  # a later record for the same id wins
    return labels, records, malformed


def _index_labels(labels: list[str], classes: int) -> tuple[list[int] | None, str]:
    """Class indices of classification labels, and how they were read."""
    numbers = []
    for label in labels:
        lowered = label.strip().lower()
        try:
            numbers.append(_BOOLEANS[lowered] if lowered in _BOOLEANS else float(lowered))
        except ValueError:
            numbers = None
            break
    if numbers is not None and all(number.is_integer() and 0 <= number < classes for number in numbers):
        return [int(number) for number in numbers], "class index"
    distinct = sorted(set(labels), key=float if numbers is not None else str)
    if len(distinct) == classes:
        position = {label: index for index, label in enumerate(distinct)}
        return [position[label] for label in labels], "sorted labels"
    return None, "unmapped"


def _auc(positive: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC AUC from ranks (ties averaged): equal to scikit-learn's roc_auc_score."""
    positives = int(positive.sum())
    negatives = len(positive) - positives
    if not positives or not negatives:
        return None
    ranks = stats.rankdata(scores)
    return float((ranks[positive].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _averaged(target: np.ndarray, predicted: np.ndarray, labels: list[int]) -> dict[str, float]:
    """Precision, recall and F1 as evaluate.py's scikit-learn calls (zero_division=0): of the positive class
    for two labels, else macro averages over all labels."""
    scores = []
    for label in labels:
        true_positive = int(((predicted == label) & (target == label)).sum())
        false_positive = int(((predicted == label) & (target != label)).sum())
        false_negative = int(((predicted != label) & (target == label)).sum())
        precision = true_positive / (true_positive + false_positive) if true_positive + false_positive else 0.0
        recall = true_positive / (true_positive + false_negative) if true_positive + false_negative else 0.0
        denominator = 2 * true_positive + false_positive + false_negative
        scores.append((precision, recall, 2 * true_positive / denominator if denominator else 0.0))
    chosen = scores[1:] if len(labels) == 2 else scores
    return {
        name: float(np.mean([row[index] for row in chosen])) for index, name in enumerate(("precision", "recall", "f1"))
    }


def quality_metrics(
    problem_type: str, target: np.ndarray, scores: np.ndarray, probability_threshold: float
) -> tuple[dict[str, float], list[str]]:
    """evaluate.py's metrics for the problem type; and why any is missing."""
    notes: list[str] = []
    if problem_type == "Regression":
        errors = target - scores
        result = {"mae": float(np.mean(np.abs(errors))), "rmse": float(np.sqrt(np.mean(errors**2)))}
        if len(target) < 2:
            notes.append("r2 needs at least 2 labelled predictions")
        else:
            residual, total = float(np.sum(errors**2)), float(np.sum((target - target.mean()) ** 2))
            result["r2"] = (1.0 if residual == 0 else 0.0) if total == 0 else 1 - residual / total
        return dict(sorted(result.items())), notes
    if problem_type == "BinaryClassification":
        labels = [0, 1]
        predicted = (scores > probability_threshold).astype(np.int64)
        auc = _auc(target == 1, scores)
    else:
        labels = list(range(scores.shape[1]))
        predicted = np.argmax(scores, axis=1)
        per_class = [_auc(target == label, scores[:, label]) for label in labels]
        auc = None if any(value is None for value in per_class) else float(np.mean(per_class))
    result = _averaged(target, predicted, labels)
    result["accuracy"] = float(np.mean(predicted == target))
    if auc is None:
        notes.append("auc is undefined: the labelled predictions do not hold every class")
    else:
        result["auc"] = auc
    return dict(sorted(result.items())), notes


def join_ground_truth(capture: Capture, labels: dict[str, list[str]]) -> tuple[list[int], list[str], dict[str, int]]:
    """Rows with a prediction and a label: (row indices, labels); and counts of what did not join."""
    rows: list[int] = []
    joined: list[str] = []
    counts = {"label_count_mismatches": 0, "captured_ids": 0}
    seen = set()
    for identifier, first, count in capture.requests:
        if identifier is None:
            continue
        seen.add(identifier)
        values = labels.get(identifier)
        if values is None:
            continue
        if len(values) != count:
            counts["label_count_mismatches"] += 1
            continue
        for offset, value in enumerate(values):
            if capture.predictions[first + offset] is not None:
                rows.append(first + offset)
                joined.append(value)
    counts["captured_ids"] = len(seen)
    counts["unmatched_ground_truth"] = len(set(labels) - seen)
    return rows, joined, counts


def model_quality(
    capture: Capture, truth: tuple[dict[str, list[str]], int, Examples], args: argparse.Namespace, problems: list[str]
) -> tuple[dict[str, Any], np.ndarray, np.ndarray, np.ndarray]:
    """The model_quality report, and the labelled rows' indices, targets and scores (for bias)."""
    labels, records, malformed = truth
    rows, values, counts = join_ground_truth(capture, labels)
    with_predictions = sum(prediction is not None for prediction in capture.predictions)
    report: dict[str, Any] = {
        "ground_truth_records": records,
        "ground_truth_malformed": malformed.as_dict(),
        "rows_with_predictions": with_predictions,
        "rows_with_ground_truth": 0,
        "ground_truth_coverage": None,
        "unmatched_ground_truth": counts["unmatched_ground_truth"],
        "label_count_mismatches": counts["label_count_mismatches"],
        "label_encoding": None,
        "metrics": {},
    }
    empty = np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    if malformed.count:
        problems.append(f"{malformed.count} malformed ground truth line(s) skipped")
    if counts["label_count_mismatches"]:
        problems.append(
            f"{counts['label_count_mismatches']} ground truth record(s) with a label count other than the rows captured"
        )
    if not rows:
        problems.append("no ground truth matched a captured prediction: no model quality")
        return (report, *empty)
    if args.problem_type == "Regression":
        target, keep = [], []
        for index, value in enumerate(values):
            try:
                number = float(value)
            except ValueError:
                continue
            if math.isfinite(number):
                target.append(number)
                keep.append(index)
        if len(keep) < len(values):
            problems.append(f"{len(values) - len(keep)} ground truth label(s) are not numbers: left out")
        rows = [rows[index] for index in keep]
        target_array = np.asarray(target, dtype=np.float64)
        report["label_encoding"] = "value"
    else:
        if args.problem_type == "BinaryClassification":
            classes = 2
        else:  # rows of another width than most (a model version change inside the window) are left out
            widths = Counter(len(capture.predictions[row]) for row in rows)
            classes = widths.most_common(1)[0][0]
            keep = [index for index, row in enumerate(rows) if len(capture.predictions[row]) == classes]
            if len(keep) < len(rows):
                left_out = len(rows) - len(keep)
                problems.append(f"{left_out} prediction(s) without {classes} class probabilities: left out")
            rows, values = [rows[index] for index in keep], [values[index] for index in keep]
        indices, encoding = _index_labels(values, classes)
        report["label_encoding"] = encoding
        if indices is None:
            problems.append(
                f"ground truth labels are neither class indices 0..{classes - 1} nor {classes} distinct labels: "
                "no model quality"
            )
            return (report, *empty)
        if encoding == "sorted labels":
            problems.append("ground truth labels are not class indices: mapped to classes in sorted order")
        target_array = np.asarray(indices, dtype=np.int64)
    report["rows_with_ground_truth"] = len(rows)
    report["ground_truth_coverage"] = len(rows) / with_predictions if with_predictions else None
    if not rows:
        return (report, *empty)
    scores = np.asarray([capture.predictions[row] for row in rows], dtype=np.float64)
    report["metrics"], notes = quality_metrics(args.problem_type, target_array, scores, args.probability_threshold)
    problems.extend(notes)
    return report, np.asarray(rows, dtype=np.int64), target_array, scores


def _rates(predicted: np.ndarray, target: np.ndarray) -> dict[str, Any]:
    positives = int(target.sum())
    return {
        "rows": len(target),
        "positives": positives,
        "positive_prediction_rate": float(predicted.mean()) if len(target) else None,
        "true_positive_rate": float((predicted & target).sum() / positives) if positives else None,
    }


def bias(
    capture: Capture,
    labelled: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    args: argparse.Namespace,
    problems: list[str],
) -> dict[str, Any] | None:
    """Facet group against the rest, on the labelled rows: differences rest minus group."""
    if args.facet is None:
        return None
    report: dict[str, Any] = {"facet": args.facet, "facet_values": args.facet_values, "applicable": False}
    if args.problem_type != "BinaryClassification":
        report["reason"] = "not applicable: bias metrics are for binary classification only"
        return report
    if labelled is None or not len(labelled[0]):
        report["reason"] = "not computed: no ground truth joined to the captured predictions"
        return report
    rows, target, scores = labelled
    column = capture.columns[args.facet]
    if column.numeric:
        values = np.frombuffer(column.current, dtype=np.float64)[rows] if len(column.current) else np.zeros(0)
        known = ~np.isnan(values)
        group = np.isin(values, [float(value) for value in args.facet_values]) & known
    else:
        picked = [column.current[row] for row in rows]
        known = np.array([value is not None for value in picked], dtype=bool)
        group = np.array([value in args.facet_values for value in picked], dtype=bool)
    rest = known & ~group
    predicted = (scores > args.probability_threshold).astype(np.int64)
    target = target.astype(np.int64)
    report.update(
        applicable=True,
        rows_without_facet_value=int((~known).sum()),
        group=_rates(predicted[group], target[group]),
        rest=_rates(predicted[rest], target[rest]),
    )
    for key, rate in (
        ("positive_rate_difference", "positive_prediction_rate"),
        ("true_positive_rate_difference", "true_positive_rate"),
    ):
        ours, theirs = report["group"][rate], report["rest"][rate]
        report[key] = None if ours is None or theirs is None else theirs - ours
        if report[key] is None:
            problems.append(f"bias: {key} undefined (a group without rows or without positive labels)")
    return report


# --- outputs ------------------------------------------------------------------------------
def _clean(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN and infinity to null."""
    if isinstance(value, dict):
        return {str(key): _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def metric_data(report: dict[str, Any]) -> list[dict[str, Any]]:
    """CloudWatch datums of the report; a value that could not be computed is left out."""
    model = report["model"]
    datums: list[dict[str, Any]] = []
    # Batch scoring's metrics are series of their own: an endpoint's drift alarm (and the
    # retraining it triggers) watches its captured traffic only.
    source = [{"Name": "Source", "Value": "batch"}] if report["source"] == "batch" else []

    def datum(name: str, value: Any, unit: str = "None", **dimensions: str) -> None:
        if value is None or isinstance(value, bool) or not math.isfinite(float(value)):
            return
        dimension_list = [{"Name": "Model", "Value": model}, *source]
        dimension_list += [{"Name": key, "Value": str(item)} for key, item in dimensions.items()]
        datums.append({"MetricName": name, "Dimensions": dimension_list, "Value": float(value), "Unit": unit})

    for name, feature in report["features"].items():
        datum("FeatureDriftPSI", feature["psi"], Feature=name)
        datum("FeatureMissingShare", feature["missing_share"], Feature=name)
        if feature["type"] == "numeric":
            datum("FeatureOutOfRangeShare", feature["out_of_range_share"], Feature=name)
            datum("FeatureKSStatistic", feature["ks_statistic"], Feature=name)
        else:
            datum("FeatureNewCategoryShare", feature["new_category_share"], Feature=name)
    drift = report["drift"]
    datum("MaxFeatureDriftPSI", drift["max_psi"])
    datum("DriftedFeatures", len(drift["drifted_features"]), "Count")
    datum("RecordsMonitored", report["records"], "Count")
    datum("MalformedRecords", report["malformed"]["count"], "Count")
    quality = report["model_quality"]
    for metric, value in sorted((quality or {}).get("metrics", {}).items()):
        datum("ModelQuality", value, Metric=metric)
    if report["bias"] and report["bias"].get("applicable"):
        facet = report["bias"]["facet"]
        datum("BiasPositiveRateDifference", report["bias"]["positive_rate_difference"], Facet=facet)
        datum("BiasTruePositiveRateDifference", report["bias"]["true_positive_rate_difference"], Facet=facet)
    return datums


def _cell(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value).replace("|", "\\|")


def _percent(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def markdown(report: dict[str, Any]) -> str:
    drift = report["drift"]
    lines = [f"# Drift monitor: {report['model']}", ""]
    if drift["drifted_features"]:
        names = ", ".join(f"`{name}`" for name in drift["drifted_features"])
        lines.append(
            f"**Drift detected** in {len(drift['drifted_features'])} of {len(report['features'])} feature(s): {names} "
            f"(PSI over {drift['threshold']}; max {_cell(drift['max_psi'])} on `{drift['max_psi_feature']}`)."
        )
    elif drift["max_psi"] is None:
        lines.append("**No drift statistics**: no usable captured values (see problems).")
    else:
        lines.append(
            f"**No drift**: max PSI {_cell(drift['max_psi'])} (`{drift['max_psi_feature']}`) "
            f"is within the threshold {drift['threshold']}."
        )
    if report["source"] == "batch":
        read = f"Batch transform output ({report['batch_content_type']}, {report['capture_files']} file(s))"
    else:
        read = f"Window {report['window_start'] or '-'} to {report['window_end'] or '-'}"
    lines += [
        "",
        f"{read}: {report['records']} {'batch' if report['source'] == 'batch' else 'capture'} "
        f"record(s), {report['rows']} row(s); {report['malformed']['count']} malformed line(s) skipped.",
        "",
        "| Feature | Type | PSI | KS statistic | p-value (KS / chi-square) | Missing | Type mismatch "
        "| Out of range / new | Drift |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, feature in report["features"].items():
        numeric = feature["type"] == "numeric"
        unusual = feature["out_of_range_share"] if numeric else feature["new_category_share"]
        lines.append(
            "| "
            + " | ".join(
                [
                    f"`{_cell(name)}`",
                    feature["type"],
                    _cell(feature["psi"]),
                    _cell(feature.get("ks_statistic")),
                    _cell(feature["ks_pvalue"] if numeric else feature["chisquare_pvalue"]),
                    _percent(feature["missing_share"]),
                    _percent(feature["type_mismatch_share"]),
                    _percent(unusual),
                    "**yes**" if feature["drifted"] else "no",
                ]
            )
            + " |"
        )
    quality = report["model_quality"]
    lines += ["", "## Model quality", ""]
    if quality is None:
        lines.append("No ground truth.")
    else:
        lines.append(
            f"{quality['rows_with_ground_truth']} of {quality['rows_with_predictions']} prediction(s) "
            "with ground truth."
        )
        if quality["metrics"]:
            lines += ["", "| Metric | Value |", "|---|---|"]
            lines += [f"| {metric} | {_cell(value)} |" for metric, value in quality["metrics"].items()]
    if report["bias"] is not None:
        result = report["bias"]
        lines += ["", f"## Bias: `{result['facet']}` in {', '.join(result['facet_values'])}", ""]
        if result["applicable"]:
            lines.append(f"- positive prediction rate, rest minus group: {_cell(result['positive_rate_difference'])}")
            lines.append(f"- true positive rate, rest minus group: {_cell(result['true_positive_rate_difference'])}")
        else:
            lines.append(result["reason"])
    lines += ["", "## Problems", ""]
    lines += [f"- {problem}" for problem in report["problems"]] or ["None."]
    return "\n".join(lines) + "\n"


def monitor(args: argparse.Namespace) -> dict[str, Any]:
    columns = load_baseline(Path(args.baseline_dir))
    if args.facet is not None:
        if args.facet not in columns:
            raise UsageError(f"--facet {args.facet!r} is not a baseline feature; they are: {', '.join(columns)}")
        if columns[args.facet].numeric:
            try:
                [float(value) for value in args.facet_values]
            except ValueError:
                raise UsageError(f"--facet-values of numeric feature {args.facet!r} must be numbers") from None
    problems: list[str] = []
    batch = args.batch_dir is not None
    capture = Capture(columns, args.problem_type, args.batch_content_type if batch else None)
    source, kind = (Path(args.batch_dir), "batch output") if batch else (Path(args.capture_dir), "capture")
    if source.is_dir():
        capture.read(source)
    else:
        problems.append(f"{'batch' if batch else 'capture'} directory {source} does not exist")
    if not capture.records:
        problems.append(f"no usable {kind} records in {capture.files} {kind} file(s): nothing to compare")
    if capture.malformed.count:
        problems.append(f"{capture.malformed.count} malformed {kind} line(s) skipped")
    if capture.unusable_predictions.count:
        problems.append(f"{capture.unusable_predictions.count} {kind} record(s) without usable predictions")

    features = {name: feature_statistics(column, capture.rows, args, problems) for name, column in columns.items()}
    scored = {name: feature["psi"] for name, feature in features.items() if feature["psi"] is not None}
    top = max(scored, key=lambda name: scored[name]) if scored else None
    drift = {
        "threshold": args.threshold,
        "drifted": any(feature["drifted"] for feature in features.values()),
        "max_psi": scored[top] if top else None,
        "max_psi_feature": top,
        "drifted_features": [name for name, feature in features.items() if feature["drifted"]],
        "ks_flagged_features": [name for name, feature in features.items() if feature.get("ks_drifted")],
    }

    quality, labelled = None, None
    truth_dir = Path(args.ground_truth_dir)
    if batch:
        if truth_dir.is_dir() and any(path.is_file() for path in truth_dir.rglob("*.jsonl")):
            problems.append(
                f"ground truth in {truth_dir} not read: it joins on inference ids and batch output has none"
            )
        truth = None
    else:
        truth = load_ground_truth(truth_dir)
    if truth is not None:
        quality, rows, target, scores = model_quality(capture, truth, args, problems)
        labelled = (rows, target, scores)
    report = {
        "model": args.model,
        "problem_type": args.problem_type,
        "source": "batch" if batch else "capture",
        "batch_content_type": args.batch_content_type if batch else None,
        "window_start": _iso(capture.first),
        "window_end": _iso(capture.last),
        "capture_files": capture.files,
        "records": capture.records,
        "rows": capture.rows,
        "malformed": capture.malformed.as_dict(),
        "unusable_predictions": capture.unusable_predictions.as_dict(),
        "thresholds": {
            "psi": args.threshold,
            "ks_pvalue": args.ks_pvalue,
            "probability_threshold": args.probability_threshold,
        },
        "features": features,
        "drift": drift,
        "model_quality": quality,
        "bias": bias(capture, labelled, args, problems),
        "problems": problems,
    }
    return _clean(report)


def write_outputs(report: dict[str, Any], output_dir: Path) -> list[dict[str, Any]]:
    output_dir.mkdir(parents=True, exist_ok=True)
    datums = metric_data(report)
    (output_dir / REPORT_FILE).write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    (output_dir / SUMMARY_FILE).write_text(markdown(report))
    (output_dir / METRICS_FILE).write_text(json.dumps(datums, indent=2, allow_nan=False) + "\n")
    return datums


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        report = monitor(args)
    except UsageError as error:
        print(f"monitor: error: {error}", file=sys.stderr)
        return 2
    except DataError as error:
        print(f"monitor: error: {error}", file=sys.stderr)
        return 1
    try:
        datums = write_outputs(report, Path(args.output_dir))
    except OSError as error:
        print(f"monitor: error: cannot write to {args.output_dir}: {error.strerror or error}", file=sys.stderr)
        return 1
    drift = report["drift"]
    verdict = f"drift in {', '.join(drift['drifted_features'])}" if drift["drifted"] else "no drift"
    print(
        f"monitor: {report['records']} record(s), {report['rows']} row(s), {report['malformed']['count']} malformed; "
        f"{verdict} (max PSI {drift['max_psi']}); {len(datums)} metric(s) -> {Path(args.output_dir) / METRICS_FILE}"
    )
    for problem in report["problems"][:MAX_PRINTED_PROBLEMS]:
        print(f"monitor: {problem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
