"""Batch scoring, locally: a feature group's offline store -> batch_input.py -> a batch transform job.

The transform job (ContentType text/csv, SplitType Line, BatchStrategy MultiRecord, AssembleWith
Line, DataProcessing.JoinSource Input) is simulated on the handlers of the inference.py inside a
model.tar.gz trained here with tests/test_step_scripts.py's helpers: the input file is split into
lines, the lines packed into mini-batches of at most a maximum payload, each mini-batch goes
through input_fn -> predict_fn -> output_fn, and every output line is appended to its input line
(`<input line>,<output line>`), which needs exactly one output line per input record.

batch_input.py runs as its own process, as the processing job runs it, on Parquet files written
the way the offline store lays them out (several versions per record, deletions, the store's
bookkeeping columns), and in this process for the edge cases.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import sys
import tarfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from mlstack.pipelines import layout
from mlstack.pipelines.steps import batch_input, inference, preprocess, train
from tests.test_step_scripts import DROP, FEATURES, Ran, fraud_frame, package, run, sagemaker_env, serve, split_dirs

ID, EVENT_TIME = "transaction_id", "event_time"
STORE_ARGS = ["--record-identifier", ID, "--event-time", EVENT_TIME]


# --- the batch transform job, simulated ------------------------------------------------------
def mini_batches(body: bytes, max_payload: int) -> list[list[bytes]]:
    """SplitType Line + BatchStrategy MultiRecord: the file's lines (without their line break),
    as many per request as fit in max_payload bytes; a record larger than that fails the job."""
    lines = body.split(b"\n")
    if lines and lines[-1] == b"":  # the file's last line break ends a record, it starts none
        lines.pop()
    batches: list[list[bytes]] = []
    size = 0
    for line in lines:
        if len(line) + 1 > max_payload:
            raise AssertionError(f"a record of {len(line) + 1} bytes exceeds the maximum payload {max_payload}")
        if not batches or size + len(line) + 1 > max_payload:
            batches.append([])
            size = 0
        batches[-1].append(line)
        size += len(line) + 1
    return batches


def transform(handlers: Any, model: Any, body: bytes, max_payload: int, final_break: bool = True) -> str:
    """The joined output file (JoinSource Input, AssembleWith Line): `<input line>,<output line>` per
    record, in input order. Requests end with a line break or not (`final_break`): both occur."""
    joined = []
    for batch in mini_batches(body, max_payload):
        request = b"\n".join(batch) + (b"\n" if final_break else b"")
        prediction = handlers.predict_fn(handlers.input_fn(request, "text/csv"), model)
        response, content_type = handlers.output_fn(prediction, "text/csv")
        assert content_type == "text/csv"
        # The job splits the response into records on line breaks, as it split the input.
        assert response.endswith("\n") and "\r" not in response
        records = response[:-1].split("\n")
        assert len(records) == len(batch), "JoinSource Input needs one output record per input record"
        assert all(records), "an empty output line"
        joined += [f"{line.decode()},{record}\n" for line, record in zip(batch, records, strict=True)]
    return "".join(joined)


def appended(joined: str, width: int) -> np.ndarray:
    """The values the transform appended: each joined line's fields after the input's `width`."""
    rows = list(csv.reader(io.StringIO(joined)))
    return np.array([[float(value) for value in row[width:]] for row in rows])


# --- a trained model ----------------------------------------------------------------------------
class Trained:
    """model.tar.gz from train.py, and what a serving container makes of it."""

    def __init__(self, root: Path) -> None:
        self.archive = package(root / "model", root / "archive")
        self.handlers, self.model = serve(self.archive, root / "serving")
        self.description = json.loads((root / "serving" / layout.FEATURES_FILE).read_text())
        self.estimator = joblib.load(root / "serving" / layout.MODEL_FILE)

    def expected(self, features: pd.DataFrame) -> np.ndarray:
        """The estimator's own positive-class probabilities, the features encoded by hand (a
        category's code is its position in features.json; unseen or missing: NaN)."""
        encoded = features[self.description["features"]].copy()
        for name, known in self.description["categories"].items():
            encoded[name] = features[name].map({category: code for code, category in enumerate(known)})
        return self.estimator.predict_proba(encoded.to_numpy(dtype=np.float64))[:, 1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    root = tmp_path_factory.mktemp("trained")
    frame = fraud_frame(rows=200)
    (root / "input").mkdir()
    frame.to_csv(root / "input" / "data.csv", index=False)
    with threadpool_limits(1):
        assert (
            preprocess.main(["--input-dir", str(root / "input"), "--target", "is_fraud", *DROP, *split_dirs(root)]) == 0
        )
        with pytest.MonkeyPatch.context() as patch:
            for name, value in sagemaker_env(root, root / "model").items():
                patch.setenv(name, value)
            assert train.main(["--algorithm", "hist_gradient_boosting", "--max_iter", "15"]) == 0
    return Trained(root)


def test_output_fn_writes_one_line_per_record() -> None:
    """What JoinSource Input needs of the CSV response, for every problem type and batch size."""
    for records in (1, 2, 7):
        for prediction in (np.linspace(0, 1, records), np.full((records, 3), 1 / 3)):  # binary/regression, multiclass
            body, content_type = inference.output_fn(prediction, "text/csv")
            assert content_type == "text/csv"
            lines = body.split("\n")
            assert lines[-1] == "" and len(lines) == records + 1  # one line per record, each ending in "\n"
            assert all(line.count(",") == prediction.reshape(records, -1).shape[1] - 1 for line in lines[:-1])


@pytest.mark.parametrize("final_break", [True, False])
def test_the_transform_joins_each_input_line_with_its_prediction(trained: Trained, final_break: bool) -> None:
    test_split = pd.read_csv(trained.archive.parent / "test" / layout.SPLIT_FILE, dtype={"channel": str})
    features = test_split[trained.description["features"]]
    body = features.to_csv(header=False, index=False).encode()
    lines = body.decode().splitlines()
    longest = max(len(line) for line in lines) + 1
    outputs = {
        max_payload: transform(trained.handlers, trained.model, body, max_payload, final_break)
        for max_payload in (6 * 1024 * 1024, 200, 3 * longest - 1, longest)  # one request ... one per record
    }
    assert len(mini_batches(body, longest)) == len(lines) > len(mini_batches(body, 200)) > 1
    joined = outputs[6 * 1024 * 1024]
    assert len(set(outputs.values())) == 1  # mini-batch boundaries change nothing
    rows = joined.splitlines()
    assert len(rows) == len(lines)
    for line, row in zip(lines, rows, strict=True):  # in order, each the exact input line then the output
        assert row.startswith(line + ",") and row.count(",") == line.count(",") + 1
    np.testing.assert_allclose(appended(joined, len(FEATURES))[:, 0], trained.expected(features), rtol=1e-12)


# --- the offline store --------------------------------------------------------------------------
def _at(day: int, hour: int = 0) -> pd.Timestamp:
    return pd.Timestamp(2024, 3, 1, tz="UTC") + pd.Timedelta(days=day - 1, hours=hour)


def offline_store(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Writes Parquet files as a feature group's offline store holds them; returns the first file's
    rows and (the oracle, written out by hand) each current record's latest values, sorted by
    record identifier."""
    base = fraud_frame(rows=30, seed=21).drop(columns=["is_fraud"])
    base["card_present"] = base["card_present"].astype(int)  # Feature Store has no booleans: Integral 0/1
    base["customer_segment"] = "retail"  # a feature of the group the model does not take
    base[EVENT_TIME] = _at(1).strftime("%Y-%m-%dT%H:%M:%SZ")
    base = base.set_index(ID)
    ids = list(base.index)

    def rows(
        selected: list[str], day: int, hour: int = 0, invoked: int = 5, written: int = 10, **changes: Any
    ) -> pd.DataFrame:
        """Versions of the selected records at that event time, invoked/written seconds/minutes after it."""
        frame = base.loc[selected].copy()
        frame[EVENT_TIME] = _at(day, hour).strftime("%Y-%m-%dT%H:%M:%S.000Z")  # with milliseconds
        for name, value in changes.items():
            frame[name] = value(frame[name]) if callable(value) else value
        frame["api_invocation_time"] = (_at(day, hour) + pd.Timedelta(seconds=invoked)).tz_localize(None)
        frame["write_time"] = (_at(day, hour) + pd.Timedelta(minutes=written)).tz_localize(None)
        frame["is_deleted"] = changes.get("is_deleted", False)
        return frame

    first = base.copy()
    first["api_invocation_time"] = pd.Timestamp("2024-03-01 00:00:05")
    first["write_time"] = "2024-03-01 00:10:00.000"  # a string here, a timestamp elsewhere
    first["is_deleted"] = False
    files = {
        "year=2024/month=03/day=01/hour=00/20240301T001000Z_first.parquet": first,
        "year=2024/month=03/day=02/hour=00/20240302T001000Z_update.parquet": pd.concat(
            [
                rows(ids[0:10], 2, amount=lambda amount: amount * 2),  # later: wins
                rows(ids[13:15], 4, invoked=30, written=1, merchant_risk=0.99),  # same event time, invoked later: wins
                rows(ids[15:16], 4, invoked=30, written=1, merchant_risk=0.01),  # invoked at the same time, ...
                rows(ids[20:21], 3, is_deleted=True, amount=np.nan),  # deleted last: gone
                rows(ids[21:22], 2, is_deleted=True),  # deleted, then put again (below): current
                rows(ids[22:23], 1, -1, is_deleted=True),  # deleted before its first row: current
                rows(ids[25:26], 2, amount=np.nan, channel=None),  # missing values
                rows(ids[26:27], 2, channel="kiosk"),  # a category never seen in training
            ]
        ),
        # Sorted after the file above: a later file, but older event times or earlier invocations.
        "year=2024/month=03/day=03/hour=00/20240303T001000Z_late.parquet": pd.concat(
            [
                rows(ids[10:13], 1, -12, amount=0.5),  # an older event time: loses to the first file's
                # Invoked earlier (though written later): loses.
                rows(ids[13:15], 4, invoked=10, written=20, merchant_risk=0.01),
                rows(ids[15:16], 4, invoked=30, written=20, merchant_risk=0.99),  # ... written later: wins
                rows(ids[21:22], 3, amount=123.45),
                rows(ids[27:28], 2, velocity_1h=np.nan),  # velocity_1h floats in this file
            ]
        ).drop(columns=["customer_segment"]),  # files of one store may differ in columns
    }
    for name, frame in files.items():  # the group's column order is not the model's
        others = [column for column in frame.columns if column not in (EVENT_TIME, *FEATURES)]
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        frame.reset_index()[[ID, EVENT_TIME, "channel", *FEATURES[:-1], *others]].to_parquet(root / name, index=False)
    (root / "year=2024" / "_SUCCESS").write_text("")
    (root / "metadata.json").write_text("{}")  # not Parquet: not read

    expected = base[FEATURES].copy()
    expected.loc[ids[0:10], "amount"] *= 2
    expected.loc[ids[13:15], "merchant_risk"] = 0.99
    expected.loc[ids[15:16], "merchant_risk"] = 0.99
    expected.loc[ids[21], "amount"] = 123.45
    expected.loc[ids[25], ["amount", "channel"]] = [np.nan, None]
    expected.loc[ids[26], "channel"] = "kiosk"
    expected["velocity_1h"] = expected["velocity_1h"].astype(float)
    expected.loc[ids[27], "velocity_1h"] = np.nan
    return first, expected.drop(index=ids[20]).sort_index()


def features_archive(directory: Path, description: dict[str, Any], name: str = layout.FEATURES_FILE) -> Path:
    """A model.tar.gz holding only features.json: all batch_input.py reads of a model."""
    directory.mkdir(parents=True)
    data = json.dumps(description).encode()
    with tarfile.open(directory / "model.tar.gz", "w:gz") as tar:
        member = tarfile.TarInfo(name)
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    return directory


def outputs(root: Path) -> list[str]:
    return ["--output-dir", str(root / "batch-input"), "--records-dir", str(root / "records")]


@pytest.fixture(scope="module")
def processes(
    trained: Trained, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict[str, Future[Ran]], Path, pd.DataFrame, pd.DataFrame]]:
    """batch_input.py as its own process, twice in parallel (each pays pandas' and pyarrow's imports):
    on the store, and on a store without a feature the model takes."""
    root = tmp_path_factory.mktemp("batch")
    written, expected = offline_store(root / "store")
    (root / "lacking" / "day=01").mkdir(parents=True)
    written.drop(columns=["merchant_risk"]).reset_index().to_parquet(root / "lacking" / "day=01" / "part.parquet")
    model = ["--model-dir", str(trained.archive)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield (
            {
                "store": pool.submit(  # records.csv beside input.csv, as by default
                    run,
                    "batch_input",
                    *("--offline-store-dir", str(root / "store"), *model, *STORE_ARGS),
                    *("--output-dir", str(root / "batch-input")),
                ),
                "lacking": pool.submit(
                    run,
                    "batch_input",
                    *("--offline-store-dir", str(root / "lacking"), *model, *STORE_ARGS, *outputs(root / "out")),
                ),
            },
            root,
            written,
            expected,
        )


def test_batch_input_writes_the_latest_records_in_the_models_feature_order(
    processes: tuple[dict[str, Future[Ran]], Path, pd.DataFrame, pd.DataFrame], trained: Trained
) -> None:
    ran, root, _, expected = processes
    done = ran["store"].result(timeout=120)
    assert done.returncode == 0, done.stderr
    assert "30 record(s): 29 current, 1 deleted" in done.stdout
    assert sorted(path.name for path in (root / "batch-input").iterdir()) == ["input.csv", "records.csv"]
    body = (root / "batch-input" / "input.csv").read_bytes()
    records = (root / "batch-input" / "records.csv").read_text()
    assert records == "".join(f"{identifier}\n" for identifier in expected.index)  # sorted, one per line
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert len(rows) == len(expected) and b"\r" not in body and body.endswith(b"\n")
    assert all(len(row) == len(FEATURES) for row in rows)  # no header, no record identifier
    for row, (_, values) in zip(rows, expected.iterrows(), strict=True):
        for field, name in zip(row, FEATURES, strict=True):
            value = values[name]
            if pd.isna(value):
                assert field == ""  # missing: an empty field
            elif name == "channel":
                assert field == value  # categories as text
            else:
                assert float(field) == value  # numbers as they are
    velocities = [row[FEATURES.index("velocity_1h")] for row in rows]
    assert all(field == "" or field.endswith(".0") for field in velocities)  # floats (one file's gap), as they are
    assert {row[FEATURES.index("card_present")] for row in rows} == {"0", "1"}

    # End to end: the file through the transform job, the scores joined back to the records.
    joined = transform(trained.handlers, trained.model, body, 300)
    lines = body.decode().splitlines()
    assert all(line.startswith(row + ",") for line, row in zip(joined.splitlines(), lines, strict=True))
    scores = dict(zip(records.splitlines(), appended(joined, len(FEATURES))[:, 0], strict=True))
    assert list(scores) == list(expected.index)
    np.testing.assert_allclose(list(scores.values()), trained.expected(expected), rtol=1e-12)


def test_batch_input_names_a_feature_the_store_lacks(
    processes: tuple[dict[str, Future[Ran]], Path, pd.DataFrame, pd.DataFrame],
) -> None:
    ran, root, written, _ = processes
    done = ran["lacking"].result(timeout=120)
    assert done.returncode == 1
    assert done.stderr == "batch_input: error: the offline store lacks feature(s) the model takes: merchant_risk\n"
    assert "Traceback" not in done.stdout + done.stderr
    printed = done.stdout + done.stderr
    assert not any(identifier in printed for identifier in written.index)  # no data values
    assert not (root / "out").exists()


# --- in this process: the edge cases ------------------------------------------------------------
def stored(directory: Path, frame: pd.DataFrame, name: str = "part-0.parquet") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(directory / name, index=False)
    return directory


def batch(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = batch_input.main(list(args))
    return code, capsys.readouterr().err


class _Sums:
    """An estimator stand-in: the row sums (NaN as 0) as the regression value."""

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        return np.nan_to_num(matrix).sum(axis=1)


def test_batch_input_is_standalone() -> None:
    """Like the other step scripts: it runs in the scikit-learn container, whose Python may be 3.8."""
    tree = ast.parse(Path(batch_input.__file__).read_text(), feature_version=(3, 8))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "." for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert {name.split(".")[0] for name in imported} <= {*sys.stdlib_module_names, "numpy", "pandas", "pyarrow"}


def test_parser_defaults_are_the_processing_paths() -> None:
    parser = batch_input.build_parser()
    assert parser.get_default("offline_store_dir") == f"{layout.PROCESSING_ROOT}/input/offline-store"
    assert parser.get_default("model_dir") == f"{layout.PROCESSING_ROOT}/input/model"
    assert parser.get_default("output_dir") == f"{layout.PROCESSING_ROOT}/output/batch-input"
    assert parser.get_default("records_dir") is None  # records.csv beside input.csv
    assert batch_input.FEATURES_FILE == layout.FEATURES_FILE


@pytest.mark.parametrize("member", ["features.json", "./features.json"])
def test_one_feature_with_missing_values_and_epoch_event_times(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], member: str
) -> None:
    """A lone missing value is written "" (a blank line would be skipped by input_fn and misalign the
    join); Fractional event times are epoch seconds; equal invocation times fall to write_time."""
    description = {"features": ["x"], "categories": {}, "problem_type": "Regression", "classes": None}
    archive = features_archive(tmp_path / "model", description, member)
    store = pd.DataFrame(
        {
            "id": [1, 2, 3, 3, 4, 4],
            "ts": [1.7e9, 1.7e9, 1.7e9, 1.7e9 + 0.5, 1.7e9, 1.7e9],
            "x": [2.5, np.nan, 1.0, 7.0, 8.0, 9.0],
            "write_time": pd.to_datetime(["2024-01-01"] * 4 + ["2024-01-02", "2024-01-01"]),
            "api_invocation_time": pd.to_datetime(["2024-01-01"] * 6),
            "is_deleted": [False] * 6,
        }
    )
    stored(tmp_path / "store", store)
    code, err = batch(
        capsys,
        *("--offline-store-dir", str(tmp_path / "store"), "--model-dir", str(archive)),
        *("--record-identifier", "id", "--event-time", "ts", *outputs(tmp_path)),
    )
    assert code == 0, err
    body = (tmp_path / "batch-input" / "input.csv").read_bytes()
    assert body == b'2.5\n""\n7.0\n8.0\n'
    assert (tmp_path / "records" / "records.csv").read_text() == "1\n2\n3\n4\n"
    model = inference.Model(_Sums(), description)
    assert len(mini_batches(body, 8)) == 2
    assert transform(inference, model, body, 8) == '2.5,2.5\n"",0.0\n7.0,7.0\n8.0,8.0\n'


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("no model", "no model.tar.gz in"),
        ("no files", "no Parquet files under"),
        ("no event time", "the offline store has no event time column 'event_time'"),
        ("bad event time", "1 row(s) have no event time, or one that is not a time, in 'event_time'"),
        ("text amount", "feature 'amount' has 1 value(s) that are not numbers; the model reads it as a number"),
        ("line break", "feature 'channel' has 1 value(s) with a line break"),
        ("all deleted", "no current records under"),
    ],
)
def test_batch_input_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str, message: str) -> None:
    description = {"features": FEATURES, "categories": {"channel": ["atm", "online", "pos"]}}
    frame = fraud_frame(rows=5).drop(columns=["is_fraud"]).assign(is_deleted=False)
    secret = "SECRET-VALUE"
    if change == "no event time":
        frame = frame.drop(columns=[EVENT_TIME])
    elif change == "bad event time":
        frame.loc[2, EVENT_TIME] = secret
    elif change == "text amount":
        frame["amount"] = frame["amount"].astype(str)
        frame.loc[1, "amount"] = secret
    elif change == "line break":
        frame.loc[3, "channel"] = f"{secret}\nx"
    elif change == "all deleted":
        frame["is_deleted"] = True
    if change != "no files":
        stored(tmp_path / "store", frame)
    else:
        (tmp_path / "store").mkdir()
    if change != "no model":
        features_archive(tmp_path / "model", description)
    code, err = batch(
        capsys,
        *("--offline-store-dir", str(tmp_path / "store"), "--model-dir", str(tmp_path / "model")),
        *STORE_ARGS,
        *outputs(tmp_path),
    )
    assert code == 1
    assert err.startswith("batch_input: error: ") and message in err and err.count("\n") == 1
    assert secret not in err
    assert not (tmp_path / "batch-input").exists()


def test_numbers_held_as_text_are_written_as_they_are(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A feature group may keep every feature as String; inference.py parses the text."""
    description = {"features": ["amount", "mcc", "flag"], "categories": {"mcc": ["5411", "5812"]}}
    frame = pd.DataFrame(
        {
            ID: ["b", "a", "c"],
            EVENT_TIME: ["2024-03-01T00:00:00Z"] * 3,
            "amount": [" 12.50", "", "true"],
            "mcc": [5411.0, np.nan, 5812.0],  # whole-number codes with a gap: floats
            "flag": [True, False, True],  # booleans as preprocess.py writes them for training: 1/0
        }
    )
    stored(tmp_path / "store", frame)
    code, err = batch(
        capsys,
        *(
            "--offline-store-dir",
            str(tmp_path / "store"),
            "--model-dir",
            str(features_archive(tmp_path / "m", description)),
        ),
        *STORE_ARGS,
        *outputs(tmp_path),
    )
    assert code == 0, err
    assert (tmp_path / "batch-input" / "input.csv").read_text() == ",,0\n12.50,5411,1\ntrue,5812,1\n"  # by id: a, b, c
    assert (tmp_path / "records" / "records.csv").read_text() == "a\nb\nc\n"
    matrix = inference.features_matrix(
        inference.input_fn((tmp_path / "batch-input" / "input.csv").read_bytes(), "text/csv"),
        description["features"],
        description["categories"],
    )
    np.testing.assert_array_equal(matrix, [[np.nan, np.nan, 0.0], [12.5, 0.0, 1.0], [1.0, 1.0, 1.0]])
