"""Messages that say everything at once, in words, on one short line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import line_of
from tests.spec_variants import problems, variant

PROD_COUNT = "prod needs at least 2 instances per production variant, for availability across zones (in prod)"


def test_a_field_error_does_not_hide_the_environment_rules(tmp_path: Path) -> None:
    path, text = variant(
        tmp_path, ("instance_count: 2", "instance_count: 1\n      autoscaling: { enabled: true, min_capacity: 0 }")
    )
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'instance_count: 1')}:23: models[0].serving.instance_count: {PROD_COUNT}",
        f"mlstack.yaml:{line_of(text, 'min_capacity')}:51: models[0].serving.autoscaling.min_capacity: "
        "input should be greater than or equal to 1 (got 0)",
    ]


def test_a_broken_section_does_not_hide_another_sections_checks(tmp_path: Path) -> None:
    path, text = variant(
        tmp_path,
        ("  owner: ml@example.com\n", ""),
        ("instance_count: 2", "instance_count: 1"),
        ("{ name: amount, type: Fractional }", "{ name: amount, type: Fractional, colour: red }"),
    )
    assert problems(path) == [
        "mlstack.yaml:2:1: project.owner: missing required key 'owner'",
        f"mlstack.yaml:{line_of(text, 'colour')}:43: feature_groups[0].features[2].colour: unknown key 'colour' "
        "(allowed: description, name, type)",
        f"mlstack.yaml:{line_of(text, 'instance_count: 1')}:23: models[0].serving.instance_count: {PROD_COUNT}",
    ]


def test_a_broken_model_does_not_hide_the_rules_of_the_next_one(tmp_path: Path) -> None:
    second = (
        "  - name: ranker\n    data: { feature_groups: [events], target: label }\n"
        '    training: { framework: sklearn, framework_version: "1.2-1",\n'
        "                hyperparameters: { algorithm: random_forest } }\n"
        "    evaluation: { metric: auc, comparison: GreaterThan, threshold: 0.7 }\n"
        "    serving: { instance_count: 1 }\nenvironments:\n"
    )
    path, text = variant(tmp_path, ("    evaluation:\n", "    evaluatio:\n"), ("environments:\n", second))
    found = problems(path)
    assert (
        f"mlstack.yaml:{line_of(text, 'instance_count: 1 }')}:32: models[1].serving.instance_count: {PROD_COUNT}"
        in found
    )
    assert "mlstack.yaml:17:5: models[0].evaluation: missing required key 'evaluation'" in found


def test_a_check_next_to_a_broken_value_is_not_run_on_a_stand_in(tmp_path: Path) -> None:
    # instance_count is broken: "min_capacity (2) is above instance_count (1)" would be about the default
    path, text = variant(
        tmp_path, ("instance_count: 2", 'instance_count: "3"\n      autoscaling: { enabled: true, min_capacity: 2 }')
    )
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'instance_count:')}:23: models[0].serving.instance_count: "
        "input should be a valid integer (got '3')"
    ]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "strategy: CANARY",
            "strategy: canry",
            "'canry' is not a valid rollout strategy (allowed: ALL_AT_ONCE, CANARY, LINEAR; did you mean 'CANARY'?)",
        ),
        (
            "comparison: GreaterThanOrEqualTo",
            "comparison: GreaterThanOrEqual",
            "input should be 'GreaterThanOrEqualTo', 'GreaterThan', 'LessThanOrEqualTo' or 'LessThan' "
            "(got 'GreaterThanOrEqual'); did you mean 'GreaterThanOrEqualTo'?",
        ),
        (
            "instance_count: 2",
            "instance_count: 2\n      when_unapproved: Lates",
            "input should be 'fail', 'latest' or 'skip' (got 'Lates'); did you mean 'latest'?",
        ),
    ],
)
def test_enum_values_suggest_the_closest(tmp_path: Path, old: str, new: str, message: str) -> None:
    path, text = variant(tmp_path, (old, new))
    written = new.splitlines()[-1].strip()
    (found,) = problems(path)
    assert found.startswith(f"mlstack.yaml:{line_of(text, written)}:")
    assert found.endswith(f": {message}")


def test_an_overlay_naming_a_model_not_in_the_base(tmp_path: Path) -> None:
    path, text = variant(
        tmp_path,
        (
            '      account_id: "333333333333"',
            '      account_id: "333333333333"\n    models:\n'
            "      - name: scorer\n        serving: { instance_count: 3 }\n"
            "      - name: scorre\n        serving: { instance_count: 3 }",
        ),
    )
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'name: scorre')}:9: environments.prod.models[1]: "
        "no model 'scorre' in the base spec (models: scorer)"
    ]


def test_our_patterns_are_explained_in_words(tmp_path: Path) -> None:
    path, text = variant(tmp_path, ("  - name: scorer", "  - name: fraud_scorer"))
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'fraud_scorer')}:11: models[0].name: must be lowercase letters, digits and "
        "single dashes, starting with a letter; no underscores (got 'fraud_scorer')"
    ]


def test_long_values_are_cut_and_kept_on_one_line(tmp_path: Path) -> None:
    huge = "line one\\n" + "x" * 2_000_000
    path, text = variant(tmp_path, ("comparison: GreaterThanOrEqualTo", f'comparison: "{huge}"'))
    (found,) = problems(path)
    assert "\n" not in found
    shown = "'line one\\n" + "x" * 68 + "…'"
    assert found == (
        f"mlstack.yaml:{line_of(text, 'comparison:')}:19: models[0].evaluation.comparison: input should be "
        f"'GreaterThanOrEqualTo', 'GreaterThan', 'LessThanOrEqualTo' or 'LessThan' (got {shown})"
    )


def test_a_long_value_quoted_inside_a_message_is_cut(tmp_path: Path) -> None:
    path, _ = variant(tmp_path, ("instance_type: ml.m5.large", "instance_type: ml." + "m" * 500))
    (found,) = problems(path)
    assert "m" * 100 not in found
    assert "…' is not a valid endpoint instance type" in found
