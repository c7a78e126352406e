"""Processing step: a feature group's offline store -> the batch transform job's input.

For batch scoring a model whose input is a SageMaker Feature Store feature group: reads every
Parquet file below --offline-store-dir (recursively), keeps each record's latest row (the
greatest event time; equal event times are ordered by the store's api_invocation_time, then
write_time, as Feature Store's own "latest snapshot" query does), drops the records whose
latest row is a deletion (is_deleted), and writes:

- <output dir>/input.csv: one line per record, no header, the model's features only, in the
  training order of features.json (read from model.tar.gz in --model-dir): what inference.py
  takes as text/csv, split by the transform job line by line (SplitType Line).
- records.csv beside it (or in --records-dir): the record identifiers, one per line, no header,
  in input.csv's order: line n of records.csv names line n of input.csv and of the transform's
  output, so scores can be joined back to entities. The transform job must therefore read the
  input.csv object (S3Prefix <output prefix>/input.csv), not the whole output prefix.

Values: numbers as they are (booleans as 1/0, as preprocess.py writes them for training),
categorical features (features.json's "categories") as the text inference.py knows a category
by (its category_text: 5411.0 is "5411"), a missing value as an empty field. A value that would
split a line (a line break) is refused: the transform job splits the file on line breaks.

A feature the model takes that no file has, or a value that is not a number in a numeric
feature, fails the job with a one-line reason on stderr (exit code 1), naming the feature and
never printing data values.

Standalone (no project imports, Python 3.8 syntax) like the other step scripts: it runs in the
SageMaker scikit-learn processing container (pandas, pyarrow).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import numbers
import sys
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

OFFLINE_STORE_DIR = "/opt/ml/processing/input/offline-store"
MODEL_DIR = "/opt/ml/processing/input/model"
OUTPUT_DIR = "/opt/ml/processing/output/batch-input"
MODEL_ARCHIVE = "model.tar.gz"
FEATURES_FILE = "features.json"  # inside model.tar.gz: the feature order and the category tables
INPUT_FILE = "input.csv"
RECORDS_FILE = "records.csv"
# Bookkeeping columns SageMaker Feature Store adds to every offline-store record.
WRITE_TIME, API_INVOCATION_TIME, IS_DELETED = "write_time", "api_invocation_time", "is_deleted"
STORE_COLUMNS = (WRITE_TIME, API_INVOCATION_TIME, IS_DELETED)
_LINE_BREAKS = ("\n", "\r")
_BOOLEANS = ("true", "false")
# Helper columns of the latest-record selection (not names a feature group can have: they start with "__").
_EVENT, _INVOKED, _WRITTEN, _ORDER = "__event", "__invoked", "__written", "__order"

log = logging.getLogger("batch_input")


class DataError(Exception):
    """The store or the model cannot give a batch input; the message says why (no data values)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument(
        "--offline-store-dir", default=OFFLINE_STORE_DIR, help="searched recursively for *.parquet files"
    )
    parser.add_argument("--model-dir", default=MODEL_DIR, help=f"holds the model's {MODEL_ARCHIVE}")
    parser.add_argument("--output-dir", default=OUTPUT_DIR, help=f"where {INPUT_FILE} (features only) is written")
    parser.add_argument(
        "--records-dir",
        default=None,
        help=f"where {RECORDS_FILE} (the record identifiers) is written (default: beside input.csv)",
    )
    parser.add_argument("--record-identifier", required=True, help="the feature group's record identifier feature")
    parser.add_argument("--event-time", required=True, help="the feature group's event time feature")
    return parser


# --- the model's features -----------------------------------------------------------
def read_description(model_dir: Path) -> dict[str, Any]:
    """features.json from model.tar.gz, read by name (nothing else is extracted)."""
    archive = model_dir / MODEL_ARCHIVE
    if not archive.is_file():
        present = sorted(path.name for path in model_dir.iterdir()) if model_dir.is_dir() else []
        raise DataError(f"no {MODEL_ARCHIVE} in {model_dir}; it holds: {', '.join(present) or 'nothing'}")
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:  # stops decompressing at features.json (train.py's files lie at the root)
                if member.isfile() and member.name.lstrip("./") == FEATURES_FILE:
                    stream = tar.extractfile(member)
                    if stream is not None:
                        with stream:
                            text = stream.read().decode("utf-8")
                        break
            else:
                raise DataError(f"{archive} has no {FEATURES_FILE}")
    except (OSError, tarfile.TarError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read {FEATURES_FILE} from {archive}: {error}") from None
    try:
        description = json.loads(text)
    except ValueError as error:
        raise DataError(f"{FEATURES_FILE} in {archive} is not JSON: {error}") from None
    features = description.get("features") if isinstance(description, dict) else None
    if not isinstance(features, list) or not features:
        raise DataError(f"{FEATURES_FILE} in {archive} lists no features")
    categories = description.get("categories") or {}
    if not isinstance(categories, dict):
        raise DataError(f"{FEATURES_FILE} in {archive}: 'categories' is not an object")
    return {"features": [str(name) for name in features], "categories": categories}


# --- the offline store --------------------------------------------------------------
def parquet_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise DataError(f"offline store directory {directory} does not exist")
    found = [
        path
        for path in sorted(directory.rglob("*"))  # sorted: the same files give the same output
        if path.is_file()
        and path.name.lower().endswith((".parquet", ".pq"))
        and not path.name.startswith((".", "_"))  # hidden files, _SUCCESS-style markers
    ]
    if not found:
        raise DataError(f"no Parquet files under {directory}")
    return found


def read_store(files: list[Path], wanted: list[str]) -> tuple[pd.DataFrame, dict[str, int]]:
    """The wanted columns of every file (those it has), and per column how many files had it."""
    try:
        from pyarrow import parquet
    except ImportError as error:
        raise DataError(f"cannot read Parquet: {error}") from None
    frames, having = [], dict.fromkeys(wanted, 0)
    for path in files:
        try:
            handle = parquet.ParquetFile(str(path))  # one file: no partition columns from the path
            columns = [name for name in wanted if name in set(handle.schema_arrow.names)]
            frame = handle.read(columns=columns).to_pandas()
        except (OSError, ValueError) as error:  # not Parquet, truncated (pyarrow's errors are both)
            raise DataError(f"cannot read {path}: {error}") from None
        for name in columns:
            having[name] += 1
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True, sort=False)
    frame[_ORDER] = range(len(frame))  # files in path order, then their rows: the last tie-breaker
    log.info("read %d row(s) from %d Parquet file(s)", len(frame), len(files))
    return frame, having


def as_times(column: pd.Series, name: str, required: bool) -> pd.Series:
    """A time column as UTC timestamps: Feature Store's ISO 8601 strings, epoch seconds (Fractional
    event times) or Parquet timestamps. Unparsable values are missing (NaT); for the event time, an error."""
    if pd.api.types.is_datetime64_any_dtype(column):
        times = pd.to_datetime(column, utc=True)
    else:
        seconds = column.astype("float64") if pd.api.types.is_numeric_dtype(column) else None
        if seconds is None:
            seconds = pd.to_numeric(column, errors="coerce")
        times = pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")
        text = column.where(seconds.isna() & column.notna()).map(_text)  # plain str or None (pandas 1.x too)
        if text.notna().any():
            iso = {"format": "ISO8601"} if int(pd.__version__.split(".")[0]) >= 2 else {}
            parsed = pd.to_datetime(text, utc=True, errors="coerce", **iso)
            times = times.where(text.isna(), parsed)
    if required:
        bad = int(times.isna().sum())
        if bad:
            raise DataError(f"{bad} row(s) have no event time, or one that is not a time, in '{name}'")
    return times


def _text(value: Any) -> str | None:
    return None if _missing(value) else str(value).strip()


def deleted(column: pd.Series) -> pd.Series:
    """is_deleted as booleans: a bool column, or true/1 as text (missing: not deleted)."""
    if pd.api.types.is_bool_dtype(column):
        return column.astype(bool)
    return column.map(lambda value: (_text(value) or "").lower() in ("true", "1", "1.0")).astype(bool)


def latest_records(frame: pd.DataFrame, record_identifier: str, event_time: str) -> pd.DataFrame:
    """Each record's latest row, records whose latest row is a deletion left out; sorted by identifier."""
    unnamed = frame[record_identifier].isna()
    if unnamed.any():
        log.warning("skipping %d row(s) without a record identifier", int(unnamed.sum()))
        frame = frame.loc[~unnamed]
    frame = frame.assign(**{_EVENT: as_times(frame[event_time], event_time, required=True)})
    for helper, name in ((_INVOKED, API_INVOCATION_TIME), (_WRITTEN, WRITE_TIME)):
        if name in frame.columns:
            frame[helper] = as_times(frame[name], name, required=False)
        else:
            frame[helper] = pd.NaT
    order = [record_identifier, _EVENT, _INVOKED, _WRITTEN, _ORDER]  # _ORDER: file, then row: a total order
    latest = frame.sort_values(order, na_position="first").drop_duplicates(record_identifier, keep="last")
    gone = deleted(latest[IS_DELETED]) if IS_DELETED in latest.columns else pd.Series(False, index=latest.index)
    log.info(
        "%d record(s): %d current, %d deleted (their latest row is a deletion)",
        len(latest),
        int((~gone).sum()),
        int(gone.sum()),
    )
    return latest.loc[~gone].reset_index(drop=True)


# --- CSV values ---------------------------------------------------------------------
def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # not a scalar
        return False


def category_text(value: Any) -> str | None:
    """inference.py's category_text, for the values Parquet gives: None when missing."""
    if _missing(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    text = str(value).strip()
    return text or None


def number_text(value: Any) -> str | None:
    """A numeric feature's value as CSV text ('' when missing); None when it is not a number."""
    if _missing(value):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, float):
        return repr(float(value))  # round-trips; numpy's repr would say np.float64(...)
    if isinstance(value, numbers.Real):  # Decimal (Parquet decimals) and the like
        return str(value)
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str):  # a String feature holding numbers: inference.py parses the text
        text = value.strip()
        if not text:
            return ""
        if text.lower() in _BOOLEANS:
            return text
        try:
            float(text)
        except ValueError:
            return None
        return text
    return None


def feature_texts(frame: pd.DataFrame, name: str, categorical: bool) -> list[str]:
    texts, bad = [], 0
    for value in frame[name].tolist():
        if categorical:
            text = category_text(value)
            texts.append("" if text is None else text)
        else:
            number = number_text(value)
            if number is None:
                bad += 1
                number = ""
            texts.append(number)
    if bad:
        raise DataError(f"feature '{name}' has {bad} value(s) that are not numbers; the model reads it as a number")
    _no_line_breaks(texts, f"feature '{name}'")
    return texts


def _no_line_breaks(texts: list[str], what: str) -> None:
    broken = sum(1 for text in texts if any(mark in text for mark in _LINE_BREAKS))
    if broken:
        raise DataError(f"{what} has {broken} value(s) with a line break, which would split a record's line")


def identifier_texts(frame: pd.DataFrame, name: str) -> list[str]:
    texts = []
    for value in frame[name].tolist():
        text = category_text(value)  # 123.0 (a gap made the column floats) is 123
        texts.append("" if text is None else text)
    _no_line_breaks(texts, f"record identifier '{name}'")
    return texts


def write_csv(path: Path, columns: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as stream:
        # "\n": the transform job splits on it. csv quotes a lone empty field as "" (one feature,
        # missing), so no record is a blank line, which inference.py would skip.
        writer = csv.writer(stream, lineterminator="\n")
        for row in range(len(columns[0])):  # no zip(strict=): the container may run Python 3.8
            writer.writerow([column[row] for column in columns])


def run(args: argparse.Namespace) -> None:
    description = read_description(Path(args.model_dir))
    features, categories = description["features"], description["categories"]
    files = parquet_files(Path(args.offline_store_dir))
    keys = [args.record_identifier, args.event_time]
    wanted = list(dict.fromkeys([*keys, *STORE_COLUMNS, *features]))
    frame, having = read_store(files, wanted)
    for what, key in {"record identifier": args.record_identifier, "event time": args.event_time}.items():
        if not having[key]:
            raise DataError(f"the offline store has no {what} column '{key}'")
    missing = [name for name in features if not having[name]]
    if missing:
        raise DataError(f"the offline store lacks feature(s) the model takes: {', '.join(missing)}")
    partly = [name for name in features if having[name] < len(files)]
    if partly:
        log.warning("feature(s) in only some files (missing in the others' rows): %s", ", ".join(partly))
    current = latest_records(frame, args.record_identifier, args.event_time)
    if current.empty:
        raise DataError(f"no current records under {args.offline_store_dir}: nothing to score")
    columns = [feature_texts(current, name, name in categories) for name in features]
    identifiers = identifier_texts(current, args.record_identifier)
    write_csv(Path(args.output_dir) / INPUT_FILE, columns)
    records = Path(args.records_dir or args.output_dir) / RECORDS_FILE
    write_csv(records, [identifiers])
    log.info(
        "%d record(s), %d feature(s) -> %s; identifiers -> %s",
        len(current),
        len(features),
        Path(args.output_dir) / INPUT_FILE,
        records,
    )


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stdout)
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except DataError as error:
        print(f"batch_input: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
