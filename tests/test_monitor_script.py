"""The drift monitor's processing script (pipelines/steps/monitor.py) on generated data capture
and batch transform output.

monitor.main(argv) runs in this process on temporary directories laid out as SageMaker
Processing stages them (capture files keep their relative S3 keys), and once as its own
process like the job runs it. Its statistics are checked against Evidently 0.7's own
stattests and its model quality against scikit-learn's metrics, on the same data.
"""

from __future__ import annotations

import ast
import base64
import json
import math
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

# Evidently's import takes seconds: once, for the whole module.
from evidently.legacy.calculations.stattests import chi_stat_test, ks_stat_test, psi_stat_test
from evidently.legacy.core import ColumnType
from scipy.stats import ks_2samp
from sklearn import metrics as skmetrics

from mlstack.pipelines import layout
from mlstack.pipelines.steps import monitor

STEPS = Path(monitor.__file__).resolve().parent
NUMERIC = ["amount", "velocity_1h", "merchant_risk", "card_present"]
FEATURES = [*NUMERIC, "channel"]
CHANNELS = ["online", "pos", "atm"]
CAPTURE_FILE = "AllTraffic/2026/12/01/05/00-01-000-capture.jsonl"
BATCH_FILE = "scored/2026-12-01/transactions-0.csv.out"  # batch transform: <input file name>.out
FEATURE_METRICS = {
    "numeric": {"FeatureDriftPSI", "FeatureMissingShare", "FeatureOutOfRangeShare", "FeatureKSStatistic"},
    "categorical": {"FeatureDriftPSI", "FeatureMissingShare", "FeatureNewCategoryShare"},
}
MODEL_METRICS = {"MaxFeatureDriftPSI", "DriftedFeatures", "RecordsMonitored", "MalformedRecords"}
BIAS_METRICS = {"BiasPositiveRateDifference", "BiasTruePositiveRateDifference"}


# --- generated data -----------------------------------------------------------------------
def traffic(rows: int, seed: int, amount_mean: float = 3.5) -> pd.DataFrame:
    """Card transactions: a skewed amount, a count, a uniform score, a flag and a category."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.lognormal(amount_mean, 0.8, rows).round(2),
            "velocity_1h": rng.poisson(2.0, rows),  # few distinct values: Evidently bins by value
            "merchant_risk": rng.uniform(0, 1, rows).round(4),
            "card_present": (rng.random(rows) < 0.6).astype(int),
            "channel": rng.choice(CHANNELS, rows, p=[0.5, 0.3, 0.2]),
        }
    )


def python_rows(frame: pd.DataFrame) -> list[list[Any]]:
    """Rows as JSON-able Python values in feature order (NaN/None -> None)."""
    rows = []
    for values in frame[FEATURES].itertuples(index=False):
        row: list[Any] = []
        for value in values:
            if value is None or (isinstance(value, float) and math.isnan(value)):
                row.append(None)
            elif isinstance(value, np.integer):
                row.append(int(value))
            elif isinstance(value, np.floating):
                row.append(float(value))
            else:
                row.append(value)
        rows.append(row)
    return rows


def _csv_field(value: Any) -> str:
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


def capture_record(
    rows: list[list[Any]],
    fmt: str = "csv",
    predictions: list[Any] | None = None,
    event_id: str = "evt",
    inference_id: str | None = None,
    second: int = 0,
    drop: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One SageMaker data capture record of a request in the given format."""
    if fmt in ("csv", "base64-csv"):
        data, content_type = "".join(",".join(_csv_field(value) for value in row) + "\n" for row in rows), "text/csv"
    else:
        content_type = "application/json"
        if fmt in ("json-objects", "base64-json-objects"):  # another key order, an extra key, keys dropped
            instances: Any = [
                {
                    "request_id": number,
                    **{name: value for name, value in reversed(list(zip(FEATURES, row, strict=True)))},
                }
                for number, row in enumerate(rows)
            ]
            instances = [{key: value for key, value in item.items() if key not in drop} for item in instances]
            data = json.dumps({"instances": instances})
        elif fmt == "json-lists":
            data = json.dumps({"instances": rows})
        elif fmt == "json-bare":
            data = json.dumps(rows)
        else:
            raise AssertionError(fmt)
    encoding = "CSV" if content_type == "text/csv" else "JSON"
    if fmt.startswith("base64"):
        data, encoding = base64.b64encode(data.encode()).decode(), "BASE64"
    capture: dict[str, Any] = {
        "endpointInput": {"observedContentType": content_type, "mode": "INPUT", "data": data, "encoding": encoding}
    }
    if predictions is not None:
        body = "".join(
            ",".join(repr(float(value)) for value in (row if isinstance(row, list) else [row])) + "\n"
            for row in predictions
        )
        capture["endpointOutput"] = {
            "observedContentType": "text/csv",
            "mode": "OUTPUT",
            "data": body,
            "encoding": "CSV",
        }
    metadata = {"eventId": event_id, "inferenceTime": f"2026-12-01T05:{second // 60:02d}:{second % 60:02d}Z"}
    if inference_id is not None:
        metadata["inferenceId"] = inference_id
    return {"captureData": capture, "eventMetadata": metadata, "eventVersion": "0"}


def write_lines(path: Path, lines: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def stage(root: Path, baseline: pd.DataFrame, records: list[Any], truth: list[Any] | None = None) -> Path:
    """The processing job's inputs under root: baseline/, capture/ and, optionally, ground-truth/."""
    (root / "baseline").mkdir(parents=True)
    baseline[FEATURES].to_csv(root / "baseline" / layout.BASELINE_FILE, index=False)
    write_lines(root / "capture" / CAPTURE_FILE, records)
    if truth is not None:
        write_lines(root / "ground-truth" / "2026/12/01/07/labels.jsonl", truth)
    return root


def dirs(root: Path) -> list[str]:
    return [
        *("--capture-dir", str(root / "capture"), "--baseline-dir", str(root / "baseline")),
        *("--ground-truth-dir", str(root / "ground-truth"), "--output-dir", str(root / "report")),
    ]


def per_row(frame: pd.DataFrame, **options: Any) -> list[dict[str, Any]]:
    """One capture record per row, CSV, with an inference id each."""
    return [
        capture_record([row], event_id=f"evt-{number}", second=number % 3600, **options)
        for number, row in enumerate(python_rows(frame))
    ]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """monitor.main in this process: (exit code, report.json or None, stdout, stderr)."""

    def call(root: Path, *args: str, problem_type: str = "BinaryClassification") -> tuple[int, Any, str, str]:
        capsys.readouterr()
        code = monitor.main(["--model", "fraud", "--problem-type", problem_type, *args, *dirs(root)])
        out, err = capsys.readouterr()
        path = root / "report" / monitor.REPORT_FILE
        return code, json.loads(path.read_text()) if path.is_file() else None, out, err

    return call


# --- the script as SageMaker runs it, in the background ------------------------------------
@pytest.fixture(scope="module")
def as_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """`python monitor.py ...` started with the module's first test (imports take a second or two)."""
    root = stage(tmp_path_factory.mktemp("process"), traffic(1500, 1), per_row(traffic(400, 2, amount_mean=4.2)))
    args = ["--model", "fraud", "--problem-type", "BinaryClassification", "--threshold", "0.1", *dirs(root)]
    process = subprocess.Popen(
        [sys.executable, str(STEPS / "monitor.py"), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    yield root, process
    process.kill()
    process.communicate()


@pytest.fixture(scope="module", autouse=True)
def start_process_early(request: pytest.FixtureRequest) -> None:
    selected = [item for item in request.session.items if getattr(item, "module", None) is request.module]
    if any("as_process" in getattr(item, "fixturenames", ()) for item in selected):
        request.getfixturevalue("as_process")


# --- tests --------------------------------------------------------------------------------
def test_defaults_are_the_container_paths_and_the_script_is_standalone() -> None:
    parser = monitor.build_parser()
    assert parser.get_default("baseline_dir") == layout.PREPROCESS_BASELINE  # preprocess.py writes it there
    assert monitor.BASELINE_FILE == layout.BASELINE_FILE
    for name, folder in (("capture", "capture"), ("ground_truth", "ground-truth"), ("output", "report")):
        assert parser.get_default(f"{name}_dir") == f"{layout.PROCESSING_ROOT}/{folder}"
    assert (parser.get_default("threshold"), parser.get_default("ks_pvalue")) == (0.1, 0.05)
    assert (parser.get_default("probability_threshold"), parser.get_default("bins")) == (0.5, 10)
    assert (parser.get_default("batch_dir"), parser.get_default("batch_content_type")) == (None, "text/csv")
    # The SageMaker scikit-learn image: Python as old as 3.8, numpy/scipy/pandas and nothing else to import.
    tree = ast.parse((STEPS / "monitor.py").read_text(), feature_version=(3, 8))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "." for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    allowed = set(sys.stdlib_module_names) | {"numpy", "scipy", "pandas"}
    assert {name.split(".")[0] for name in imported} <= allowed


def test_same_distribution_is_no_drift(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    root = stage(tmp_path, traffic(2000, 1), per_row(traffic(1000, 2)))
    code, report, out, err = run(root, "--threshold", "0.1")
    assert code == 0, err
    assert (report["records"], report["rows"], report["malformed"]["count"]) == (1000, 1000, 0)
    assert list(report["features"]) == FEATURES
    assert all(feature["psi"] < 0.1 and not feature["drifted"] for feature in report["features"].values())
    assert report["drift"]["drifted"] is False and report["drift"]["drifted_features"] == []
    assert report["drift"]["max_psi"] == max(feature["psi"] for feature in report["features"].values())
    assert (report["window_start"], report["window_end"]) == ("2026-12-01T05:00:00Z", "2026-12-01T05:16:39Z")
    assert (report["model_quality"], report["bias"], report["problems"]) == (None, None, [])
    summary = (root / "report" / monitor.SUMMARY_FILE).read_text()
    assert "**No drift**" in summary and "| `amount` | numeric |" in summary
    assert "no drift" in out


def test_a_shifted_feature_drifts_alone(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    current = traffic(1000, 2)
    current["amount"] = (current["amount"] * 1.8).round(2)
    code, report, _, err = run(stage(tmp_path, traffic(2000, 1), per_row(current)))
    assert code == 0, err  # drift is data, not failure
    features = report["features"]
    assert features["amount"]["psi"] > 0.1 and features["amount"]["drifted"]
    assert features["amount"]["ks_drifted"] and features["amount"]["ks_pvalue"] < 1e-6
    assert features["amount"]["out_of_range_share"] > 0
    assert all(features[name]["psi"] < 0.1 for name in FEATURES if name != "amount")
    assert report["drift"]["drifted_features"] == ["amount"]
    assert (report["drift"]["max_psi_feature"], report["drift"]["max_psi"]) == ("amount", features["amount"]["psi"])
    assert (
        "**Drift detected** in 1 of 5 feature(s): `amount`" in (tmp_path / "report" / monitor.SUMMARY_FILE).read_text()
    )


def evidently(reference: pd.Series, current: pd.Series, numeric: bool) -> dict[str, float]:
    """Evidently's stattests on NaN-free series, as its drift calculation calls them."""
    reference, current = reference.dropna(), current.dropna()
    if numeric:
        kind = ColumnType.Numerical
        return {
            "psi": psi_stat_test(reference, current, kind, 0.1).drift_score,
            "ks_pvalue": ks_stat_test(reference, current, kind, 0.05).drift_score,
            "ks_statistic": ks_2samp(reference, current)[0],  # what Evidently's ks calls, for the statistic
        }
    kind = ColumnType.Categorical
    with warnings.catch_warnings():  # a new category: expected count 0, scipy warns about the division
        warnings.simplefilter("ignore", RuntimeWarning)
        return {
            "psi": psi_stat_test(reference, current, kind, 0.1).drift_score,
            "chisquare_pvalue": chi_stat_test(reference, current, kind, 0.05).drift_score,
        }


@pytest.mark.parametrize("shifted", [False, True])
def test_statistics_equal_evidentlys(tmp_path: Path, run, shifted: bool) -> None:  # type: ignore[no-untyped-def]
    """PSI (histogram bins for many distinct values, value shares for few, empty bins filled), KS and
    chi-square, numeric and categorical: Evidently's numbers on the same data."""
    baseline, current = traffic(1500, 3), traffic(700, 4, amount_mean=4.5 if shifted else 3.5)
    if shifted:  # empty bins on both sides, a category more and missing values
        current.loc[current.index[:50], "channel"] = "crypto"
        current.loc[current.index[:30], "velocity_1h"] = 9
        current["merchant_risk"] = current["merchant_risk"].astype(float)
        current.loc[current.index[50:80], "merchant_risk"] = np.nan
    code, report, _, err = run(stage(tmp_path, baseline, per_row(current)))
    assert code == 0, err
    for name in FEATURES:
        numeric = name in NUMERIC
        expected = evidently(baseline[name], current[name], numeric)
        for statistic, value in expected.items():
            assert report["features"][name][statistic] == pytest.approx(value, abs=1e-6, rel=1e-9), (name, statistic)
    if shifted:
        assert report["features"]["amount"]["psi"] > 1 and report["features"]["channel"]["new_categories"] == ["crypto"]
    # The ks_pvalue threshold flags, PSI alone decides drift.
    for name in NUMERIC:
        feature = report["features"][name]
        assert feature["ks_drifted"] == (feature["ks_pvalue"] <= 0.05)
        assert feature["drifted"] == (feature["psi"] > 0.1)


def test_psi_equals_evidentlys_for_small_samples() -> None:
    """Edge cases of the binning: a constant reference, current values beyond the reference, one value."""
    cases = [
        (np.full(30, 5.0), np.array([5.0, 5.0, 6.0])),
        (np.arange(25, dtype=float), np.array([100.0, 101.0])),
        (np.linspace(0, 1, 50), np.array([0.5])),
    ]
    for reference, current in cases:
        expected = psi_stat_test(pd.Series(reference), pd.Series(current), ColumnType.Numerical, 0.1).drift_score
        assert monitor.psi(reference, current, numeric=True) == pytest.approx(expected, abs=1e-9)
    reference, current = ["a"] * 40 + ["b"] * 2, ["a"] * 3 + ["c"]
    expected = psi_stat_test(pd.Series(reference), pd.Series(current), ColumnType.Categorical, 0.1).drift_score
    assert monitor.psi(reference, current, numeric=False) == pytest.approx(expected, abs=1e-9)


def test_data_quality_problems_are_reported_not_fatal(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    rows = python_rows(traffic(300, 5))
    for row in rows[:30]:
        row[0] = None  # amount missing
    for row in rows[30:45]:
        row[4] = "crypto"  # a category the baseline never had
    rows[45][4] = "voucher"
    for row in rows[46:50]:
        row[1] = "n/a"  # not a number in a numeric column
    rows[50][0] = 10.0**9  # far beyond the baseline's range
    records = [capture_record([row], event_id=f"e{number}") for number, row in enumerate(rows[:200])]
    # JSON objects that lack merchant_risk
    records += [
        capture_record([row], "json-objects", event_id=f"j{number}", drop=("merchant_risk",))
        for number, row in enumerate(rows[200:])
    ]
    code, report, _, err = run(stage(tmp_path, traffic(1500, 1), records))
    assert code == 0, err
    features = report["features"]
    assert features["amount"]["missing_share"] == pytest.approx(30 / 300)
    assert features["amount"]["out_of_range_share"] == pytest.approx(1 / 300)
    assert features["velocity_1h"]["type_mismatch_share"] == pytest.approx(4 / 300)
    assert features["velocity_1h"]["missing_share"] == 0
    assert features["channel"]["new_categories"] == ["crypto", "voucher"]  # most frequent first
    assert features["channel"]["new_category_share"] == pytest.approx(16 / 300)
    assert features["merchant_risk"]["absent_share"] == pytest.approx(100 / 300)
    assert features["merchant_risk"]["missing_share"] == pytest.approx(100 / 300)  # absent counts as missing
    assert features["merchant_risk"]["psi"] is not None  # from the 200 rows that had it
    problems = "\n".join(report["problems"])
    for expected in (
        "feature 'merchant_risk': absent from 100 of 300 captured row(s)",
        "feature 'velocity_1h': 4 captured value(s) not a number (type mismatch)",
        "feature 'channel': 2 categories never seen in the baseline in 16 row(s)",
        "feature 'amount': 30 missing value(s); the baseline has none",
    ):
        assert expected in problems
    assert "n/a" not in problems


def test_a_feature_absent_from_every_capture(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    rows = python_rows(traffic(100, 6))
    records = [capture_record([row], "json-objects", event_id=f"j{n}", drop=("amount",)) for n, row in enumerate(rows)]
    code, report, _, err = run(stage(tmp_path, traffic(500, 1), records))
    assert code == 0, err
    amount = report["features"]["amount"]
    assert (amount["psi"], amount["ks_statistic"], amount["missing_share"], amount["absent_share"]) == (
        None,
        None,
        1,
        1,
    )
    assert (
        "feature 'amount': absent from every captured row (JSON objects without it): no statistics"
        in report["problems"]
    )
    datums = json.loads((tmp_path / "report" / monitor.METRICS_FILE).read_text())
    amount_metrics = {
        datum["MetricName"] for datum in datums if {"Name": "Feature", "Value": "amount"} in datum["Dimensions"]
    }
    assert amount_metrics == {"FeatureMissingShare", "FeatureOutOfRangeShare"}  # no PSI, no KS: not computable


@pytest.mark.parametrize(
    "fmt", ["json-lists", "json-objects", "json-bare", "base64-csv", "base64-json-objects", "csv-batches"]
)
def test_capture_formats_give_identical_statistics(tmp_path: Path, run, fmt: str) -> None:  # type: ignore[no-untyped-def]
    baseline, current = traffic(800, 7), traffic(300, 8)
    current["amount"] = current["amount"].astype(float)
    current.loc[current.index[::17], "amount"] = np.nan  # missing values travel as empty fields and nulls
    rows = python_rows(current)

    def records(kind: str) -> list[dict[str, Any]]:
        if kind == "csv-batches":  # several rows a request
            return [capture_record(rows[first : first + 7], "csv", event_id=f"b{first}") for first in range(0, 300, 7)]
        return [capture_record([row], kind, event_id=f"e{n}", second=n) for n, row in enumerate(rows)]

    code, expected, _, err = run(stage(tmp_path / "csv", baseline, records("csv")))
    assert code == 0, err
    code, report, _, err = run(stage(tmp_path / fmt, baseline, records(fmt)))
    assert code == 0, err
    assert report["rows"] == 300 and report["malformed"]["count"] == 0
    assert report["features"] == expected["features"]
    assert report["drift"] == expected["drift"]


def binary_case(rng: np.random.Generator, rows: int) -> tuple[list[float], list[str]]:
    truth = (rng.random(rows) < 0.3).astype(int)
    scores = np.clip(0.25 + 0.4 * truth + rng.normal(0, 0.2, rows), 0, 1).round(4)
    return scores.tolist(), [str(value) for value in truth]


def multiclass_case(rng: np.random.Generator, rows: int) -> tuple[list[list[float]], list[str]]:
    truth = rng.integers(0, 3, rows)
    logits = rng.normal(0, 1, (rows, 3)) + 1.5 * np.eye(3)[truth]
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return scores.tolist(), [["high", "low", "mid"][value] for value in truth]  # labels, not indices


def regression_case(rng: np.random.Generator, rows: int) -> tuple[list[float], list[str]]:
    truth = rng.normal(100, 20, rows).round(2)
    return (truth + rng.normal(0, 5, rows)).round(2).tolist(), [repr(float(value)) for value in truth]


@pytest.mark.parametrize("problem_type", ["BinaryClassification", "MulticlassClassification", "Regression"])
def test_model_quality_joined_on_inference_ids(tmp_path: Path, run, problem_type: str) -> None:  # type: ignore[no-untyped-def]
    """Labels for ~70% of the requests, by inferenceId where the capture has one (else eventId), several
    comma-separated labels for a request of several rows: evaluate.py's metrics, as scikit-learn computes them."""
    rng = np.random.default_rng(11)
    rows = python_rows(traffic(600, 9))
    make = {"BinaryClassification": binary_case, "MulticlassClassification": multiclass_case}
    scores, labels = make.get(problem_type, regression_case)(rng, len(rows))
    records, truth, joined, spans = [], [], [], []
    first = 0
    for number in range(200):
        count = 3 if number % 10 == 0 else 1
        span = range(first, min(first + count, len(rows)))
        spans.append(span)
        first += count
        inference_id = f"inf-{number}" if number % 2 == 0 else None
        request = [rows[i] for i in span]
        predicted = [scores[i] for i in span]
        records.append(
            capture_record(request, predictions=predicted, event_id=f"evt-{number}", inference_id=inference_id)
        )
        if rng.random() < 0.7:
            labels_csv = ",".join(labels[i] for i in span)
            key = inference_id or f"evt-{number}"
            truth.append(
                {"groundTruthData": {"data": labels_csv, "encoding": "CSV"}, "eventMetadata": {"eventId": key}}
            )
            joined += list(span)
    truth.append({"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "not-captured"}})
    truth.append({"groundTruthData": {"data": "1,0", "encoding": "CSV"}, "eventMetadata": {"eventId": "evt-1"}})
    truth.append("not json")
    args = ["--facet", "channel", "--facet-values", "atm"]
    code, report, _, err = run(stage(tmp_path, traffic(1000, 1), records, truth), *args, problem_type=problem_type)
    assert code == 0, err
    quality = report["model_quality"]
    # evt-1 (one row, no inferenceId) gets a later record with two labels: the later one wins, and does not fit
    assert len(spans[1]) == 1 and records[1]["captureData"]["endpointInput"]["encoding"] == "CSV"
    joined = [row for row in joined if row not in spans[1]]
    assert quality["rows_with_predictions"] == first
    assert quality["rows_with_ground_truth"] == len(joined)
    assert quality["ground_truth_coverage"] == pytest.approx(len(joined) / first)
    assert (quality["unmatched_ground_truth"], quality["label_count_mismatches"]) == (1, 1)
    assert quality["ground_truth_malformed"]["count"] == 1
    y_score = np.asarray([scores[i] for i in joined])
    if problem_type == "Regression":
        y_true = np.asarray([float(labels[i]) for i in joined])
        expected = {
            "mae": skmetrics.mean_absolute_error(y_true, y_score),
            "rmse": math.sqrt(skmetrics.mean_squared_error(y_true, y_score)),
            "r2": skmetrics.r2_score(y_true, y_score),
        }
    elif problem_type == "BinaryClassification":
        y_true = np.asarray([int(labels[i]) for i in joined])
        y_pred = (y_score > 0.5).astype(int)
        expected = {
            "accuracy": skmetrics.accuracy_score(y_true, y_pred),
            "auc": skmetrics.roc_auc_score(y_true, y_score),
            **{
                name: score(y_true, y_pred, average="binary", labels=[0, 1], zero_division=0)
                for name, score in (
                    ("f1", skmetrics.f1_score),
                    ("precision", skmetrics.precision_score),
                    ("recall", skmetrics.recall_score),
                )
            },
        }
        assert report["bias"]["applicable"] is True
    else:
        assert quality["label_encoding"] == "sorted labels"  # as train.py encodes classes
        y_true = np.asarray([["high", "low", "mid"].index(labels[i]) for i in joined])
        y_pred = y_score.argmax(axis=1)
        expected = {
            "accuracy": skmetrics.accuracy_score(y_true, y_pred),
            "auc": skmetrics.roc_auc_score(y_true, y_score, multi_class="ovr", average="macro", labels=[0, 1, 2]),
            **{
                name: score(y_true, y_pred, average="macro", labels=[0, 1, 2], zero_division=0)
                for name, score in (
                    ("f1", skmetrics.f1_score),
                    ("precision", skmetrics.precision_score),
                    ("recall", skmetrics.recall_score),
                )
            },
        }
    assert sorted(quality["metrics"]) == sorted(expected)
    for name, value in expected.items():
        assert quality["metrics"][name] == pytest.approx(value, rel=1e-12, abs=1e-12), name
    if problem_type != "BinaryClassification":
        assert report["bias"]["applicable"] is False and "not applicable" in report["bias"]["reason"]
    datums = json.loads((tmp_path / "report" / monitor.METRICS_FILE).read_text())
    quality_datums = {
        datum["Dimensions"][1]["Value"]: datum["Value"] for datum in datums if datum["MetricName"] == "ModelQuality"
    }
    assert quality_datums == pytest.approx(quality["metrics"])


def biased_set() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """200 'atm' rows (the group) and 300 others; predicted positive: 40 of the group (20%), 180 of the
    rest (60%); labelled positive: 60 of the group (40 of them predicted: TPR 2/3), 200 of the rest (180: 0.9)."""
    rows = python_rows(traffic(500, 12))
    records, truth = [], []
    for number, row in enumerate(rows):
        in_group = number < 200
        index = number if in_group else number - 200
        row[4] = "atm" if in_group else ("online" if index % 2 else "pos")
        row[3] = 1 if in_group else 0  # the same facet as a numeric column
        predicted = index < (40 if in_group else 180)
        positive = index < (60 if in_group else 200)
        records.append(capture_record([row], predictions=[0.9 if predicted else 0.1], event_id=f"e{number}"))
        truth.append(
            {
                "groundTruthData": {"data": str(int(positive)), "encoding": "CSV"},
                "eventMetadata": {"eventId": f"e{number}"},
            }
        )
    return records, truth


@pytest.mark.parametrize(("facet", "values"), [("channel", "atm"), ("card_present", "1")])
def test_bias_of_a_facet(tmp_path: Path, run, facet: str, values: str) -> None:  # type: ignore[no-untyped-def]
    records, truth = biased_set()
    code, report, _, err = run(
        stage(tmp_path, traffic(1000, 1), records, truth), "--facet", facet, "--facet-values", values
    )
    assert code == 0, err
    bias = report["bias"]
    assert (bias["facet"], bias["facet_values"], bias["applicable"]) == (facet, [values], True)
    assert (bias["group"]["rows"], bias["rest"]["rows"]) == (200, 300)
    assert bias["group"]["positive_prediction_rate"] == pytest.approx(0.2)
    assert bias["rest"]["positive_prediction_rate"] == pytest.approx(0.6)
    assert bias["positive_rate_difference"] == pytest.approx(0.4)  # rest minus group
    assert bias["true_positive_rate_difference"] == pytest.approx(0.9 - 2 / 3)
    datums = json.loads((tmp_path / "report" / monitor.METRICS_FILE).read_text())
    by_name = {datum["MetricName"]: datum for datum in datums}
    assert by_name["BiasPositiveRateDifference"]["Value"] == pytest.approx(0.4)
    assert by_name["BiasPositiveRateDifference"]["Dimensions"] == [
        {"Name": "Model", "Value": "fraud"},
        {"Name": "Facet", "Value": facet},
    ]


def test_malformed_capture_lines_are_counted_and_skipped(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    rows = python_rows(traffic(50, 13))
    good = [capture_record([row], event_id=f"e{n}") for n, row in enumerate(rows)]
    wrong_width = capture_record([rows[0][:3]])
    bad_base64 = capture_record([rows[0]], "base64-csv")
    bad_base64["captureData"]["endpointInput"]["data"] = "@@not base64@@"
    unsupported = capture_record([rows[0]])
    unsupported["captureData"]["endpointInput"]["observedContentType"] = "application/x-parquet"
    mixed = capture_record([rows[0]], "json-lists")
    mixed["captureData"]["endpointInput"]["data"] = json.dumps({"instances": [rows[0], {"amount": 1}]})
    bad_output = capture_record([rows[1]], predictions=[0.5, 0.6], event_id="two-predictions")  # 2 for 1 row
    lines = [
        good[0], '{"captureData": {"endpointInput": ', "SECRET-VALUE,1,2", {"eventMetadata": {}}, wrong_width,
        good[1], bad_base64, unsupported, mixed, bad_output, *good[2:], "",
    ]  # fmt: skip
    code, report, _, err = run(stage(tmp_path, traffic(500, 1), lines))
    assert code == 0, err
    assert report["records"] == 51 and report["rows"] == 51  # the good ones and the one with a bad output
    assert report["malformed"]["count"] == 7
    examples = report["malformed"]["examples"]
    assert [example["line"] for example in examples] == [2, 3, 4, 5, 7, 8, 9]
    assert {example["file"] for example in examples} == {CAPTURE_FILE}
    reasons = [example["reason"] for example in examples]
    assert reasons[:4] == [
        "not JSON",
        "not JSON",
        "no captureData",
        "input row 1 has 3 values; the baseline has 5 features",
    ]
    assert "undecodable BASE64" in reasons[4] and "unsupported input content type" in reasons[5]
    assert "neither all lists nor all objects" in reasons[6]
    assert report["unusable_predictions"] == {
        "count": 1,
        "examples": [{"file": CAPTURE_FILE, "line": 10, "reason": "output has 2 predictions for 1 input rows"}],
    }
    assert "7 malformed capture line(s) skipped" in report["problems"]
    assert "SECRET-VALUE" not in (tmp_path / "report" / monitor.REPORT_FILE).read_text()
    datums = json.loads((tmp_path / "report" / monitor.METRICS_FILE).read_text())
    counts = {datum["MetricName"]: datum["Value"] for datum in datums if len(datum["Dimensions"]) == 1}
    assert (counts["MalformedRecords"], counts["RecordsMonitored"]) == (7, 51)


def test_metrics_json_has_exactly_the_datums_cloudwatch_gets(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    records, truth = biased_set()
    code, report, _, err = run(
        stage(tmp_path, traffic(1000, 1), records, truth), "--facet", "channel", "--facet-values", "atm"
    )
    assert code == 0, err
    datums = json.loads((tmp_path / "report" / monitor.METRICS_FILE).read_text())
    assert all(set(datum) == {"MetricName", "Dimensions", "Value", "Unit"} for datum in datums)
    assert all(isinstance(datum["Value"], float) and math.isfinite(datum["Value"]) for datum in datums)
    assert all(datum["Dimensions"][0] == {"Name": "Model", "Value": "fraud"} for datum in datums)
    names = {datum["MetricName"] for datum in datums}
    assert (
        names
        == FEATURE_METRICS["numeric"] | FEATURE_METRICS["categorical"] | MODEL_METRICS | {"ModelQuality"} | BIAS_METRICS
    )
    for name in FEATURES:
        kind = "numeric" if name in NUMERIC else "categorical"
        mine = [datum for datum in datums if datum["Dimensions"][1:] == [{"Name": "Feature", "Value": name}]]
        assert sorted(datum["MetricName"] for datum in mine) == sorted(FEATURE_METRICS[kind])
        assert all(datum["Unit"] == "None" for datum in mine)
    model_level = {datum["MetricName"]: datum for datum in datums if len(datum["Dimensions"]) == 1}
    assert set(model_level) == MODEL_METRICS
    assert {name: datum["Unit"] for name, datum in model_level.items()} == {
        "MaxFeatureDriftPSI": "None",
        "DriftedFeatures": "Count",
        "RecordsMonitored": "Count",
        "MalformedRecords": "Count",
    }
    assert model_level["RecordsMonitored"]["Value"] == 500
    assert model_level["DriftedFeatures"]["Value"] == len(report["drift"]["drifted_features"])
    quality = sorted(datum["Dimensions"][1]["Value"] for datum in datums if datum["MetricName"] == "ModelQuality")
    assert quality == ["accuracy", "auc", "f1", "precision", "recall"]
    assert all(datum["Dimensions"][1]["Name"] == "Metric" for datum in datums if datum["MetricName"] == "ModelQuality")
    bias = [datum for datum in datums if datum["MetricName"] in BIAS_METRICS]
    assert all(datum["Dimensions"][1:] == [{"Name": "Facet", "Value": "channel"}] for datum in bias)


def test_an_empty_window_reports_zero_records(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    """What prepare_window stages for a window without traffic: one empty placeholder file."""
    root = stage(tmp_path, traffic(500, 1), [])
    (root / "capture" / CAPTURE_FILE).write_text("")
    code, report, _, err = run(root)
    assert code == 0, err
    assert (report["records"], report["rows"], report["window_start"], report["drift"]["max_psi"]) == (0, 0, None, None)
    assert any("no usable capture records" in problem for problem in report["problems"])
    datums = json.loads((tmp_path / "report" / monitor.METRICS_FILE).read_text())
    assert {datum["MetricName"]: datum["Value"] for datum in datums} == {
        "DriftedFeatures": 0,
        "RecordsMonitored": 0,
        "MalformedRecords": 0,
    }


@pytest.mark.parametrize(
    ("args", "without", "code", "message"),
    [
        ([], "baseline", 1, "no baseline.csv in"),
        (["--threshold", "x"], "", 2, "argument --threshold"),
        (["--thresh", "0.2"], "", 2, "unrecognized arguments: --thresh"),  # no abbreviations
        (["--facet", "channel"], "", 2, "--facet and --facet-values go together"),
        (["--facet", "colour", "--facet-values", "red"], "", 2, "--facet 'colour' is not a baseline feature"),
        (["--facet", "amount", "--facet-values", "big"], "", 2, "must be numbers"),
        (["--batch-content-type", "text/plain"], "", 2, "--batch-content-type must be text/csv or application/json"),
    ],
)
def test_unusable_inputs_exit_non_zero_with_one_line(
    tmp_path: Path, run, args: list[str], without: str, code: int, message: str
) -> None:  # type: ignore[no-untyped-def]
    root = stage(tmp_path, traffic(100, 1), per_row(traffic(10, 2)))
    if without:
        (root / without / layout.BASELINE_FILE).unlink()
    exit_code, report, _, err = run(root, *args)
    assert (exit_code, report) == (code, None)
    assert err.startswith("monitor: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert monitor.main(["--model", "m", "--problem-type", "Ranking"]) == 2


def test_an_unwritable_output_dir_is_one_line(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    root = stage(tmp_path, traffic(100, 1), per_row(traffic(10, 2)))
    (root / "report").write_text("a file where the output directory should be")
    code, _, _, err = run(root)
    assert code == 1 and err.startswith("monitor: error: cannot write to ") and err.count("\n") == 1


def test_as_sagemaker_runs_it(as_process: tuple[Path, subprocess.Popen[str]], run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, process = as_process
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "drift in amount" in out
    written = sorted(path.name for path in (root / "report").iterdir())
    assert written == sorted([monitor.REPORT_FILE, monitor.SUMMARY_FILE, monitor.METRICS_FILE])
    again = stage(tmp_path, traffic(1500, 1), per_row(traffic(400, 2, amount_mean=4.2)))
    code, report, _, _ = run(again, "--threshold", "0.1")
    assert code == 0
    assert (root / "report" / monitor.REPORT_FILE).read_text() == (again / "report" / monitor.REPORT_FILE).read_text()
    assert report["drift"]["drifted_features"] == ["amount"]


# --- batch transform output ---------------------------------------------------------------
def _prediction_csv(prediction: Any) -> str:
    """One record's prediction as inference.py's output_fn writes it in CSV (one line, no newline)."""
    return ",".join(repr(float(value)) for value in (prediction if isinstance(prediction, list) else [prediction]))


def joined_lines(rows: list[list[Any]], scores: list[Any], fmt: str = "csv") -> list[str]:
    """Batch transform output with JoinSource "Input" and SplitType Line: each input line joined with its
    prediction. CSV: the input line, a comma, the output line; JSON: the request object with the response
    under "SageMakerOutput", a request that is a list under "SageMakerInput"."""
    lines = []
    for row, prediction in zip(rows, scores, strict=True):
        if fmt == "csv":
            lines.append(",".join(_csv_field(value) for value in row) + "," + _prediction_csv(prediction))
        elif fmt == "json-objects":
            request: Any = {"instances": [dict(zip(FEATURES, row, strict=True))], "request_id": len(lines)}
            lines.append(json.dumps({**request, "SageMakerOutput": {"predictions": [prediction]}}))
        elif fmt == "json-lists":
            lines.append(json.dumps({"SageMakerInput": [row], "SageMakerOutput": {"predictions": [prediction]}}))
        else:
            raise AssertionError(fmt)
    return lines


def stage_batch(root: Path, baseline: pd.DataFrame, files: dict[str, list[Any]]) -> Path:
    """A batch monitoring job's inputs under root: baseline/ and batch/ (the transform job's output prefix)."""
    (root / "baseline").mkdir(parents=True, exist_ok=True)
    baseline[FEATURES].to_csv(root / "baseline" / layout.BASELINE_FILE, index=False)
    (root / "batch").mkdir(parents=True, exist_ok=True)
    for name, lines in files.items():
        write_lines(root / "batch" / name, lines)
    return root


def batch(root: Path) -> list[str]:
    return ["--batch-dir", str(root / "batch")]


def scored(frame: pd.DataFrame, seed: int = 0, classes: int = 0) -> tuple[list[list[Any]], list[Any]]:
    """Rows and a model's predictions of them: a probability each, or `classes` class probabilities."""
    rng = np.random.default_rng(seed)
    if classes:
        logits = rng.normal(0, 1, (len(frame), classes))
        return python_rows(frame), (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).tolist()
    return python_rows(frame), rng.uniform(0, 1, len(frame)).round(6).tolist()


def test_batch_output_of_the_same_distribution_is_no_drift(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    rows, scores = scored(traffic(1000, 2))
    shifted = traffic(300, 3, amount_mean=5.0)  # captured traffic beside it is not read
    root = stage(tmp_path, traffic(2000, 1), per_row(shifted))
    stage_batch(root, traffic(2000, 1), {BATCH_FILE: joined_lines(rows[:600], scores[:600])})
    write_lines(root / "batch" / "scored/2026-12-02/transactions-1.csv.out", joined_lines(rows[600:], scores[600:]))
    write_lines(root / "batch" / "scored/_SUCCESS.csv", ["not batch output"])  # not *.out: not read
    code, report, out, err = run(root, *batch(root), "--threshold", "0.1")
    assert code == 0, err
    assert (report["source"], report["batch_content_type"], report["capture_files"]) == ("batch", "text/csv", 2)
    assert (report["records"], report["rows"], report["malformed"]["count"]) == (1000, 1000, 0)
    assert report["unusable_predictions"]["count"] == 0
    assert (report["window_start"], report["window_end"]) == (None, None)  # no event times in batch output
    assert all(feature["psi"] < 0.1 and not feature["drifted"] for feature in report["features"].values())
    assert report["drift"]["drifted"] is False and report["problems"] == []
    summary = (root / "report" / monitor.SUMMARY_FILE).read_text()
    assert "**No drift**" in summary
    assert "Batch transform output (text/csv, 2 file(s)): 1000 batch record(s), 1000 row(s)" in summary
    assert "1000 record(s)" in out and "no drift" in out


def test_a_shifted_feature_drifts_alone_in_batch_output(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    current = traffic(1000, 2)
    current["amount"] = (current["amount"] * 1.8).round(2)
    root = stage_batch(tmp_path, traffic(2000, 1), {BATCH_FILE: joined_lines(*scored(current))})
    code, report, _, err = run(root, *batch(root))
    assert code == 0, err
    features = report["features"]
    assert features["amount"]["drifted"] and features["amount"]["ks_pvalue"] < 1e-6
    assert all(features[name]["psi"] < 0.1 for name in FEATURES if name != "amount")
    assert report["drift"]["drifted_features"] == ["amount"]


@pytest.mark.parametrize(
    ("fmt", "problem_type"),
    [
        ("csv", "BinaryClassification"),
        ("csv", "MulticlassClassification"),
        ("csv", "Regression"),
        ("json-objects", "BinaryClassification"),
        ("json-lists", "MulticlassClassification"),
    ],
)
def test_batch_output_gives_the_metrics_of_the_same_rows_captured(
    tmp_path: Path, run, fmt: str, problem_type: str
) -> None:  # type: ignore[no-untyped-def]
    baseline, current = traffic(800, 7), traffic(300, 8, amount_mean=3.9)
    current["amount"] = current["amount"].astype(float)
    current.loc[current.index[::17], "amount"] = np.nan  # an empty CSV field, a JSON null
    current.loc[current.index[:9], "channel"] = "crypto"
    rows, scores = scored(current, 5, classes=3 if problem_type == "MulticlassClassification" else 0)
    captured = [
        capture_record([row], predictions=[score], event_id=f"e{n}")
        for n, (row, score) in enumerate(zip(rows, scores, strict=True))
    ]
    code, expected, _, err = run(stage(tmp_path / "capture", baseline, captured), problem_type=problem_type)
    assert code == 0, err
    lines = joined_lines(rows, scores, fmt)
    files = {BATCH_FILE: lines[:100], "scored/2026-12-02/transactions-1.csv.out": lines[100:]}
    root = stage_batch(tmp_path / "batch", baseline, files)
    content_type = "text/csv" if fmt == "csv" else "application/json"
    code, report, _, err = run(root, *batch(root), "--batch-content-type", content_type, problem_type=problem_type)
    assert code == 0, err
    assert (report["rows"], report["malformed"]["count"], report["unusable_predictions"]["count"]) == (300, 0, 0)
    for key in ("records", "rows", "features", "drift", "problems"):
        assert report[key] == expected[key], key
    metrics = json.loads((root / "report" / monitor.METRICS_FILE).read_text())
    captured = json.loads((tmp_path / "capture" / "report" / monitor.METRICS_FILE).read_text())
    assert metrics  # and not empty
    source = {"Name": "Source", "Value": "batch"}  # batch metrics are series of their own
    assert all(datum["Dimensions"][1] == source for datum in metrics)
    for datum in metrics:
        datum["Dimensions"].remove(source)
    assert metrics == captured


def test_malformed_batch_lines_are_counted_and_named(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    rows, scores = scored(traffic(50, 13))
    good = joined_lines(rows, scores)
    row = ",".join(_csv_field(value) for value in rows[0])
    lines = [
        good[0], "SECRET-VALUE,1,2", row, f"{row},0.5,0.25", f"{row}\r,0.5", good[1], f"{row},SECRET",
        f"{row},", f'"SECRET{row}",0.5', *good[2:], "",
    ]  # fmt: skip
    path = write_lines(tmp_path / "batch" / BATCH_FILE, lines)
    path.write_bytes(path.read_bytes() + b"\xff\xfe,1,2,3,4,5\n")  # line 59: not UTF-8
    root = stage_batch(tmp_path, traffic(500, 1), {})
    code, report, _, err = run(root, *batch(root))
    assert code == 0, err
    assert (report["records"], report["rows"]) == (52, 52)  # the good ones and the two with a bad prediction
    assert report["malformed"]["count"] == 6
    examples = report["malformed"]["examples"]
    assert [(example["file"], example["line"]) for example in examples] == [
        (BATCH_FILE, line) for line in (2, 3, 4, 5, 9, 59)
    ]
    assert [example["reason"] for example in examples] == [
        "line has 3 values; expected 6: 5 features and 1 prediction",
        "line has 5 values; expected 6: 5 features and 1 prediction",
        "line has 7 values; expected 6: 5 features and 1 prediction",
        "unparsable CSV",
        "line has 2 values; expected 6: 5 features and 1 prediction",
        "not UTF-8",
    ]
    assert report["unusable_predictions"] == {
        "count": 2,
        "examples": [
            {"file": BATCH_FILE, "line": 7, "reason": "a prediction is not a number"},
            {"file": BATCH_FILE, "line": 8, "reason": "a prediction is not a number"},
        ],
    }
    assert "6 malformed batch output line(s) skipped" in report["problems"]
    assert "2 batch output record(s) without usable predictions" in report["problems"]
    for name in (monitor.REPORT_FILE, monitor.SUMMARY_FILE):
        assert "SECRET" not in (root / "report" / name).read_text()
    datums = json.loads((root / "report" / monitor.METRICS_FILE).read_text())
    counts = {datum["MetricName"]: datum["Value"] for datum in datums if len(datum["Dimensions"]) == 2}
    assert (counts["MalformedRecords"], counts["RecordsMonitored"]) == (6, 52)


@pytest.mark.parametrize(
    ("problem_type", "extra", "reason"),
    [
        ("BinaryClassification", [], "line has 5 values; expected 6: 5 features and 1 prediction"),
        ("Regression", [1.0, 2.0], "line has 7 values; expected 6: 5 features and 1 prediction"),
        ("MulticlassClassification", [1.0], "line has 6 values; expected at least 7: 5 features and 2 or more classes"),
    ],
)
def test_batch_output_of_the_wrong_width_is_reported(
    tmp_path: Path, run, problem_type: str, extra: list[float], reason: str
) -> None:  # type: ignore[no-untyped-def]
    """Input rows of the wrong width, or predictions of the wrong width: the values cannot be told apart."""
    rows = python_rows(traffic(20, 14))
    lines = [",".join([*(_csv_field(value) for value in row), *map(repr, extra)]) for row in rows]
    root = stage_batch(tmp_path, traffic(200, 1), {BATCH_FILE: lines})
    code, report, _, err = run(root, *batch(root), problem_type=problem_type)
    assert code == 0, err
    assert (report["records"], report["malformed"]["count"]) == (0, 20)
    assert {example["reason"] for example in report["malformed"]["examples"]} == {reason}
    assert "no usable batch output records in 1 batch output file(s): nothing to compare" in report["problems"]


def test_malformed_json_batch_lines(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    rows, scores = scored(traffic(30, 15))
    good = joined_lines(rows, scores, "json-objects")
    lines = [
        good[0],
        "not json",
        json.dumps({"instances": [rows[0]]}),  # no prediction joined
        json.dumps({"SageMakerInput": [rows[0][:3]], "SageMakerOutput": {"predictions": [0.5]}}),
        json.dumps({"SageMakerInput": [rows[0]], "SageMakerOutput": {"predictions": [0.5, 0.6]}}),
        json.dumps({"SageMakerInput": [rows[0], rows[1]], "SageMakerOutput": "0.25\n0.75\n"}),  # a CSV response
        *good[1:],
    ]
    root = stage_batch(tmp_path, traffic(300, 1), {BATCH_FILE: lines})
    code, report, _, err = run(root, *batch(root), "--batch-content-type", "application/json; charset=utf-8")
    assert code == 0, err
    assert (report["batch_content_type"], report["records"], report["rows"]) == ("application/json", 32, 33)
    assert [(example["line"], example["reason"]) for example in report["malformed"]["examples"]] == [
        (2, "not JSON"),
        (3, "no SageMakerOutput"),
        (4, "input instance 1 has 3 values; the baseline has 5 features"),
    ]
    assert report["unusable_predictions"]["examples"] == [
        {"file": BATCH_FILE, "line": 5, "reason": "output has 2 predictions for 1 input rows"}
    ]


@pytest.mark.parametrize("case", ["empty file", "empty dir", "no dir"])
def test_an_empty_batch_dir_reports_zero_records(tmp_path: Path, run, case: str) -> None:  # type: ignore[no-untyped-def]
    root = stage_batch(tmp_path, traffic(500, 1), {BATCH_FILE: []} if case == "empty file" else {})
    if case == "no dir":
        (root / "batch").rmdir()
    code, report, _, err = run(root, *batch(root))
    assert code == 0, err
    assert (report["records"], report["rows"], report["window_start"], report["drift"]["max_psi"]) == (0, 0, None, None)
    files = 1 if case == "empty file" else 0
    assert f"no usable batch output records in {files} batch output file(s): nothing to compare" in report["problems"]
    assert (f"batch directory {root / 'batch'} does not exist" in report["problems"]) == (case == "no dir")
    datums = json.loads((tmp_path / "report" / monitor.METRICS_FILE).read_text())
    assert {datum["MetricName"]: datum["Value"] for datum in datums} == {
        "DriftedFeatures": 0,
        "RecordsMonitored": 0,
        "MalformedRecords": 0,
    }


def test_ground_truth_is_not_joined_to_batch_output(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    records, truth = biased_set()
    rows, scores = scored(traffic(100, 16))
    root = stage(tmp_path, traffic(500, 1), records, truth)
    stage_batch(root, traffic(500, 1), {BATCH_FILE: joined_lines(rows, scores)})
    code, report, _, err = run(root, *batch(root), "--facet", "channel", "--facet-values", "atm")
    assert code == 0, err
    assert report["model_quality"] is None and report["bias"]["applicable"] is False
    assert (
        f"ground truth in {root / 'ground-truth'} not read: it joins on inference ids and batch output has none"
        in report["problems"]
    )
