"""Each class of spec error: its exact message, file position and exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlstack.spec import load_all, load_environment
from tests.conftest import FIXTURES, ROOT, line_of
from tests.spec_variants import MINIMAL, problems, variant


def test_minimal_fixture_is_valid() -> None:
    resolved = load_all(FIXTURES / "minimal.yaml")
    assert sorted(resolved) == ["dev", "prod"]


def test_unknown_key_names_the_closest_allowed_key(tmp_path: Path) -> None:
    path, text = variant(tmp_path, ("  owner: ml@", "  ownr: ml@"))
    assert problems(path) == [
        "mlstack.yaml:2:1: project.owner: missing required key 'owner'",
        f"mlstack.yaml:{line_of(text, 'ownr')}:3: project.ownr: unknown key 'ownr'; did you mean 'owner'? "
        "(allowed: cost_centre, data_classification, description, name, owner, tags)",
    ]


def test_three_unknown_keys_give_three_located_errors(tmp_path: Path) -> None:
    path, text = variant(
        tmp_path,
        ("  cost_centre: CC-1", "  cost_centre: CC-1\n  colour: blue"),
        ("      threshold: 0.8", "      threshold: 0.8\n      treshold: 0.9"),
        ("        strategy: CANARY", "        strategy: CANARY\n        canary: 5"),
    )
    found = problems(path)
    assert [p.split(": ", 2)[:2] for p in found] == [
        [f"mlstack.yaml:{line_of(text, 'colour')}:3", "project.colour"],
        [f"mlstack.yaml:{line_of(text, 'treshold')}:7", "models[0].evaluation.treshold"],
        [f"mlstack.yaml:{line_of(text, 'canary: 5')}:9", "models[0].serving.rollout.canary"],
    ]
    assert "did you mean 'threshold'?" in found[1]


def test_aws_enum_comes_from_botocore_with_a_suggestion(tmp_path: Path) -> None:
    path, text = variant(tmp_path, ("instance_type: ml.m5.large", "instance_type: ml.m5.largee"))
    (message,) = problems(path)
    assert message.startswith(
        f"mlstack.yaml:{line_of(text, 'largee')}:22: models[0].serving.instance_type: "
        "'ml.m5.largee' is not a valid endpoint instance type (not one of the "
    )
    assert message.endswith("values AWS accepts; did you mean 'ml.m5.large'?)")


def test_small_enums_list_what_is_allowed(tmp_path: Path) -> None:
    path, text = variant(tmp_path, ("strategy: CANARY", "strategy: CANARYY"))
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'CANARYY')}:19: models[0].serving.rollout.strategy: 'CANARYY' is not a valid "
        "rollout strategy (allowed: ALL_AT_ONCE, CANARY, LINEAR; did you mean 'CANARY'?)"
    ]


def test_ranges(tmp_path: Path) -> None:
    path, text = variant(
        tmp_path,
        ("        strategy: CANARY", "        strategy: CANARY\n        wait_seconds: 4000"),
    )
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'wait_seconds')}:23: models[0].serving.rollout.wait_seconds: "
        "input should be less than or equal to 3600 (got 4000)"
    ]


def test_name_patterns(tmp_path: Path) -> None:
    path, text = variant(tmp_path, ("{ name: label, type: Integral }", "{ name: 'bad label', type: Integral }"))
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'bad label')}:17: feature_groups[0].features[3].name: 'bad label' is not a "
        "valid feature name (must match [a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63})"
    ]


def test_required_combinations_point_at_the_field(tmp_path: Path) -> None:
    path, text = variant(tmp_path, ("    event_time: ts", "    event_time: label"))
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'event_time: label')}:17: feature_groups[0].event_time: "
        "'label' must be of type String or Fractional, not Integral"
    ]


def test_cross_references(tmp_path: Path) -> None:
    path, text = variant(tmp_path, ("feature_groups: [events]", "feature_groups: [event]"))
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, '[event]')}:24: models[0].data.feature_groups[0]: "
        "no feature group 'event' in feature_groups (known: events)"
    ]


def test_tier_rules_apply_only_where_they_belong(tmp_path: Path) -> None:
    path, text = variant(tmp_path, ("instance_count: 2", "instance_count: 1"))
    assert problems(path) == [
        f"mlstack.yaml:{line_of(text, 'instance_count: 1')}:23: models[0].serving.instance_count: "
        "prod needs at least 2 instances per production variant, for availability across zones (in prod)"
    ]
    load_environment(path, "dev")  # dev may run one instance


def test_errors_in_an_overlay_point_into_the_overlay(tmp_path: Path) -> None:
    path, text = variant(
        tmp_path,
        (
            '      account_id: "333333333333"',
            '      account_id: "333333333333"\n    models:\n'
            "      - name: scorer\n        serving:\n          instance_count: 0",
        ),
    )
    assert problems(path, "prod") == [
        f"mlstack.yaml:{line_of(text, 'instance_count: 0')}:27: models[0].serving.instance_count: "
        "input should be greater than or equal to 1 (got 0)"
    ]


def test_unknown_environment(tmp_path: Path) -> None:
    (message,) = problems(FIXTURES / "minimal.yaml", "qa")
    assert message.endswith(
        f"minimal.yaml:{line_of(MINIMAL, 'environments:')}:1: environments: no environment 'qa' (defined: dev, prod)"
    )


def test_environment_outside_the_known_tiers_must_say_its_tier(tmp_path: Path) -> None:
    path, text = variant(tmp_path, ("  prod:\n", "  qa:\n"))
    assert problems(path, "qa") == [
        f"mlstack.yaml:{line_of(text, 'qa:') + 1}:5: settings: environment 'qa' is not dev, staging or prod: "
        "set settings.tier to say which rules apply"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a: [1\nb: 2\n",
            "mlstack.yaml:2:2: YAML syntax error: expected ',' or ']', but got ':' (while parsing a flow sequence)",
        ),
        (
            "a: 1\na: 2\n",
            'mlstack.yaml:2:1: YAML syntax error: found duplicate key "a" with value "2" '
            '(original value: "1") (while constructing a mapping)',
        ),
        (
            "- just\n- a list\n",
            "mlstack.yaml:1:1: the spec must be a YAML mapping (key: value) at the top level",
        ),
    ],
)
def test_yaml_errors(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "mlstack.yaml"
    path.write_text(text)
    assert problems(path) == [expected]


def test_missing_environments_section(tmp_path: Path) -> None:
    path, _ = variant(tmp_path, (MINIMAL[MINIMAL.index("environments:") :], ""))
    assert problems(path) == ["mlstack.yaml:1:1: environments: missing required key 'environments' (e.g. dev, prod)"]


def test_cli_prints_every_problem_and_exits_2_without_traceback(tmp_path: Path) -> None:
    path, text = variant(
        tmp_path,
        ("  cost_centre: CC-1", "  cost_centre: CC-1\n  colour: blue"),
        ("      threshold: 0.8", "      threshold: 0.8\n      treshold: 0.9"),
        ("        strategy: CANARY", "        strategy: CANARY\n        canary: 5"),
    )
    result = subprocess.run(
        [sys.executable, "-m", "mlstack", "validate", "--spec", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith(str(path))]
    assert len(lines) == 3
    assert f"{path}:{line_of(text, 'colour')}:3: project.colour: unknown key 'colour'" in lines[0]


def test_cli_yaml_syntax_error_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("project:\n  name: [demo\n")
    result = subprocess.run(
        [sys.executable, "-m", "mlstack", "plan", "dev", "--spec", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"{path}:3:1: YAML syntax error:")
    assert "Traceback" not in result.stderr
