"""Hostile or sloppy spec files: each is refused with one located line, never a traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mlstack.spec import load_all
from tests.conftest import line_of
from tests.spec_variants import MINIMAL, problems, variant

SECOND_MODEL = """  - name: scorer
    data: { feature_groups: [events], target: label }
    training: { framework: sklearn, framework_version: "1.2-1", hyperparameters: { algorithm: random_forest } }
    evaluation: { metric: auc, comparison: GreaterThan, threshold: 0.7 }
environments:
"""

SECOND_GROUP = """  - name: events
    record_identifier: id
    event_time: ts
    features: [{ name: id, type: String }, { name: ts, type: String }]
models:
"""


def refused(cli, path: Path) -> list[str]:  # type: ignore[no-untyped-def]
    """The located lines `mlstack validate` prints; it must exit 2 without a traceback."""
    code, _, err = cli("validate", "--spec", str(path), cwd=path.parent)
    assert code == 2, err
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("mlstack.yaml:")]


# 1. Duplicate names


def test_duplicate_model_names_point_at_the_second_one(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    path, text = variant(tmp_path, ("environments:\n", SECOND_MODEL))
    assert refused(cli, path) == [
        f"mlstack.yaml:{line_of(text, 'name: scorer', 2)}:11: models[1].name: "
        f"model 'scorer' is defined twice (first at line {line_of(text, 'name: scorer')})"
    ]


def test_duplicate_feature_group_names_point_at_the_second_one(tmp_path: Path) -> None:
    path, text = variant(tmp_path, ("models:\n", SECOND_GROUP))
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'name: events', 2)}:11: feature_groups[1].name: "
        f"feature group 'events' is defined twice (first at line {line_of(text, 'name: events')})"
    ]


# 2. Infinities and NaN


@pytest.mark.parametrize(("written", "shown"), [(".inf", "inf"), ("-.inf", "-inf"), (".nan", "nan"), (".NaN", "nan")])
def test_non_finite_numbers_are_refused(tmp_path: Path, written: str, shown: str) -> None:
    path, text = variant(tmp_path, ("threshold: 0.8", f"threshold: {written}"))
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'threshold:')}:18: models[0].evaluation.threshold: "
        f"input should be a finite number (got {shown})"
    ]


def test_non_finite_numbers_in_a_union_give_one_line(tmp_path: Path) -> None:
    # hyperparameter values are str | int | float | bool: one line, not one per member
    if "hyperparameters: {" in MINIMAL:
        path, text = variant(tmp_path, ("hyperparameters: {", "hyperparameters: { eta: .inf,"))
    else:
        path, text = variant(
            tmp_path,
            ('framework_version: "1.2-1"', 'framework_version: "1.2-1"\n      hyperparameters: { eta: .inf }'),
        )
    line = line_of(text, "eta:")
    column = text.splitlines()[line - 1].index(".inf") + 1
    assert problems(path) == [
        f"mlstack.yaml:{line}:{column}: models[0].training.hyperparameters.eta: "
        "input should be a finite number (got inf)"
    ]


def test_non_finite_numbers_in_an_overlay(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    path, text = variant(
        tmp_path,
        (
            '      account_id: "333333333333"',
            '      account_id: "333333333333"\n    models:\n      - name: scorer\n'
            "        monitoring: { alarms: { drift_threshold: -.inf } }",
        ),
    )
    assert refused(cli, path) == [
        f"mlstack.yaml:{line_of(text, 'drift_threshold')}:50: "
        "environments.prod.models[0].monitoring.alarms.drift_threshold: input should be a finite number (got -inf)"
    ]


# 3. Strict scalars

COUNT = "models[0].serving.instance_count"
THRESHOLD = "models[0].evaluation.threshold"
ROLLBACK = "models[0].serving.rollout.rollback_on_alarms"


@pytest.mark.parametrize(
    ("old", "new", "column", "path", "message"),
    [
        ("instance_count: 2", "instance_count: true", 23, COUNT, "valid integer (got True)"),
        ("instance_count: 2", 'instance_count: "2"', 23, COUNT, "valid integer (got '2')"),
        ("instance_count: 2", "instance_count: 2.0", 23, COUNT, "valid integer (got 2.0)"),
        ("threshold: 0.8", "threshold: false", 18, THRESHOLD, "valid number (got False)"),
        ("threshold: 0.8", 'threshold: "0.8"', 18, THRESHOLD, "valid number (got '0.8')"),
        (
            "      strategy: CANARY",
            "      strategy: CANARY\n        rollback_on_alarms: 1",
            29,
            ROLLBACK,
            "valid boolean (got 1)",
        ),
        (
            "      strategy: CANARY",
            '      strategy: CANARY\n        rollback_on_alarms: "yes"',
            29,
            ROLLBACK,
            "valid boolean (got 'yes')",
        ),
    ],
)
def test_scalars_are_not_coerced(tmp_path: Path, old: str, new: str, column: int, path: str, message: str) -> None:
    spec, text = variant(tmp_path, (old, new))
    written = new.splitlines()[-1].strip()
    assert problems(spec) == [f"mlstack.yaml:{line_of(text, written)}:{column}: {path}: input should be a {message}"]


def test_an_integer_is_still_a_float(tmp_path: Path) -> None:
    path, _ = variant(tmp_path, ("threshold: 0.8", "threshold: 1"))
    assert load_all(path)["dev"].spec.models[0].evaluation.threshold == 1.0


# 4. Depth


@pytest.mark.parametrize("style", ["flow", "block"])
def test_deep_nesting_is_refused_at_the_first_too_deep_node(tmp_path: Path, cli, style: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "mlstack.yaml"
    if style == "flow":
        path.write_text("a: " + "[" * 250 + "]" * 250 + "\n")
        where = "1:67"  # the 64th `[` is the 65th collection, counting the top-level mapping
    else:
        path.write_text("".join(" " * level + f"k{level}:\n" for level in range(250)) + " " * 250 + "v: 1\n")
        where = "65:65"  # the mapping under the 64th key
    assert refused(cli, path) == [f"mlstack.yaml:{where}: nested more than 64 levels deep; refusing to read further"]


def test_nesting_within_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "mlstack.yaml"
    path.write_text("a: " + "[" * 63 + "]" * 63 + "\n")
    assert problems(path) == ["mlstack.yaml:1:1: environments: missing required key 'environments' (e.g. dev, prod)"]


# 5. Alias bombs and huge files


def billion_laughs(width: int = 9, levels: int = 7) -> str:
    lines = ['l0: &l0 ["lol"]']
    lines += [f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * width) + "]" for n in range(1, levels + 1)]
    return "\n".join(lines) + "\nenvironments: { dev: {} }\n"


def test_alias_bomb_is_refused_quickly(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "mlstack.yaml"
    path.write_text(billion_laughs())
    started = time.perf_counter()
    lines = refused(cli, path)
    assert time.perf_counter() - started < 5  # well under a second; loose so the test is not timing-fragile
    # *l3 expands to 1 + 9 * (1 + 9 * (1 + 9 * 2)) = 1549 nodes; its seventh use passes 10,000 in all
    assert lines == [
        "mlstack.yaml:5:35: aliases expand to more than 10,000 nodes in all (this *l3 adds 1,549); "
        "refusing to expand them"
    ]


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mlstack.yaml"
    path.write_text("a: &x [1, *x]\nenvironments: { dev: {} }\n")
    assert problems(path) == ["mlstack.yaml:1:11: alias *x refers to a node that contains it"]


def test_ordinary_aliases_still_work(tmp_path: Path) -> None:
    path, _ = variant(
        tmp_path,
        ("    data:\n", "    data: &data\n"),
        ("    training:\n", "    training: &training\n"),
        ("    evaluation:\n", "    evaluation: &evaluation\n"),
        (
            "environments:\n",
            "  - { name: ranker, data: *data, training: *training, evaluation: *evaluation }\nenvironments:\n",
        ),
    )
    models = load_all(path)["prod"].spec.models
    assert [m.name for m in models] == ["scorer", "ranker"]
    assert models[1].training == models[0].training


def test_a_file_over_2_mib_is_not_read(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "mlstack.yaml"
    path.write_text(MINIMAL + "# " + "x" * (2 * 1024 * 1024) + "\n")
    started = time.perf_counter()
    assert refused(cli, path) == ["mlstack.yaml:1:1: the spec is larger than 2 MiB; refusing to read it"]
    assert time.perf_counter() - started < 5


# 6. Characters YAML does not allow


def test_nul_byte_is_reported_once_where_it_is(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    path, text = variant(tmp_path, ("  name: demo", "  name: de\0mo"))
    line = line_of(text, "de\0mo")
    expected = (
        f"mlstack.yaml:{line}:11: YAML syntax error: unacceptable character #x0000: special characters are not allowed"
    )
    assert problems(path) == [expected]
    assert refused(cli, path) == [expected]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("version: 1\n", "<<: {version: 1}\n"),  # a merge key at the top level
        ("  prod:\n    settings:\n", "  prod:\n    <<: {settings: {tier: prod}}\n    settings:\n"),  # in an overlay
    ],
)
def test_yaml_merge_keys_load_like_any_other_key(tmp_path: Path, old: str, new: str) -> None:
    """Keys a `<<:` merge brings in have no position of their own: found by tests/test_property_based.py."""
    assert old in MINIMAL
    spec = tmp_path / "merged.yaml"
    spec.write_text(MINIMAL.replace(old, new, 1))
    assert set(load_all(spec)) == {"dev", "prod"}
