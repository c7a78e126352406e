"""Training rules of the spec: hyperparameters as the bundled train.py takes them, and
EventBridge Scheduler schedule expressions."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlstack.pipelines.steps import train
from mlstack.spec import hyperparameters as bundled
from mlstack.spec import load_all
from mlstack.spec.schedule import problem
from tests.conftest import EXAMPLE, ROOT, line_of
from tests.spec_variants import problems
from tests.spec_variants import variant as _variant

TEXT = EXAMPLE.read_text()


def variant(tmp_path: Path, *edits: tuple[str, str]) -> tuple[Path, str]:
    return _variant(tmp_path, *edits, base=TEXT, lock=ROOT / "mlstack.lock.json")


FRAUD = "        algorithm: xgboost\n"  # first model: xgboost
MERCHANT = "        algorithm: random_forest\n"  # second model: random_forest


def test_the_example_is_valid(tmp_path: Path) -> None:
    path, _ = variant(tmp_path)
    assert sorted(load_all(path)) == ["dev", "prod", "staging"]


# --- hyperparameters ---------------------------------------------------------------------------
XGBOOST_ALLOWED = (
    "alpha, colsample_bytree, early_stopping_rounds, eta, eval_metric, gamma, lambda, learning_rate, max_bin, "
    "max_depth, min_child_weight, n_estimators, num_round, objective, scale_pos_weight, seed, subsample, "
    "tree_method"
)
FOREST_ALLOWED = (
    "class_weight, max_depth, max_features, min_samples_leaf, min_samples_split, n_estimators, n_jobs, seed"
)


def test_missing_algorithm(tmp_path: Path) -> None:
    path, text = variant(tmp_path, (FRAUD, ""))
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'hyperparameters:')}:7: models[0].training.hyperparameters: "
        "the bundled train.py needs hyperparameter 'algorithm': one of hist_gradient_boosting, random_forest, xgboost"
    ]


def test_unknown_algorithm_suggests_the_closest(tmp_path: Path) -> None:
    path, text = variant(tmp_path, (MERCHANT, "        algorithm: randomforest\n"))
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'randomforest')}:20: models[1].training.hyperparameters.algorithm: "
        "'randomforest' is not an algorithm of the bundled train.py "
        "(allowed: hist_gradient_boosting, random_forest, xgboost; did you mean 'random_forest'?)"
    ]


def test_misspelt_hyperparameter_of_xgboost(tmp_path: Path) -> None:
    path, text = variant(tmp_path, ("        max_depth: 6\n", "        max_dept: 6\n"))
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'max_dept')}:19: models[0].training.hyperparameters.max_dept: "
        f"'max_dept' is not a hyperparameter of algorithm 'xgboost'; did you mean 'max_depth'? "
        f"(allowed: {XGBOOST_ALLOWED})"
    ]


def test_misspelt_hyperparameter_of_random_forest(tmp_path: Path) -> None:
    path, text = variant(tmp_path, ("        n_estimators: 300\n", "        n_estimator: 300\n"))
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'n_estimator:')}:22: models[1].training.hyperparameters.n_estimator: "
        f"'n_estimator' is not a hyperparameter of algorithm 'random_forest'; did you mean 'n_estimators'? "
        f"(allowed: {FOREST_ALLOWED})"
    ]


def test_hyperparameter_of_another_algorithm(tmp_path: Path) -> None:
    """eta is XGBoost's; random_forest does not take it."""
    path, text = variant(tmp_path, (MERCHANT, MERCHANT + "        eta: 0.1\n"))
    (message,) = problems(path)
    assert message.startswith(
        f"mlstack.yaml:{line_of(text, 'eta: 0.1')}:14: models[1].training.hyperparameters.eta: "
        "'eta' is not a hyperparameter of algorithm 'random_forest'"
    )


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        ("num_round: 200", "num_round: 2.5", "num_round", "'num_round' takes an integer, not '2.5'"),
        ("num_round: 200", "num_round: true", "num_round", "'num_round' takes an integer, not 'True'"),
        ("num_round: 200", "num_round: many", "num_round", "'num_round' takes an integer, not 'many'"),
        ("eta: 0.2", "eta: fast", "eta", "'eta' takes a number, not 'fast'"),
    ],
)
def test_values_the_converter_rejects(tmp_path: Path, old: str, new: str, key: str, message: str) -> None:
    path, text = variant(tmp_path, (old, new))
    column = line_of(text, new)
    assert problems(path) == [
        f"mlstack.yaml:{column}:{len(key) + 11}: models[0].training.hyperparameters.{key}: {message}"
    ]


def test_values_the_converter_takes_pass(tmp_path: Path) -> None:
    path, _ = variant(
        tmp_path,
        ("num_round: 200", 'num_round: "200"'),
        ("eta: 0.2", "eta: 1"),
        ("        max_depth: 8\n", "        max_depth: none\n        max_features: sqrt\n        seed: 7\n"),
    )
    load_all(path)


def test_random_forest_kinds(tmp_path: Path) -> None:
    path, text = variant(tmp_path, ("        max_depth: 8\n", "        max_features: lots\n"))
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'lots')}:23: models[1].training.hyperparameters.max_features: "
        "'max_features' takes sqrt, log2, none, a count (integer) or a fraction (number), not 'lots'"
    ]


def test_two_names_for_one_parameter(tmp_path: Path) -> None:
    path, text = variant(tmp_path, ("eta: 0.2", "eta: 0.2\n        learning_rate: 0.1"))
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'learning_rate')}:24: models[0].training.hyperparameters.learning_rate: "
        "'eta' and 'learning_rate' both set learning_rate; give one"
    ]


def test_problem_type_and_reserved_names(tmp_path: Path) -> None:
    path, text = variant(tmp_path, (FRAUD, FRAUD + "        sagemaker_program: x.py\n"))
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'sagemaker_program')}:28: "
        "models[0].training.hyperparameters.sagemaker_program: "
        "'sagemaker_program': sagemaker_* hyperparameters are reserved by SageMaker"
    ]
    path, text = variant(tmp_path, (FRAUD, FRAUD + "        problem_type: Regression\n"))
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'problem_type: Regression')}:23: "
        "models[0].training.hyperparameters.problem_type: "
        "the problem type comes from the model's problem_type; remove it here"
    ]


def test_own_entry_point_is_not_checked(tmp_path: Path) -> None:
    path, _ = variant(
        tmp_path,
        ('      framework_version: "1.2-1"\n', '      framework_version: "1.2-1"\n      entry_point: mine.py\n'),
        ("        n_estimators: 300\n", "        anything: 300\n"),
    )
    load_all(path)


def test_the_spec_reads_train_py_s_own_table() -> None:
    """One source of truth: what the spec checks is what train.py converts."""
    table = bundled.read_table(Path(train.__file__))
    assert table == bundled.bundled_table()
    assert dict(table.renamed) == train.RENAMED
    assert {name: train.CONVERTERS[kind] for name, kind in table.common.items()} == train.COMMON
    assert {
        algorithm: {name: train.CONVERTERS[kind] for name, kind in kinds.items()}
        for algorithm, kinds in table.algorithms.items()
    } == train.HYPERPARAMETERS
    assert sorted(train.build_parser()._option_string_actions["--algorithm"].choices) == sorted(table.algorithms)
    assert set(bundled.KINDS) == set(train.CONVERTERS)


SAMPLES = [
    "0", "7", "200.0", "2.5", "-3", "1e3", "1e400", "nan", "inf", "True", "False", "true", "auto", "AUTO",
    "none", "None", "null", "sqrt", "LOG2", " 5 ", "", "x", "0.5", "10",
]  # fmt: skip


@pytest.mark.parametrize("kind", sorted(bundled.KINDS))
def test_the_spec_s_checks_agree_with_train_py_s_converters(kind: str) -> None:
    for raw in SAMPLES:
        try:
            train.CONVERTERS[kind](raw)
            converted = True
        except ValueError:
            converted = False
        assert bundled.accepts(kind, raw) == converted, (kind, raw)


def test_xgboost_needs_the_xgboost_image(tmp_path: Path) -> None:
    """The scikit-learn training image has no XGBoost: train.py would fail on import, at run time."""
    path, text = variant(
        tmp_path,
        (MERCHANT, "        algorithm: xgboost\n        num_round: 300\n"),
        ("        n_estimators: 300\n        max_depth: 8\n", ""),
    )
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'algorithm: xgboost', 2)}:20: models[1].training.hyperparameters.algorithm: "
        "algorithm 'xgboost' needs framework: xgboost; the sklearn training image has no xgboost"
    ]


def test_class_weight_is_refused_for_regression(tmp_path: Path) -> None:
    path, text = variant(
        tmp_path,
        (
            "    data:\n      feature_groups: [merchant-profile]",
            "    problem_type: Regression\n    data:\n      feature_groups: [merchant-profile]",
        ),
        ("      metric: f1\n", "      metric: mae\n"),
        (MERCHANT, MERCHANT + "        class_weight: balanced\n"),
    )
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'class_weight')}:23: models[1].training.hyperparameters.class_weight: "
        "'class_weight' applies to classification only"
    ]


def test_an_objective_must_fit_the_problem_type(tmp_path: Path) -> None:
    path, text = variant(tmp_path, ('objective: "binary:logistic"', 'objective: "reg:squarederror"'))
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'reg:squarederror')}:20: models[0].training.hyperparameters.objective: "
        "objective 'reg:squarederror' does not fit problem type BinaryClassification"
    ]


@pytest.mark.parametrize(
    ("hyperparameters", "problem_type"),
    [
        ({"algorithm": "random_forest", "class_weight": "balanced"}, "Regression"),
        ({"algorithm": "hist_gradient_boosting", "class_weight": "balanced"}, "Regression"),
        ({"algorithm": "xgboost", "objective": "reg:squarederror"}, "BinaryClassification"),
        ({"algorithm": "xgboost", "objective": "multi:softprob"}, "Regression"),
    ],
)
def test_the_fit_checks_agree_with_train_py(hyperparameters: dict[str, str], problem_type: str) -> None:
    assert bundled.fit_problems(hyperparameters, "xgboost", problem_type)
    rest = {key: value for key, value in hyperparameters.items() if key != "algorithm"}
    with pytest.raises(train.UsageError):
        train.build_estimator(hyperparameters["algorithm"], problem_type, rest)


def test_what_fits_passes() -> None:
    assert (
        bundled.fit_problems(
            {"algorithm": "random_forest", "class_weight": "balanced"}, "sklearn", "BinaryClassification"
        )
        == []
    )
    assert (
        bundled.fit_problems({"algorithm": "xgboost", "objective": "reg:squarederror"}, "xgboost", "Regression") == []
    )
    assert bundled.fit_problems({"algorithm": "hist_gradient_boosting"}, "xgboost", "Regression") == []


# --- schedules ---------------------------------------------------------------------------------
SCHEDULE = "      schedule: cron(0 3 ? * MON *)"


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("cron(99 3 ? * MON *)", "the minutes field '99': 99 is outside 0-59"),
        (
            "cron(0 3 * * MON *)",
            "day-of-month ('*') and day-of-week ('MON') are both set: make one of them '?', "
            "e.g. cron(0 3 ? * MON *) or cron(0 3 1 * ? *)",
        ),
        ("cron(0 3 ? * ? *)", "day-of-month and day-of-week are both '?': set one of them, e.g. cron(0 3 ? * MON *)"),
        ("cron(0 24 ? * MON *)", "the hours field '24': 24 is outside 0-23"),
        ("cron(0 3 0 * ? *)", "the day-of-month field '0': 0 is outside 1-31"),
        ("cron(0 3 ? 13 MON *)", "the month field '13': 13 is outside 1-12"),
        ("cron(0 3 ? FOO MON *)", "the month field 'FOO': 'FOO' is not 1-12 or JAN-DEC with , - * /"),
        ("cron(0 3 ? * 8 *)", "the day-of-week field '8': 8 is outside 1-7"),
        (
            "cron(0 3 ? * MON/2 *)",
            "the day-of-week field 'MON/2': '/' is not allowed here: it takes 1-7 or SUN-SAT with , - * ? L #",
        ),
        ("cron(0 3 ? * MON#6 *)", "the day-of-week field 'MON#6': '#6' is not a week of the month (#1-#5)"),
        ("cron(0 3 ? * MON 2200)", "the year field '2200': 2200 is outside 1970-2199"),
        ("cron(0 ? ? * MON *)", "the hours field cannot be '?': only day-of-month or day-of-week can"),
        ("cron(L 3 ? * MON *)", "the minutes field 'L': 'L' is not 0-59 with , - * /"),
        ("cron(*/0 3 ? * MON *)", "the minutes field '*/0': the increment '0' is not a positive whole number"),
        ("cron(0 3 ? * MON)", "cron() takes six fields (minutes hours day-of-month month day-of-week year), not 5"),
        ("rate(1 days)", "rate(1 ...) takes the unit 'day', not 'days'"),
        ("rate(7 day)", "rate(7 ...) takes the unit 'days', not 'day'"),
        ("rate(0 minutes)", "the rate value '0' is not a positive whole number"),
        ("rate(2 weeks)", "the rate unit 'weeks' is not minute(s), hour(s) or day(s)"),
        ("at(2030-01-31 03:00:00)", "at() takes a date and time as yyyy-mm-ddThh:mm:ss, e.g. at(2030-01-31T03:00:00)"),
        ("at(2030-02-30T03:00:00)", "at() has no such date and time (day is out of range for month)"),
        (
            "weekly",
            "use rate(value unit), cron(minutes hours day-of-month month day-of-week year) or at(yyyy-mm-ddThh:mm:ss)",
        ),
    ],
)
def test_bad_schedule_expressions(tmp_path: Path, expression: str, reason: str) -> None:
    path, text = variant(tmp_path, (SCHEDULE, f"      schedule: {expression}"))
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'schedule: ' + expression)}:17: models[0].training.schedule: "
        f"'{expression}' is not an EventBridge Scheduler expression: {reason}"
    ]


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 3 ? * MON *)",
        "cron(0/15 * * * ? *)",
        "cron(*/5 8-17 ? * MON-FRI *)",
        "cron(0 0 L * ? *)",
        "cron(0 9 15W JAN,APR,JUL,OCT ? 2025-2030)",
        "cron(0 9 ? * 6L *)",
        "cron(30 14 ? * FRI#2 *)",
        "cron(0 3 ? * sun *)",
        "rate(1 minute)",
        "rate(15 minutes)",
        "rate(1 hour)",
        "rate(7 days)",
        "at(2030-01-31T03:00:00)",
    ],
)
def test_good_schedule_expressions(tmp_path: Path, expression: str) -> None:
    assert problem(expression) is None
    path, _ = variant(tmp_path, (SCHEDULE, f"      schedule: {expression}"))
    load_all(path)


# --- the quality gate's metrics ------------------------------------------------------------------
def test_the_spec_reads_evaluate_py_s_own_metrics() -> None:
    """One source of truth: a gate may use exactly what evaluate.py writes."""
    from mlstack.pipelines.steps import evaluate
    from mlstack.spec.project_spec import evaluation_metrics

    assert evaluation_metrics() == evaluate.METRICS
    assert "mse" in evaluate.METRICS["Regression"] and "log_loss" in evaluate.METRICS["BinaryClassification"]


@pytest.mark.parametrize(
    ("edits", "metric"),
    [
        ((), "log_loss"),
        (
            (
                (
                    "    data:\n      feature_groups: [merchant-profile]",
                    "    problem_type: Regression\n    data:\n      feature_groups: [merchant-profile]",
                ),
            ),
            "mse",
        ),
    ],
)
def test_a_gate_can_use_mse_and_log_loss(tmp_path: Path, edits: tuple[tuple[str, str], ...], metric: str) -> None:
    path, _ = variant(tmp_path, *edits, ("      metric: f1\n", f"      metric: {metric}\n"))
    assert sorted(load_all(path)) == ["dev", "prod", "staging"]


def test_a_gate_metric_the_evaluation_does_not_write(tmp_path: Path) -> None:
    path, text = variant(tmp_path, ("      metric: f1\n", "      metric: rmse\n"))
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'metric: rmse')}:15: models[1].evaluation.metric: the evaluation step writes "
        "no 'rmse' for BinaryClassification models (it writes: accuracy, auc, f1, log_loss, precision, recall)"
    ]


# --- data columns: categories, exclusions, headerless CSV ---------------------------------------
CATEGORIES = (
    "      categorical: [currency]\n"
    "      exclude: [card_id, merchant_id]  # identifiers: no signal a model should learn\n"
)
MERCHANT_DATA = "      feature_groups: [merchant-profile]\n      target: risk_label\n"
ABALONE = (
    "      s3_uri: s3://card-fraud-data/abalone/\n      target: rings\n      header: false\n"
    "      columns: [sex, length, whole_weight, rings]\n      categorical: [sex]\n"
)


def test_a_text_feature_must_be_categorical_or_excluded(tmp_path: Path) -> None:
    path, text = variant(tmp_path, (CATEGORIES, "      exclude: [card_id]\n"))
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'feature_groups: [transactions]') - 1}:5: models[0].data: feature group "
        "'transactions' has text feature(s) merchant_id, currency the model cannot use as numbers: list each under "
        "categorical (encoded as categories) or exclude (not a feature)"
    ]


@pytest.mark.parametrize(
    ("edit", "needle", "column", "path_", "message"),
    [
        (
            "      categorical: [curency]\n      exclude: [card_id, merchant_id, currency]\n",
            "curency",
            21,
            "models[0].data.categorical[0]",
            "'curency' is not a feature of feature group 'transactions'; did you mean 'currency'?",
        ),
        (
            "      categorical: [currency]\n      exclude: [card_id, merchant_id, currency]\n",
            "categorical: [currency]",
            21,
            "models[0].data.categorical[0]",
            "'currency' is both categorical and excluded",
        ),
        (
            "      categorical: [currency, is_fraud]\n      exclude: [card_id, merchant_id]\n",
            "is_fraud]",
            31,
            "models[0].data.categorical[1]",
            "'is_fraud' is the target; it cannot also be categorical",
        ),
        (
            CATEGORIES + "      header: false\n",
            "header: false",
            15,
            "models[0].data.header",
            "header: false describes s3_uri CSV files; a feature group's data has its names",
        ),
    ],
)
def test_data_column_mistakes(tmp_path: Path, edit: str, needle: str, column: int, path_: str, message: str) -> None:
    path, text = variant(tmp_path, (CATEGORIES, edit))
    assert problems(path) == [f"mlstack.yaml:{line_of(text, needle)}:{column}: {path_}: {message}"]


def test_a_headerless_csv_names_its_columns(tmp_path: Path) -> None:
    path, _ = variant(
        tmp_path,
        (MERCHANT_DATA, ABALONE),
        ("      metric: f1\n", "      metric: mse\n"),
        ("    data:\n      s3_uri", "    problem_type: Regression\n    data:\n      s3_uri"),
    )
    envs = load_all(path)
    data = envs["dev"].spec.models[1].data
    assert (data.header, data.columns, data.categorical) == (False, ["sex", "length", "whole_weight", "rings"], ["sex"])


@pytest.mark.parametrize(
    ("old", "new", "needle", "path_", "message"),
    [
        (
            "      header: false\n",
            "",
            "columns: [sex",
            "models[1].data.columns",
            "`columns` names the columns of headerless CSV files: set header: false too",
        ),
        (
            "      columns: [sex, length, whole_weight, rings]\n",
            "",
            "header: false",
            "models[1].data.header",
            "header: false needs `columns`: the CSV's column names, in file order",
        ),
        (
            "target: rings",
            "target: ring",
            "target: ring",
            "models[1].data.target",
            "'ring' is not one of `columns`; did you mean 'rings'? (columns: sex, length, whole_weight, rings)",
        ),
        (
            "whole_weight, rings]",
            "whole_weight, rings, length]",
            "columns: [sex",
            "models[1].data.columns[4]",
            "'length' is listed twice",
        ),
    ],
)
def test_headerless_csv_mistakes(tmp_path: Path, old: str, new: str, needle: str, path_: str, message: str) -> None:
    path, text = variant(tmp_path, (MERCHANT_DATA, ABALONE), (old, new))
    (found,) = problems(path)
    assert found.startswith(f"mlstack.yaml:{line_of(text, needle)}:") and found.endswith(f" {path_}: {message}")


def test_the_pipeline_gets_the_columns(tmp_path: Path) -> None:
    from mlstack.spec.naming import Names
    from mlstack.wiring.training import pipeline_inputs

    path, _ = variant(
        tmp_path, (MERCHANT_DATA, ABALONE.replace("categorical: [sex]", "categorical: [sex]\n      exclude: [length]"))
    )
    env = load_all(path)["dev"]
    inputs = pipeline_inputs(
        env, Names.for_environment(env, "eu-west-1"), env.spec.models[1], kms_key_arn="arn:aws:kms:k", data_uri=""
    )
    assert inputs.column_names == ("sex", "length", "whole_weight", "rings")
    assert (inputs.categorical_columns, inputs.drop_columns) == (("sex",), ("length",))
