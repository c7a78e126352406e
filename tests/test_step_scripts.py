"""The pipeline's step scripts, run end to end on small generated data, as SageMaker would.

preprocess.py -> train.py (script mode: hyperparameters as --name value, SM_* variables)
-> model.tar.gz -> evaluate.py -> evaluation.json, read with the pipeline's JsonGet path;
model.tar.gz -> inference.py's handlers, called as the framework serving containers do.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from mlstack.pipelines import layout
from mlstack.pipelines.steps import evaluate, inference, preprocess, train

STEPS = Path(preprocess.__file__).resolve().parent
OURS = {"pipelines", "mlstack", "components", "policies"}  # what a step script must not import
ROWS = 400
FEATURES = ["amount", "velocity_1h", "distance_km", "merchant_risk", "card_present", "channel"]
DROP = ["--drop-columns", "transaction_id,event_time", "--categorical-columns", "channel"]
ALGORITHMS = {
    "xgboost": [
        *("--max_depth", "3", "--eta", "0.3", "--num_round", "30", "--objective", "binary:logistic"),
        *("--scale_pos_weight", "2", "--subsample", "0.9"),
    ],
    "hist_gradient_boosting": ["--max_iter", "40", "--learning_rate", "0.1"],
    "random_forest": ["--n_estimators", "40", "--max_depth", "5"],
}
Ran = subprocess.CompletedProcess[str]
Call = Callable[..., tuple[int, str, str]]  # a script's main() run here: exit code, stdout, stderr


def fraud_frame(rows: int = ROWS, seed: int = 7) -> pd.DataFrame:
    """Card transactions whose fraud label depends on amount, velocity and merchant risk."""
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3.5, 1.0, rows).round(2)
    velocity = rng.poisson(2.0, rows)
    merchant_risk = rng.uniform(0, 1, rows).round(3)
    card_present = rng.random(rows) < 0.6
    score = 1.2 * (np.log(amount) - 3.5) + 0.9 * (velocity - 2) + 3.0 * (merchant_risk - 0.5) - card_present
    minutes = np.sort(rng.integers(0, 60 * 24 * 30, rows))
    return pd.DataFrame(
        {
            "transaction_id": [f"txn-{number:05d}" for number in range(rows)],
            "event_time": [f"{np.datetime64('2024-01-01T00:00') + np.timedelta64(int(m), 'm')}:00Z" for m in minutes],
            "amount": amount,
            "velocity_1h": velocity,
            "distance_km": rng.exponential(30.0, rows).round(1),  # noise
            "merchant_risk": merchant_risk,
            "card_present": card_present,
            "channel": rng.choice(["online", "pos", "atm"], rows),  # text: a categorical feature
            "is_fraud": (rng.random(rows) < 1 / (1 + np.exp(2.0 - 2.0 * score))).astype(int),
        }
    )


def write_input(frame: pd.DataFrame, directory: Path) -> Path:
    """Most rows as CSV, the rest as Parquet in a nested partition folder, like an S3 prefix."""
    (directory / "day=2").mkdir(parents=True)
    cut = len(frame) * 2 // 3
    frame.iloc[:cut].to_csv(directory / "part-0000.csv", index=False)
    frame.iloc[cut:].to_parquet(directory / "day=2" / "part-0001.parquet", index=False)
    return directory


def split_dirs(root: Path) -> list[str]:
    """preprocess.py's output arguments: the three splits, the baseline dataset and the lineage under `root`."""
    names = ("train", "validation", "test", "baseline", "lineage")
    return [arg for name in names for arg in (f"--{name}-dir", str(root / name))]


def sagemaker_env(splits: Path, model_dir: Path) -> dict[str, str]:
    """What SageMaker sets for a script-mode training job with train and validation channels."""
    channels = {"SM_CHANNEL_TRAIN": str(splits / "train"), "SM_CHANNEL_VALIDATION": str(splits / "validation")}
    return {**channels, "SM_MODEL_DIR": str(model_dir)}


def package(model_dir: Path, into: Path) -> Path:
    """What SageMaker makes of SM_MODEL_DIR after training: model.tar.gz with the files at its root."""
    into.mkdir(parents=True)
    with tarfile.open(into / "model.tar.gz", "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    return into


def evaluate_args(archive: Path, splits: Path, output: Path) -> list[str]:
    return ["--model-dir", str(archive), "--test-dir", str(splits / "test"), "--output-dir", str(output)]


def json_get(document: Any, path: str) -> Any:
    """What the pipeline's JsonGet does with a dotted path."""
    for key in path.split("."):
        document = document[key]
    return document


def check_report(report: dict[str, Any], printed: str, model_dir: Path) -> None:
    """evaluation.json has the layout JsonGet reads; train.py printed the same metrics."""
    assert set(report) == {"metrics", "problem_type", "rows"}
    assert all(set(entry) == {"value"} and isinstance(entry["value"], float) for entry in report["metrics"].values())
    printed_names = [line.split("=")[0] for line in printed.splitlines() if line.startswith("validation_")]
    assert printed_names == [f"validation_{name}" for name in sorted(report["metrics"])]
    assert sorted(path.name for path in model_dir.iterdir()) == sorted(
        [layout.MODEL_FILE, layout.FEATURES_FILE, layout.MODEL_CODE_DIR]
    )
    code = model_dir / layout.MODEL_CODE_DIR
    assert [path.name for path in code.iterdir()] == [layout.INFERENCE_SCRIPT]
    assert (code / layout.INFERENCE_SCRIPT).read_bytes() == (STEPS / layout.INFERENCE_SCRIPT).read_bytes()
    assert json.loads((model_dir / layout.FEATURES_FILE).read_text())["problem_type"] == report["problem_type"]


# --- serving: inference.py as the framework containers call it -----------------------------
def serve(archive: Path, into: Path) -> tuple[Any, Any]:
    """What a serving container does with model.tar.gz: extract it to the model directory, import
    SAGEMAKER_PROGRAM from SAGEMAKER_SUBMIT_DIRECTORY (the copy inside the archive), call model_fn."""
    into.mkdir(parents=True)
    with tarfile.open(archive / "model.tar.gz", "r:gz") as tar:
        tar.extractall(into, filter="data")
    code = into / layout.MODEL_CODE_DIR / layout.INFERENCE_SCRIPT
    spec = importlib.util.spec_from_file_location(f"served_inference_{abs(hash(into))}", code)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, module.model_fn(str(into))


def check_serving(archive: Path, split: Path, into: Path) -> np.ndarray:
    """Predictions for the split's rows through input_fn/predict_fn/output_fn, in every request
    format: the same numbers as the estimator's own, one per row. Returns them."""
    handlers, model = serve(archive, into)
    description = json.loads((into / layout.FEATURES_FILE).read_text())
    categories = description["categories"]
    frame = pd.read_csv(split / layout.SPLIT_FILE, dtype=dict.fromkeys(categories, str))
    features = frame[description["features"]]
    estimator = joblib.load(into / layout.MODEL_FILE)
    encoded = features.copy()  # a category's code is its position in features.json's list
    for name, known in categories.items():
        encoded[name] = features[name].map({category: code for code, category in enumerate(known)}).astype(float)
    matrix = encoded.to_numpy(dtype=np.float64)
    if description["problem_type"] == "Regression":
        expected = estimator.predict(matrix)
    else:
        expected = estimator.predict_proba(matrix)
        expected = expected[:, 1] if description["problem_type"] == "BinaryClassification" else expected

    # text/csv without header, as data capture records it (bytes, like the request body).
    csv_body = features.to_csv(header=False, index=False).encode()
    data = handlers.input_fn(csv_body, "text/csv")
    assert (len(data), len(data[0])) == features.shape
    predicted = handlers.predict_fn(data, model)
    np.testing.assert_allclose(predicted, expected, rtol=1e-12)
    assert len(predicted) == len(frame)
    # JSON: positional instances, and records by feature name (in another order, with extra keys).
    instances = json.dumps({"instances": features.to_numpy().tolist()})
    records = [
        {"record_id": index, **dict(reversed(row.items()))} for index, row in enumerate(features.to_dict("records"))
    ]
    for body, content_type in (
        (instances, "application/json"),
        (json.dumps(records), "application/json; charset=utf-8"),
    ):
        np.testing.assert_allclose(handlers.predict_fn(handlers.input_fn(body, content_type), model), predicted)

    body, content_type = handlers.output_fn(predicted, "text/csv")
    assert content_type == "text/csv"
    lines = body.splitlines()
    assert len(lines) == len(frame) and body.endswith("\n")
    parsed = np.loadtxt(io.StringIO(body), delimiter=",", ndmin=2)
    np.testing.assert_array_equal(parsed.reshape(predicted.shape), predicted)  # exact: repr round-trips
    for accept in (None, "*/*"):
        assert handlers.output_fn(predicted, accept) == (body, content_type)
    body, content_type = handlers.output_fn(predicted, "application/json")
    assert content_type == "application/json"
    assert json.loads(body) == {"predictions": predicted.tolist()}
    return predicted


# --- the scripts as separate processes ----------------------------------------------------
def run(script: str, *args: str, env: dict[str, str] | None = None) -> Ran:
    """A step script as its own process, like SageMaker's `python <script> ...`."""
    command = [sys.executable, str(STEPS / f"{script}.py"), *args]
    # One OpenMP thread: the processes run beside the in-process tests on a small machine.
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120, check=False)


def sagemaker_chain(root: Path) -> dict[str, Ran]:
    write_input(fraud_frame(), root / "input")
    ran = {
        "preprocess": run(
            "preprocess", "--input-dir", str(root / "input"), "--target", "is_fraud", *DROP, *split_dirs(root)
        )
    }
    if ran["preprocess"].returncode == 0:
        ran["train"] = run(
            "train", "--algorithm", "xgboost", *ALGORITHMS["xgboost"], env=sagemaker_env(root, root / "model")
        )
    if "train" in ran and ran["train"].returncode == 0:
        ran["evaluate"] = run("evaluate", *evaluate_args(package(root / "model", root / "archive"), root, root / "out"))
    return ran


def failing_runs(root: Path) -> dict[str, Ran]:
    write_input(fraud_frame(rows=60), root / "input")
    return {
        "missing target": run("preprocess", "--input-dir", str(root / "input"), "--target", "label", *split_dirs(root)),
        "unknown hyperparameter": run(
            "train", "--algorithm", "random_forest", "--max_dept", "3", env=sagemaker_env(root, root / "model")
        ),
    }


@pytest.fixture(scope="module")
def processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[dict[str, Ran]]]]:
    """The separate processes, running in the background; a test waits with .result()."""
    root = tmp_path_factory.mktemp("processes")
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield {
            "chain": pool.submit(sagemaker_chain, root / "chain"),
            "failing": pool.submit(failing_runs, root / "fail"),
        }


@pytest.fixture(scope="module", autouse=True)
def start_processes_early(request: pytest.FixtureRequest) -> None:
    """Each process pays ~5 s of imports (pandas, scikit-learn, XGBoost) on a small machine, so they
    start with the module's first test and run while the in-process tests go on, if a selected
    test waits for them (the last ones in this module)."""
    selected = [item for item in request.session.items if getattr(item, "module", None) is request.module]
    if any("processes" in getattr(item, "fixturenames", ()) for item in selected):
        request.getfixturevalue("processes")


# --- the scripts in this process ----------------------------------------------------------
@pytest.fixture
def call(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Call:
    """Run a script's main() in this process (imports paid once): (exit code, stdout, stderr)."""

    def main(script: Any, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        capsys.readouterr()
        with monkeypatch.context() as patch:
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            with threadpool_limits(1):  # as in run(): no OpenMP oversubscription with the processes
                code = script.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return main


@pytest.fixture(scope="module")
def fraud_splits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fraud")
    write_input(fraud_frame(), root / "input")
    assert preprocess.main(["--input-dir", str(root / "input"), "--target", "is_fraud", *DROP, *split_dirs(root)]) == 0
    return root


def test_script_defaults_are_the_layout() -> None:
    parser = preprocess.build_parser()
    assert parser.get_default("input_dir") == layout.PREPROCESS_INPUT
    for name, path in layout.PREPROCESS_OUTPUTS.items():
        assert parser.get_default(f"{name}_dir") == path
    assert parser.get_default("baseline_dir") == layout.PREPROCESS_BASELINE
    assert preprocess.BASELINE_FILE == layout.BASELINE_FILE
    assert parser.get_default("lineage_dir") == layout.LINEAGE_DIR
    assert (preprocess.LINEAGE_FILE, preprocess.LINEAGE_VERSION) == (layout.LINEAGE_FILE, layout.LINEAGE_VERSION)
    assert preprocess.LINEAGE_CONTEXT_ENV == layout.LINEAGE_CONTEXT_ENV
    parser = evaluate.build_parser()
    assert parser.get_default("model_dir") == layout.EVALUATION_MODEL
    assert parser.get_default("test_dir") == layout.EVALUATION_TEST
    assert parser.get_default("output_dir") == layout.EVALUATION_OUTPUT
    for script in (preprocess, train, evaluate):
        assert script.SPLIT_FILE == layout.SPLIT_FILE
    assert preprocess.COLUMNS_FILE == train.COLUMNS_FILE == layout.COLUMNS_FILE
    assert train.EVALUATION_SCRIPT in layout.STEP_SCRIPTS  # in the training job's code channel
    assert f"{layout.MODEL_CODE_DIR}/{layout.INFERENCE_SCRIPT}" == evaluate.INFERENCE_CODE
    for script in (train, evaluate, inference):
        assert (script.MODEL_FILE, script.FEATURES_FILE) == (layout.MODEL_FILE, layout.FEATURES_FILE)
    assert evaluate.EVALUATION_FILE == layout.EVALUATION_FILE
    assert (train.INFERENCE_SCRIPT, train.MODEL_CODE_DIR) == (layout.INFERENCE_SCRIPT, layout.MODEL_CODE_DIR)
    assert (inference.CSV, inference.JSON) == layout.SERVING_CONTENT_TYPES
    # The serving container finds the copy train.py made where model.tar.gz is extracted.
    assert layout.SERVING_ENVIRONMENT["SAGEMAKER_SUBMIT_DIRECTORY"] == f"{layout.SERVING_MODEL_DIR}/code"
    assert layout.SERVING_ENVIRONMENT["SAGEMAKER_PROGRAM"] == layout.INFERENCE_SCRIPT


def test_step_scripts_lists_every_bundled_script() -> None:
    """What the deploying program uploads: every script in pipelines/steps/, the inference code too."""
    bundled = sorted(path.name for path in STEPS.glob("*.py") if path.name != "__init__.py")
    listed = {*layout.STEP_SCRIPTS, *layout.MONITOR_SCRIPTS, *layout.LAMBDA_SCRIPTS, *layout.BATCH_SCRIPTS}
    assert sorted(listed) == bundled
    assert layout.INFERENCE_SCRIPT in layout.STEP_SCRIPTS
    # Lambda code is packaged with its function, not uploaded for (nor hashed into) the pipeline's jobs.
    assert not set(layout.LAMBDA_SCRIPTS) & set(layout.STEP_SCRIPTS)


def test_train_defaults_are_the_sagemaker_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in sagemaker_env(tmp_path, tmp_path / "model").items():
        monkeypatch.setenv(name, value)
    parser = train.build_parser()
    defaults = [parser.get_default(name) for name in ("train", "validation", "model_dir")]
    assert defaults == [str(tmp_path / "train"), str(tmp_path / "validation"), str(tmp_path / "model")]


def test_scripts_import_no_project_module() -> None:
    """They run alone in SageMaker containers, where this project is not installed (and whose
    Python may be as old as 3.8)."""
    for script in layout.STEP_SCRIPTS:
        tree = ast.parse((STEPS / script).read_text(), feature_version=(3, 8))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "." for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not {name for name in imported if name.split(".")[0] in {*OURS, "."}}


def test_lambda_scripts_import_only_their_packaged_sibling() -> None:
    """Lambda archives hold the handler and mlflow_rest.py, nothing of this project: the only
    import of ours is that sibling (relative in the package, top-level in the archive)."""
    for script in layout.LAMBDA_SCRIPTS:
        tree = ast.parse((STEPS / script).read_text(), feature_version=(3, 8))
        ours = {
            (node.module or ".", *(alias.name for alias in node.names))
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] in OURS)
        }
        ours |= {
            (alias.name,)
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
            if alias.name.split(".")[0] in {*OURS, "mlflow_rest"}
        }
        sibling = layout.MLFLOW_CLIENT_SCRIPT.removesuffix(".py")
        expected = set() if script == layout.MLFLOW_CLIENT_SCRIPT else {(".", sibling), (sibling,)}
        assert ours == expected, script


def test_the_tracking_lambda_agrees_with_the_layout() -> None:
    from mlstack.pipelines.steps import tracking_lambda

    assert tracking_lambda.NO_RUN == layout.MLFLOW_NO_RUN
    module, _, handler = layout.TRACKING_HANDLER.partition(".")
    assert f"{module}.py" == layout.TRACKING_LAMBDA_SCRIPT and callable(getattr(tracking_lambda, handler))


def test_preprocess_writes_stratified_label_first_splits(fraud_splits: Path, tmp_path: Path) -> None:
    parts = {name: pd.read_csv(fraud_splits / name / layout.SPLIT_FILE) for name in ("train", "validation", "test")}
    for part in parts.values():
        assert list(part.columns) == ["is_fraud", *FEATURES]  # label first; id and event time gone
        assert part["card_present"].dtype == "int64"  # booleans written as 0/1
    assert [len(part) for part in parts.values()] == [280, 60, 60]
    rate = fraud_frame()["is_fraud"].mean()
    assert 0.1 < rate < 0.3
    for part in parts.values():  # stratified: every split has the overall fraud rate
        assert abs(part["is_fraud"].mean() - rate) < 0.02
    # Deterministic: the same seed gives byte-identical files, another seed another split.
    files = [f"{name}/{layout.SPLIT_FILE}" for name in parts] + [f"baseline/{layout.BASELINE_FILE}"]
    for seed, same in (("42", True), ("7", False)):
        args = ["--input-dir", str(fraud_splits / "input"), "--target", "is_fraud", "--seed", seed, *DROP]
        assert preprocess.main([*args, *split_dirs(tmp_path / seed)]) == 0
        for file in files:
            again = (tmp_path / seed / file).read_bytes()
            assert (again == (fraud_splits / file).read_bytes()) is same


def test_preprocess_writes_the_baseline_dataset_without_the_label(fraud_splits: Path) -> None:
    """The train rows with the model's feature columns only, like captured endpoint requests."""
    baseline = pd.read_csv(fraud_splits / "baseline" / layout.BASELINE_FILE)
    train_split = pd.read_csv(fraud_splits / "train" / layout.SPLIT_FILE)
    assert list(baseline.columns) == FEATURES == list(train_split.columns[1:])
    pd.testing.assert_frame_equal(baseline, train_split.drop(columns=["is_fraud"]))
    assert sorted(path.name for path in (fraud_splits / "baseline").iterdir()) == [layout.BASELINE_FILE]


LINEAGE_CONTEXT = {  # what the pipeline definition passes (pipelines/_steps.py: lineage_context)
    "code": {"preprocess.py": "ab" * 32, "train.py": "cd" * 32},
    "code_sha256": "ef" * 32,
    "feature_group": "mlstack-dev-transactions",
    "model_package_group": "mlstack-dev-fraud-detector",
    "training": {
        "algorithm": "xgboost",
        "framework": "xgboost",
        "framework_version": "1.7-1",
        "hyperparameters": {"algorithm": "xgboost", "eta": 0.2, "objective": "binary:logistic"},
        "image": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        "inference_image": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        "instance_count": 1,
        "instance_type": "ml.m5.xlarge",
        "problem_type": "BinaryClassification",
    },
}
EXECUTION_ARN = "arn:aws:sagemaker:eu-west-1:111111111111:pipeline/mlstack-dev-fraud-detector-training/execution/abc123"


def test_preprocess_records_the_lineage(fraud_splits: Path, tmp_path: Path, call: Call) -> None:
    """Every file read with its sha256, size and rows, the execution and sources, merged into the context."""
    environment = layout.lineage_environment(LINEAGE_CONTEXT)
    assert len(environment) > 1  # the context arrives in pieces, as in the pipeline
    sources = ["s3://data/fraud/", "s3://data/more/"]
    args = ["--input-dir", str(fraud_splits / "input"), "--target", "is_fraud", *DROP, "--pipeline-execution-arn"]
    args += [EXECUTION_ARN, "--data-source", sources[0], "--data-source", sources[1]]
    code, _, err = call(preprocess, *args, *split_dirs(tmp_path / "first"), env=environment)
    assert code == 0, err
    written = (tmp_path / "first" / "lineage" / layout.LINEAGE_FILE).read_bytes()
    lineage = json.loads(written)
    inputs = sorted(path for path in (fraud_splits / "input").rglob("*") if path.is_file())  # read in this order
    assert [path.relative_to(fraud_splits / "input").as_posix() for path in inputs] == [
        "day=2/part-0001.parquet",
        "part-0000.csv",
    ]
    rows = {"part-0000.csv": ROWS * 2 // 3, "part-0001.parquet": ROWS - ROWS * 2 // 3}  # see write_input
    assert lineage == {
        **LINEAGE_CONTEXT,
        "version": layout.LINEAGE_VERSION,
        "pipeline_execution_arn": EXECUTION_ARN,
        "data": {
            "sources": sources,
            "files": [
                {
                    "path": path.relative_to(fraud_splits / "input").as_posix(),
                    "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                    "bytes": path.stat().st_size,
                    "rows": rows[path.name],
                }
                for path in inputs
            ],
            "rows": ROWS,
        },
    }
    assert sorted(path.name for path in (tmp_path / "first" / "lineage").iterdir()) == [layout.LINEAGE_FILE]
    # Deterministic: the same run gives the same bytes (no clock, sorted keys).
    code, _, err = call(preprocess, *args, *split_dirs(tmp_path / "second"), env=environment)
    assert code == 0, err
    assert (tmp_path / "second" / "lineage" / layout.LINEAGE_FILE).read_bytes() == written


def test_preprocess_lineage_without_a_pipeline(fraud_splits: Path) -> None:
    """Run by hand: no context, no execution, no sources; the files and rows are still recorded."""
    lineage = json.loads((fraud_splits / "lineage" / layout.LINEAGE_FILE).read_text())
    assert lineage["pipeline_execution_arn"] is None
    assert (lineage["code"], lineage["training"], lineage["feature_group"]) == ({}, None, None)
    assert lineage["data"]["sources"] == [] and lineage["data"]["rows"] == ROWS
    assert [entry["path"] for entry in lineage["data"]["files"]] == ["day=2/part-0001.parquet", "part-0000.csv"]


def test_preprocess_counts_only_the_rows_it_splits(tmp_path: Path, call: Call) -> None:
    """A feature group's deleted records are in the files' row counts, not in the rows split."""
    frame = fraud_frame(rows=100)
    frame["write_time"] = frame["api_invocation_time"] = "2024-02-01 00:00:00.000"
    frame["is_deleted"] = frame.index < 10
    write_input(frame, tmp_path / "input")
    code, _, err = call(
        preprocess, "--input-dir", str(tmp_path / "input"), "--target", "is_fraud", *DROP, *split_dirs(tmp_path)
    )
    assert code == 0, err
    lineage = json.loads((tmp_path / "lineage" / layout.LINEAGE_FILE).read_text())
    assert sum(entry["rows"] for entry in lineage["data"]["files"]) == 100
    assert lineage["data"]["rows"] == 90


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"MLSTACK_LINEAGE_CONTEXT_000": '{"code": '}, "the lineage context in MLSTACK_LINEAGE_CONTEXT_* is not JSON"),
        ({"MLSTACK_LINEAGE_CONTEXT_000": "[1]"}, "is not a JSON object"),
    ],
)
def test_preprocess_refuses_a_broken_lineage_context(
    fraud_splits: Path, tmp_path: Path, call: Call, environment: dict[str, str], message: str
) -> None:
    args = ["--input-dir", str(fraud_splits / "input"), "--target", "is_fraud", *DROP, *split_dirs(tmp_path)]
    code, _, err = call(preprocess, *args, env=environment)
    assert code == 1
    assert message in err
    assert not (tmp_path / "train").exists()  # refused before any work


def test_preprocess_reads_a_feature_group_offline_store(tmp_path: Path, call: Call) -> None:
    """Deleted records are skipped and Feature Store's bookkeeping columns are not features."""
    frame = fraud_frame(rows=100)
    frame["write_time"] = frame["api_invocation_time"] = "2024-02-01 00:00:00.000"
    frame["is_deleted"] = frame.index < 10
    write_input(frame, tmp_path / "input")
    code, _, err = call(
        preprocess, "--input-dir", str(tmp_path / "input"), "--target", "is_fraud", *DROP, *split_dirs(tmp_path)
    )
    assert code == 0, err
    parts = [pd.read_csv(tmp_path / name / layout.SPLIT_FILE) for name in ("train", "validation", "test")]
    assert sum(len(part) for part in parts) == 90
    assert all(list(part.columns) == ["is_fraud", *FEATURES] for part in parts)


def _frame_with(change: str) -> pd.DataFrame:
    frame = fraud_frame(rows=60)
    if change == "null label":
        frame.loc[5, "is_fraud"] = None
    return frame.head(12) if change == "few rows" else frame


@pytest.mark.parametrize(
    ("change", "args", "message"),
    [
        ("null label", [], "target column 'is_fraud' has 1 empty value"),
        ("few rows", [], "only 12 rows; at least 20"),
        ("none", ["--test-fraction", "0.001"], "the test split would be empty"),
        ("none", ["--drop-columns", "transaction_id,evnt_time"], "do not exist: evnt_time"),
        ("none", ["--drop-columns", "is_fraud"], "also listed in --drop-columns"),
        ("none", ["--validation-fraction", "0.6", "--test-fraction", "0.5"], "must leave rows for training"),
        ("no files", [], "no CSV or Parquet files under"),
        (
            "none",
            ["--categorical-columns", ""],
            "column(s) channel are not numeric: list each under the model's data.categorical (encoded as "
            "categories) or data.exclude (not a feature)",
        ),
        ("none", ["--categorical-columns", "is_fraud"], "also listed in --categorical-columns"),
        ("none", ["--categorical-columns", "chanel"], "--categorical-columns names columns that do not exist: chanel"),
        ("none", ["--categorical-columns", "channel,event_time"], "both dropped and categorical: event_time"),
        ("none", ["--column-names", "a,b,a"], "--column-names repeats: a"),
        ("none", ["--column-names", "a,b"], "data.csv: 9 columns, but --column-names names 2"),
    ],
)
def test_preprocess_rejects_unusable_data(
    call: Call, tmp_path: Path, change: str, args: list[str], message: str
) -> None:
    (tmp_path / "input").mkdir()
    if change != "no files":
        _frame_with(change).to_csv(tmp_path / "input" / "data.csv", index=False)
    code, _, err = call(preprocess, "--input-dir", str(tmp_path / "input"), "--target", "is_fraud", *DROP, *args)
    assert code == 1
    assert message in err
    assert not (tmp_path / "train").exists()


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_each_algorithm_learns(fraud_splits: Path, tmp_path: Path, call: Call, algorithm: str) -> None:
    code, printed, err = call(
        train, "--algorithm", algorithm, *ALGORITHMS[algorithm], env=sagemaker_env(fraud_splits, tmp_path / "model")
    )
    assert code == 0, err
    archive = package(tmp_path / "model", tmp_path / "archive")
    for attempt in ("first", "second"):
        code, _, err = call(evaluate, *evaluate_args(archive, fraud_splits, tmp_path / attempt))
        assert code == 0, err
    written = (tmp_path / "first" / layout.EVALUATION_FILE).read_bytes()
    assert written == (tmp_path / "second" / layout.EVALUATION_FILE).read_bytes()  # deterministic
    report = json.loads(written)
    check_report(report, printed, tmp_path / "model")
    assert sorted(report["metrics"]) == list(evaluate.METRICS["BinaryClassification"])
    assert sorted(report["metrics"]) == ["accuracy", "auc", "f1", "log_loss", "precision", "recall"]
    assert json_get(report, layout.evaluation_json_path("auc")) > 0.75
    probabilities = check_serving(archive, fraud_splits / "test", tmp_path / "serving")
    assert probabilities.shape == (60,)  # one positive-class probability per row
    assert ((probabilities >= 0) & (probabilities <= 1)).all()


def test_regression(tmp_path: Path, call: Call) -> None:
    frame = fraud_frame(seed=3).drop(columns=["is_fraud"])
    noise = np.random.default_rng(3).normal(0, 5, ROWS)
    frame["loss"] = (0.8 * frame["amount"] + 40 * frame["merchant_risk"] + noise).round(2)
    write_input(frame, tmp_path / "input")
    code, _, err = call(
        preprocess, "--input-dir", str(tmp_path / "input"), "--target", "loss", *DROP, *split_dirs(tmp_path)
    )
    assert code == 0, err
    env = sagemaker_env(tmp_path, tmp_path / "model")
    code, printed, err = call(
        train, "--algorithm", "xgboost", "--problem_type", "Regression", "--num_round", "50", env=env
    )
    assert code == 0, err
    code, _, err = call(
        evaluate, *evaluate_args(package(tmp_path / "model", tmp_path / "archive"), tmp_path, tmp_path / "out")
    )
    assert code == 0, err
    report = json.loads((tmp_path / "out" / layout.EVALUATION_FILE).read_text())
    check_report(report, printed, tmp_path / "model")
    assert sorted(report["metrics"]) == ["mae", "mse", "r2", "rmse"] == list(evaluate.METRICS["Regression"])
    assert json_get(report, layout.evaluation_json_path("mse")) == pytest.approx(
        json_get(report, layout.evaluation_json_path("rmse")) ** 2
    )
    assert json_get(report, layout.evaluation_json_path("r2")) > 0.8
    assert 0 < json_get(report, layout.evaluation_json_path("rmse")) < frame["loss"].std() / 2
    predicted = check_serving(tmp_path / "archive", tmp_path / "test", tmp_path / "serving")
    test_split = pd.read_csv(tmp_path / "test" / layout.SPLIT_FILE)
    assert predicted.shape == (len(test_split),)  # the values themselves, not probabilities
    rmse = float(np.sqrt(np.mean((predicted - test_split["loss"].to_numpy()) ** 2)))
    assert rmse == pytest.approx(json_get(report, layout.evaluation_json_path("rmse")))


def test_multiclass_with_string_labels(tmp_path: Path, call: Call) -> None:
    frame = fraud_frame(seed=5).drop(columns=["is_fraud"])
    frame["tier"] = pd.cut(frame["merchant_risk"] + 0.2 * np.log(frame["amount"]), 3, labels=["high", "low", "mid"])
    frame["tier"] = frame["tier"].astype(str)
    write_input(frame, tmp_path / "input")
    code, _, err = call(
        preprocess, "--input-dir", str(tmp_path / "input"), "--target", "tier", *DROP, *split_dirs(tmp_path)
    )
    assert code == 0, err
    env = sagemaker_env(tmp_path, tmp_path / "model")
    code, printed, err = call(train, "--algorithm", "xgboost", "--problem-type", "MulticlassClassification", env=env)
    assert code == 0, err
    assert json.loads((tmp_path / "model" / layout.FEATURES_FILE).read_text())["classes"] == ["high", "low", "mid"]
    code, _, err = call(
        evaluate, *evaluate_args(package(tmp_path / "model", tmp_path / "archive"), tmp_path, tmp_path / "out")
    )
    assert code == 0, err
    report = json.loads((tmp_path / "out" / layout.EVALUATION_FILE).read_text())
    check_report(report, printed, tmp_path / "model")
    assert json_get(report, layout.evaluation_json_path("auc")) > 0.8
    probabilities = check_serving(tmp_path / "archive", tmp_path / "test", tmp_path / "serving")
    test_rows = len(pd.read_csv(tmp_path / "test" / layout.SPLIT_FILE))
    assert probabilities.shape == (test_rows, 3)  # one per class, in features.json's "classes" order
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--algorithm", "random_forest", "--scale_pos_weight", "3"], "unknown hyperparameter 'scale_pos_weight'"),
        (["--algorithm", "xgboost", "--eta", "0.1", "--learning_rate", "0.2"], "'eta' and 'learning_rate' both set"),
        (["--algorithm", "xgboost", "--max_depth", "deep"], "hyperparameter 'max_depth'"),
        (["--algorithm", "xgboost", "--max_depth"], "--max_depth has no value"),
        (["--algorithm", "xgboost", "--objective", "reg:squarederror"], "does not fit problem type"),
        (
            ["--algorithm", "random_forest", "--problem-type", "Regression", "--class_weight", "balanced"],
            "classification only",
        ),
        (
            ["--algorithm", "random_forest", "--problem-type", "MulticlassClassification", "--validation", "/nowhere"],
            "no data.csv in /nowhere",
        ),
    ],
)
def test_train_rejects_bad_hyperparameters(
    fraud_splits: Path, tmp_path: Path, call: Call, args: list[str], message: str
) -> None:
    code, _, err = call(train, *args, env=sagemaker_env(fraud_splits, tmp_path / "model"))
    assert code == 1
    assert message in err
    assert not (tmp_path / "model").exists()


class _Scores:
    """An estimator stand-in: predict_proba/predict from the row sums."""

    def __init__(self, classes: int) -> None:
        self.classes = classes

    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        positive = 1 / (1 + np.exp(-np.nan_to_num(matrix).sum(axis=1)))
        if self.classes == 2:
            return np.column_stack([1 - positive, positive])
        return np.column_stack([positive / 2, positive / 2, 1 - positive])

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        return np.nan_to_num(matrix).sum(axis=1)


def _served(problem_type: str, classes: int = 2) -> Any:
    description = {"features": ["a", "b", "c"], "problem_type": problem_type, "classes": None, "label": "y"}
    return inference.Model(_Scores(classes), description)


def test_inference_request_formats() -> None:
    model = _served("BinaryClassification")
    expected = [[1.0, 2.0, float("nan")], [0.0, 1.0, -3.5]]
    bodies = [
        (b"1,2,\n0,1,-3.5\n", "text/csv"),  # an empty field is a missing value
        ("1,2,\r\n\r\n0,True,-3.5", "text/csv; charset=utf-8"),  # CRLF, blank line, boolean as 1/0
        (b"1,2,\n0,1,-3.5", None),  # no content type: CSV
        (json.dumps({"instances": [[1, 2, None], [0, 1, -3.5]]}), "application/json"),
        (json.dumps([[1, 2, None], [False, True, -3.5]]).encode(), "application/json"),
        (
            json.dumps({"instances": [{"c": None, "b": 2, "a": 1, "id": "x"}, {"a": 0, "b": 1, "c": -3.5}]}),
            "application/json",
        ),
    ]
    for body, content_type in bodies:
        matrix = inference.features_matrix(inference.input_fn(body, content_type), model.features)
        np.testing.assert_array_equal(matrix, expected)
        assert inference.predict_fn(inference.input_fn(body, content_type), model).shape == (2,)

    assert inference.predict_fn(np.zeros((4, 3)), _served("MulticlassClassification", classes=3)).shape == (4, 3)
    assert inference.predict_fn(np.ones((1, 3)), _served("Regression")).tolist() == [3.0]
    assert inference.output_fn(np.array([[0.25, 0.75], [1.0, 0.0]]), "text/csv") == ("0.25,0.75\n1.0,0.0\n", "text/csv")
    assert inference.output_fn(np.array([0.5]), "application/json, text/csv") == (
        '{"predictions": [0.5]}',
        "application/json",
    )
    assert inference.output_fn(np.array([0.5]), "text/html, text/csv;q=0.9") == ("0.5\n", "text/csv")


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ("a,b,c\n1,2,3", "text/csv", "line 1, value 1: 'a' is not a number (CSV requests have no header row)"),
        ("1,2,3\n1,x,3", "text/csv", "line 2, value 2: 'x' is not a number"),
        ("1,2,3\n1,2", "text/csv", "rows have different numbers of values: 2, 3"),
        ("1,2", "text/csv", "rows have 2 values; the model takes 3: a, b, c"),
        ("\n\n", "text/csv", "the request has no rows"),
        ('{"rows": [[1, 2, 3]]}', "application/json", '{"instances": [...]}'),
        ('{"instances": []}', "application/json", "no instances"),
        ('{"instances": [1, 2, 3]}', "application/json", "a list of feature values or an object"),
        ('[{"a": 1, "b": 2}]', "application/json", "instance 1 lacks feature(s): c"),
        ('[{"a": 1, "b": 2, "c": "high"}]', "application/json", "feature 'c': 'high' is not a number"),
        ("1,2,3", "application/x-parquet", "unsupported content type"),
    ],
)
def test_inference_rejects_bad_requests(body: str, content_type: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        inference.predict_fn(inference.input_fn(body, content_type), _served("BinaryClassification"))
    assert message in str(raised.value)


def test_inference_rejects_an_unsupported_accept_type() -> None:
    with pytest.raises(ValueError, match="unsupported accept type 'text/html'"):
        inference.output_fn(np.array([0.5]), "text/html")


def test_train_fails_without_the_inference_code(fraud_splits: Path, tmp_path: Path, call: Call) -> None:
    """A train.py uploaded without inference.py beside it would register a model nothing can serve."""
    (tmp_path / "code").mkdir()
    shutil.copyfile(STEPS / "train.py", tmp_path / "code" / "train.py")
    spec = importlib.util.spec_from_file_location("train_without_inference", tmp_path / "code" / "train.py")
    assert spec is not None and spec.loader is not None
    alone = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(alone)
    args = ["--algorithm", "random_forest", "--n_estimators", "5"]
    code, _, err = call(alone, *args, env=sagemaker_env(fraud_splits, tmp_path / "model"))
    assert code == 1
    assert "no inference.py beside train.py" in err
    assert not (tmp_path / "model").exists()  # checked before training


def test_train_tolerates_sagemaker_reserved_hyperparameters(fraud_splits: Path, tmp_path: Path, call: Call) -> None:
    args = ["--algorithm", "random_forest", "--n_estimators", "5", "--sagemaker_program", "train.py", "--seed=3"]
    code, _, err = call(train, *args, env=sagemaker_env(fraud_splits, tmp_path / "model"))
    assert code == 0, err
    assert (tmp_path / "model" / layout.MODEL_FILE).is_file()


# --- categorical features and headerless CSV ------------------------------------------------
def abalone_frame(rows: int = ROWS, seed: int = 11) -> pd.DataFrame:
    """AWS's abalone sample's shape: a text column (sex) among measurements, the age (rings) last."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["M", "F", "I"], rows)
    length = rng.uniform(0.1, 0.8, rows).round(3)
    weight = (length**3 * rng.uniform(2.5, 3.5, rows)).round(4)
    rings = (4 + 14 * length + np.where(sex == "I", -3.0, 1.0) + rng.normal(0, 0.5, rows)).round()
    return pd.DataFrame({"sex": sex, "length": length, "whole_weight": weight, "rings": rings})


def test_a_headerless_csv_with_a_categorical_column_trains_evaluates_and_serves(tmp_path: Path, call: Call) -> None:
    frame = abalone_frame()
    (tmp_path / "input").mkdir()
    frame.to_csv(tmp_path / "input" / "abalone.csv", header=False, index=False)  # as AWS publishes it
    code, _, err = call(
        preprocess,
        *("--input-dir", str(tmp_path / "input"), "--target", "rings"),
        *("--column-names", "sex,length,whole_weight,rings", "--categorical-columns", "sex"),
        *split_dirs(tmp_path),
    )
    assert code == 0, err
    assert json.loads((tmp_path / "train" / train.COLUMNS_FILE).read_text()) == {
        "label": "rings",
        "categorical": ["sex"],
    }
    env = sagemaker_env(tmp_path, tmp_path / "model")
    code, printed, err = call(train, "--algorithm", "hist_gradient_boosting", "--problem_type", "Regression", env=env)
    assert code == 0, err
    description = json.loads((tmp_path / "model" / layout.FEATURES_FILE).read_text())
    assert description["features"] == ["sex", "length", "whole_weight"]
    assert description["categories"] == {"sex": ["F", "I", "M"]}  # recorded in the model: serving encodes the same
    archive = package(tmp_path / "model", tmp_path / "archive")
    code, _, err = call(evaluate, *evaluate_args(archive, tmp_path, tmp_path / "out"))
    assert code == 0, err
    report = json.loads((tmp_path / "out" / layout.EVALUATION_FILE).read_text())
    check_report(report, printed, tmp_path / "model")
    assert json_get(report, layout.evaluation_json_path("r2")) > 0.8  # sex carries 4 rings: it was used
    predicted = check_serving(archive, tmp_path / "test", tmp_path / "serving")
    rmse = float(np.sqrt(np.mean((predicted - pd.read_csv(tmp_path / "test" / layout.SPLIT_FILE)["rings"]) ** 2)))
    assert rmse == pytest.approx(json_get(report, layout.evaluation_json_path("rmse")))  # gate == endpoint


def test_serving_encodes_categories_as_training_did(fraud_splits: Path, tmp_path: Path, call: Call) -> None:
    """A category is its position in features.json's list; unseen and empty ones are missing values."""
    code, _, err = call(
        train, "--algorithm", "xgboost", "--num_round", "20", env=sagemaker_env(fraud_splits, tmp_path / "model")
    )
    assert code == 0, err
    handlers, model = serve(package(tmp_path / "model", tmp_path / "archive"), tmp_path / "serving")
    assert model.categories == {"channel": ["atm", "online", "pos"]}
    row = "12.5,3,4.0,0.9,1"
    matrix = handlers.features_matrix(
        handlers.input_fn(f"{row},pos\n{row},kiosk\n{row},\n", "text/csv"), model.features, model.categories
    )
    np.testing.assert_array_equal(matrix[:, -1], [2.0, np.nan, np.nan])
    records = [dict(zip(FEATURES, [12.5, 3, 4.0, 0.9, True, value], strict=True)) for value in ("pos", "kiosk", None)]
    np.testing.assert_array_equal(handlers.features_matrix(records, model.features, model.categories), matrix)
    expected = joblib.load(tmp_path / "serving" / layout.MODEL_FILE).predict_proba(matrix)[:, 1]
    np.testing.assert_allclose(
        handlers.predict_fn(handlers.input_fn(json.dumps(records), "application/json"), model), expected
    )


def test_whole_number_categories_are_one_category_however_written(tmp_path: Path, call: Call) -> None:
    """A merchant category code column with a gap reads as floats (5411.0); requests send 5411 or "5411"."""
    frame = fraud_frame(rows=200)
    frame["mcc"] = np.where(np.arange(200) % 2, 5411, 5812).astype(float)
    frame.loc[3, "mcc"] = np.nan
    write_input(frame, tmp_path / "input")
    code, _, err = call(
        preprocess,
        *("--input-dir", str(tmp_path / "input"), "--target", "is_fraud"),
        *("--drop-columns", "transaction_id,event_time", "--categorical-columns", "channel,mcc"),
        *split_dirs(tmp_path),
    )
    assert code == 0, err
    assert "5411.0" not in (tmp_path / "train" / layout.SPLIT_FILE).read_text()
    code, _, err = call(
        train, "--algorithm", "random_forest", "--n_estimators", "5", env=sagemaker_env(tmp_path, tmp_path / "model")
    )
    assert code == 0, err
    handlers, model = serve(package(tmp_path / "model", tmp_path / "archive"), tmp_path / "serving")
    assert model.categories["mcc"] == ["5411", "5812"]
    row = [12.5, 3, 4.0, 0.9, 1, "pos"]
    bodies = [json.dumps([[*row, 5812]]), json.dumps([[*row, 5812.0]]), json.dumps([[*row, "5812"]])]
    matrices = [
        handlers.features_matrix(handlers.input_fn(body, "application/json"), model.features, model.categories)
        for body in bodies
    ]
    assert all(matrix[0, -1] == 1.0 for matrix in matrices)


def test_evaluate_rejects_a_test_split_without_the_features(fraud_splits: Path, tmp_path: Path, call: Call) -> None:
    code, _, err = call(
        train,
        "--algorithm",
        "hist_gradient_boosting",
        "--max_iter",
        "5",
        env=sagemaker_env(fraud_splits, tmp_path / "model"),
    )
    assert code == 0, err
    (tmp_path / "test").mkdir()
    pd.read_csv(fraud_splits / "test" / layout.SPLIT_FILE).drop(columns=["amount"]).to_csv(
        tmp_path / "test" / layout.SPLIT_FILE, index=False
    )
    code, _, err = call(
        evaluate, *evaluate_args(package(tmp_path / "model", tmp_path / "archive"), tmp_path, tmp_path / "out")
    )
    assert code == 1
    assert "lacks column(s) the model was trained with: amount" in err
    assert not (tmp_path / "out").exists()


# --- last: wait for the separate processes ------------------------------------------------
def test_processes_as_sagemaker_runs_them(processes: dict[str, Future[dict[str, Ran]]], fraud_splits: Path) -> None:
    """preprocess, train (SM_* variables) and evaluate (model.tar.gz) each as its own process."""
    ran = processes["chain"].result(timeout=300)
    for step, done in ran.items():
        assert done.returncode == 0, f"{step}: {done.stderr}"
    assert list(ran) == ["preprocess", "train", "evaluate"]
    assert "categorical: channel" in ran["preprocess"].stdout
    root = Path(ran["evaluate"].args[ran["evaluate"].args.index("--output-dir") + 1]).parent
    for name in ("train", "validation", "test"):  # same bytes as in this process: deterministic
        assert (root / name / layout.SPLIT_FILE).read_bytes() == (fraud_splits / name / layout.SPLIT_FILE).read_bytes()
    report = json.loads((root / "out" / layout.EVALUATION_FILE).read_text())
    check_report(report, ran["train"].stdout, root / "model")
    assert json_get(report, layout.evaluation_json_path("auc")) > 0.75
    assert (report["problem_type"], report["rows"]) == ("BinaryClassification", 60)
    features = json.loads((root / "model" / layout.FEATURES_FILE).read_text())
    assert (features["features"], features["label"], features["classes"]) == (FEATURES, "is_fraud", [0, 1])
    assert (root / "baseline" / layout.BASELINE_FILE).read_bytes() == (
        fraud_splits / "baseline" / layout.BASELINE_FILE
    ).read_bytes()
    lineage = json.loads((root / "lineage" / layout.LINEAGE_FILE).read_text())
    assert lineage["data"] == json.loads((fraud_splits / "lineage" / layout.LINEAGE_FILE).read_text())["data"]
    probabilities = check_serving(root / "archive", root / "test", root / "serving")
    assert probabilities.shape == (60,)


def test_failures_exit_non_zero_with_the_reason_on_stderr(processes: dict[str, Future[dict[str, Ran]]]) -> None:
    ran = processes["failing"].result(timeout=300)
    assert ran["missing target"].returncode == 1
    assert "target column 'label' not found; columns are: transaction_id, event_time" in ran["missing target"].stderr
    assert ran["unknown hyperparameter"].returncode == 1
    assert "unknown hyperparameter 'max_dept' for algorithm 'random_forest'" in ran["unknown hyperparameter"].stderr


def test_evaluation_predicts_on_one_thread() -> None:
    """Thread-parallel forests add votes in varying order; the gate's report must be the same bytes every run."""
    forest = train.build_estimator("random_forest", "BinaryClassification", {"n_estimators": "3"})
    assert forest.get_params()["model__n_jobs"] == -1  # trained on every core
    assert evaluate.single_threaded(forest).get_params()["model__n_jobs"] == 1
    booster = train.build_estimator("hist_gradient_boosting", "Regression", {})
    assert evaluate.single_threaded(booster) is booster  # nothing to set
