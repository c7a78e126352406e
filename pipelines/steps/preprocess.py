"""Processing step: raw CSV/Parquet files -> train/validation/test splits.

Runs standalone in the SageMaker scikit-learn processing container, so it imports no
project module: every path is an argument whose default is the container path from
pipelines/layout.py (tests/test_step_scripts.py keeps them equal).

Each split is written as <split dir>/data.csv with a header row and the label first; the
data-quality baseline dataset as <baseline dir>/baseline.csv: the train split's feature
columns only (header row, the model's feature order), the shape of the endpoint traffic
Model Monitor compares with it (captured requests carry no label).
Features: every column but the label and --drop-columns. Numeric and boolean columns are
used as numbers (booleans as 0/1); the --categorical-columns are kept as text, and train.py
encodes them (recording the categories in the model, so serving applies the same encoding).
Any other non-numeric column is refused, never dropped silently: name it in one of the two.
Each split directory also gets columns.json ({"label": ..., "categorical": [...]}), which
tells train.py which columns are categories even when their values look like numbers.
A headerless CSV (--column-names) is read with those names; Parquet files keep their own.

Lineage: <lineage dir>/lineage.json records every input file read (path below the input
directory, sha256, bytes, rows), the rows split, --data-source and --pipeline-execution-arn,
merged into the definition-time context the pipeline passes as JSON split over the
environment variables MLSTACK_LINEAGE_CONTEXT_000, _001, ... (layout.py documents the keys).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

INPUT_DIR = "/opt/ml/processing/input"
OUTPUT_DIRS = {
    "train": "/opt/ml/processing/train",
    "validation": "/opt/ml/processing/validation",
    "test": "/opt/ml/processing/test",
}
SPLIT_FILE = "data.csv"
COLUMNS_FILE = "columns.json"  # beside each split's data.csv: the label and the categorical columns
BASELINE_DIR = "/opt/ml/processing/baseline"
BASELINE_FILE = "baseline.csv"
LINEAGE_DIR = "/opt/ml/processing/lineage"
LINEAGE_FILE = "lineage.json"
LINEAGE_VERSION = 1  # of lineage.json's layout
LINEAGE_CONTEXT_ENV = "MLSTACK_LINEAGE_CONTEXT"  # + _000, _001, ...: one JSON document in pieces
MIN_ROWS = 20
# An integer label with at most this many distinct values is treated as classes (stratified split).
MAX_CLASSES = 20
# Bookkeeping columns SageMaker Feature Store adds to every offline-store record.
FEATURE_STORE_COLUMNS = ("write_time", "api_invocation_time", "is_deleted")

log = logging.getLogger("preprocess")


class DataError(Exception):
    """The input cannot be turned into usable splits; the message says why."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--input-dir", default=INPUT_DIR, help="searched recursively for *.csv and *.parquet")
    parser.add_argument("--target", required=True, help="label column")
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument(
        "--drop-columns", default="", help="comma-separated columns never used as features (record id, event time)"
    )
    parser.add_argument(
        "--categorical-columns", default="", help="comma-separated feature columns whose values are categories"
    )
    parser.add_argument(
        "--column-names", default="", help="comma-separated names of a headerless CSV's columns, in order"
    )
    parser.add_argument("--seed", type=int, default=42)
    for split, path in OUTPUT_DIRS.items():
        parser.add_argument(f"--{split}-dir", default=path, help=f"where the {split} {SPLIT_FILE} is written")
    parser.add_argument(
        "--baseline-dir", default=BASELINE_DIR, help=f"where {BASELINE_FILE} (train split, features only) is written"
    )
    parser.add_argument("--lineage-dir", default=LINEAGE_DIR, help=f"where {LINEAGE_FILE} is written")
    parser.add_argument("--pipeline-execution-arn", default=None, help="recorded in the lineage")
    parser.add_argument(
        "--data-source", action="append", default=[], help="S3 URI of input data-<n> (repeated, in order)"
    )
    return parser


def _headerless(names: list[str]) -> Callable[[Path], pd.DataFrame]:
    def read(path: Path) -> pd.DataFrame:
        frame = pd.read_csv(path, header=None)
        if frame.shape[1] != len(names):
            raise ValueError(f"{frame.shape[1]} columns, but --column-names names {len(names)}")
        frame.columns = names
        return frame

    return read


def _reader(path: Path, names: list[str]) -> Callable[[Path], pd.DataFrame] | None:
    name = path.name.lower()
    if name.startswith((".", "_")):  # hidden files, _SUCCESS markers
        return None
    if name.endswith((".csv", ".csv.gz")):
        return _headerless(names) if names else pd.read_csv
    if name.endswith((".parquet", ".pq")):
        return pd.read_parquet
    return None


def read_input(input_dir: Path, names: list[str] | None = None) -> pd.DataFrame:
    return load_input(input_dir, names)[0]


def file_record(path: Path, input_dir: Path, rows: int) -> dict[str, object]:
    """A lineage entry for an input file: where it lies below the input directory, its digest and size."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return {"path": path.relative_to(input_dir).as_posix(), "sha256": digest.hexdigest(), "bytes": size, "rows": rows}


def load_input(input_dir: Path, names: list[str] | None = None) -> tuple[pd.DataFrame, list[dict[str, object]]]:
    """All input rows, and a lineage record of every file read (in read order: sorted by path)."""
    if not input_dir.is_dir():
        raise DataError(f"input directory {input_dir} does not exist")
    # Sorted, so the row order (and with it the split) does not depend on the file system.
    readers = {
        path: read
        for path in sorted(input_dir.rglob("*"))
        if path.is_file() and (read := _reader(path, names or [])) is not None
    }
    if not readers:
        raise DataError(f"no CSV or Parquet files under {input_dir}")
    frames, files = [], []
    for path, read in readers.items():
        try:
            frames.append(read(path))
        except (ImportError, ValueError, OSError) as error:  # unparsable file, no Parquet engine
            raise DataError(f"cannot read {path}: {error}") from error
        files.append(file_record(path, input_dir, len(frames[-1])))
    if len({frozenset(frame.columns) for frame in frames}) > 1:
        log.warning("the %d input files have different columns; missing values stay empty", len(readers))
    frame = pd.concat(frames, ignore_index=True, sort=False)
    log.info("read %d rows, %d columns from %d file(s)", len(frame), frame.shape[1], len(readers))
    if all(column in frame.columns for column in FEATURE_STORE_COLUMNS):
        # A feature group's offline store: skip deleted records, drop the bookkeeping columns.
        deleted = frame["is_deleted"].astype(str).str.lower().isin(["true", "1"])
        log.info("feature store offline data: dropping %d deleted record(s)", int(deleted.sum()))
        frame = frame.loc[~deleted].drop(columns=list(FEATURE_STORE_COLUMNS)).reset_index(drop=True)
    return frame, files


def _listed(what: str, columns: list[str], frame: pd.DataFrame) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataError(f"{what} names columns that do not exist: {', '.join(missing)}")


def as_categories(column: pd.Series) -> pd.Series:
    """A categorical column as text: whole-number codes without '.0' (a gap makes pandas read floats)."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        present = column.dropna()
        if (present.astype("float64") % 1 == 0).all():
            return column.astype("Int64").astype("string")
    return column.astype("string")


def select_columns(
    frame: pd.DataFrame, target: str, drop: list[str], categorical: list[str] | None = None
) -> pd.DataFrame:
    """Validate the label and return [label, *features]: numbers, and categories as text."""
    categorical = categorical or []
    columns = [str(column) for column in frame.columns]
    if target not in frame.columns:
        raise DataError(f"target column '{target}' not found; columns are: {', '.join(columns)}")
    for what, listed in (("--drop-columns", drop), ("--categorical-columns", categorical)):
        if target in listed:
            raise DataError(f"target column '{target}' is also listed in {what}")
        _listed(what, listed, frame)
    both = sorted(set(drop) & set(categorical))
    if both:
        raise DataError(f"column(s) both dropped and categorical: {', '.join(both)}")
    nulls = int(frame[target].isna().sum())
    if nulls:
        raise DataError(f"target column '{target}' has {nulls} empty value(s); fill or filter them first")
    if len(frame) < MIN_ROWS:
        raise DataError(f"only {len(frame)} rows; at least {MIN_ROWS} are needed to train and evaluate")
    features = [column for column in frame.columns if column != target and column not in drop]
    unusable = [
        str(column)
        for column in features
        if column not in categorical and not pd.api.types.is_numeric_dtype(frame[column])  # bool is numeric
    ]
    if unusable:
        raise DataError(
            f"column(s) {', '.join(unusable)} are not numeric: list each under the model's data.categorical "
            "(encoded as categories) or data.exclude (not a feature)"
        )
    out = frame[[target, *features]].copy()
    booleans = [
        column for column in features if column not in categorical and pd.api.types.is_bool_dtype(frame[column])
    ]
    out[booleans] = out[booleans].astype("int64")
    for column in categorical:
        out[column] = as_categories(frame[column])
    if not features:
        raise DataError("no feature columns left after dropping the label and --drop-columns")
    log.info("label '%s', %d feature(s): %s", target, len(features), ", ".join(map(str, features)))
    if categorical:
        log.info("categorical: %s", ", ".join(categorical))
    return out


def is_categorical(label: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(label) or not pd.api.types.is_numeric_dtype(label):
        return True
    integral = bool((label.astype("float64") % 1 == 0).all())
    return integral and label.nunique() <= MAX_CLASSES


def split(frame: pd.DataFrame, validation_fraction: float, test_fraction: float, seed: int) -> dict[str, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    for name, fraction in (("validation", validation_fraction), ("test", test_fraction)):
        if not 0 < fraction < 1:
            raise DataError(f"--{name}-fraction must be between 0 and 1, got {fraction}")
    if validation_fraction + test_fraction >= 1:
        raise DataError("--validation-fraction plus --test-fraction must leave rows for training")
    rows = len(frame)
    sizes = {"test": round(rows * test_fraction), "validation": round(rows * validation_fraction)}
    sizes["train"] = rows - sizes["test"] - sizes["validation"]
    for name in ("train", "validation", "test"):
        if sizes[name] < 1:
            raise DataError(f"the {name} split would be empty ({rows} rows); use more data or a larger fraction")
    label = frame.iloc[:, 0]
    stratify = is_categorical(label)
    if stratify:
        counts = label.value_counts()
        # Stratifying needs every class in every split: at least 3 rows each, and splits of >= k rows.
        if counts.min() < 3 or min(sizes.values()) < len(counts):
            log.warning("label has rare classes (%s); splitting without stratification", counts.to_dict())
            stratify = False
    rest, test = train_test_split(
        frame, test_size=sizes["test"], random_state=seed, stratify=label if stratify else None
    )
    train, validation = train_test_split(
        rest, test_size=sizes["validation"], random_state=seed, stratify=rest.iloc[:, 0] if stratify else None
    )
    # Rows keep their input order (e.g. by time) within each split.
    return {"train": train.sort_index(), "validation": validation.sort_index(), "test": test.sort_index()}


def lineage_context(environ: dict[str, str]) -> dict[str, object]:
    """The pipeline's definition-time lineage facts: the JSON pieces in the environment, in order."""
    prefix = LINEAGE_CONTEXT_ENV + "_"
    pieces = sorted(
        (name, value) for name, value in environ.items() if name.startswith(prefix) and name[len(prefix) :].isdigit()
    )
    if not pieces:
        return {}
    try:
        context = json.loads("".join(value for _, value in pieces))
    except ValueError as error:
        raise DataError(f"the lineage context in {prefix}* is not JSON: {error}") from error
    if not isinstance(context, dict):
        raise DataError(f"the lineage context in {prefix}* is not a JSON object")
    return context


def lineage(
    context: dict[str, object], files: list[dict[str, object]], rows: int, args: argparse.Namespace
) -> dict[str, object]:
    """lineage.json: the context, with what only this run knows (the execution, the data read)."""
    return {
        **context,
        "version": LINEAGE_VERSION,
        "pipeline_execution_arn": args.pipeline_execution_arn,
        "data": {"sources": list(args.data_source), "files": files, "rows": rows},
        "code": context.get("code", {}),
        "training": context.get("training"),
        "feature_group": context.get("feature_group"),
    }


def _names(value: str) -> list[str]:
    return [column.strip() for column in value.split(",") if column.strip()]


def run(args: argparse.Namespace) -> None:
    categorical, names = _names(args.categorical_columns), _names(args.column_names)
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(f"--column-names repeats: {', '.join(repeated)}")
    context = lineage_context(dict(os.environ))  # a broken context fails before the work, not after
    frame, files = load_input(Path(args.input_dir), names)
    frame = select_columns(frame, args.target, _names(args.drop_columns), categorical)
    splits = split(frame, args.validation_fraction, args.test_fraction, args.seed)
    columns = json.dumps({"label": args.target, "categorical": categorical}, indent=2) + "\n"
    for name, part in splits.items():
        directory = Path(getattr(args, f"{name}_dir"))
        directory.mkdir(parents=True, exist_ok=True)
        part.to_csv(directory / SPLIT_FILE, index=False)
        (directory / COLUMNS_FILE).write_text(columns)
        summary = part.iloc[:, 0].value_counts().sort_index().to_dict() if is_categorical(frame.iloc[:, 0]) else ""
        log.info("%s: %d rows -> %s %s", name, len(part), directory / SPLIT_FILE, summary)
    # The data-quality baseline: the train rows without the label, features in training order.
    baseline = Path(args.baseline_dir)
    baseline.mkdir(parents=True, exist_ok=True)
    splits["train"].iloc[:, 1:].to_csv(baseline / BASELINE_FILE, index=False)
    log.info("baseline: %d rows, %d features -> %s", len(splits["train"]), frame.shape[1] - 1, baseline / BASELINE_FILE)
    record = lineage(context, files, len(frame), args)
    directory = Path(args.lineage_dir)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / LINEAGE_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    log.info("lineage: %d file(s), %d rows -> %s", len(files), len(frame), directory / LINEAGE_FILE)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stdout)
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except DataError as error:
        print(f"preprocess: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
