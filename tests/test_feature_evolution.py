"""Feature-group schema evolution: additions in place, removals and retypes refused with located errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlstack.plan.synth import synthesize
from mlstack.spec import SpecError
from mlstack.spec.feature_lock import read_lock
from tests.conftest import EXAMPLE, ROOT, line_of, run_program

LAST_TRANSACTION_FEATURE = "      - { name: is_fraud, type: Integral }\n"


def project_copy(tmp_path: Path, *edits: tuple[str, str]) -> tuple[Path, str]:
    """The example spec with edits, beside a copy of its committed lock."""
    text = EXAMPLE.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    spec = tmp_path / "mlstack.yaml"
    spec.write_text(text)
    shutil.copy(EXAMPLE.with_name("mlstack.lock.json"), tmp_path / "mlstack.lock.json")
    return spec, text


def spec_problems(spec: Path, environment: str = "dev") -> list[str]:
    with pytest.raises(SpecError) as caught:
        synthesize(environment, spec=spec)
    return [p.render().replace(str(spec), "mlstack.yaml") for p in caught.value.problems]


def test_committed_lock_matches_the_example() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mlstack", "lock"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "mlstack.lock.json is up to date"


def test_adding_a_feature_is_an_in_place_addition(tmp_path: Path, plans) -> None:
    spec, _ = project_copy(
        tmp_path,
        (LAST_TRANSACTION_FEATURE, LAST_TRANSACTION_FEATURE + "      - { name: merchant_risk, type: Fractional }\n"),
    )
    plan = synthesize("dev", spec=spec)
    before = plans("dev")
    assert [r.urn for r in plan.resources] == [r.urn for r in before.resources]  # nothing replaced or renamed
    assert plan.schema_changes["added"] == {"transactions": [("merchant_risk", "Fractional")]}
    assert plan.get("feature-store-transactions-additions").inputs["features"][-1] == {
        "name": "merchant_risk",
        "type": "Fractional",
    }
    assert plan.get("feature-store-transactions").options["ignore_changes"] == ["featureDefinitions"]


def test_plan_tree_shows_the_addition(tmp_path: Path) -> None:
    spec, _ = project_copy(
        tmp_path,
        (LAST_TRANSACTION_FEATURE, LAST_TRANSACTION_FEATURE + "      - { name: merchant_risk, type: Fractional }\n"),
    )
    result = subprocess.run(
        [sys.executable, "-m", "mlstack", "plan", "dev", "--spec", str(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert (
        "transactions: + merchant_risk (Fractional) — added in place (UpdateFeatureGroup), no replacement"
        in result.stdout
    )


def test_removing_a_feature_is_refused_with_a_located_reason(tmp_path: Path) -> None:
    spec, text = project_copy(tmp_path, ("      - { name: tx_count_1h, type: Integral }\n", ""))
    assert spec_problems(spec) == [
        f"mlstack.yaml:{line_of(text, '    features:')}:5: feature_groups[0].features: feature 'tx_count_1h' was "
        "removed: SageMaker cannot drop a feature, and replacing the group would delete its offline store and "
        "online records. Keep it (stop writing it), or move to a new group under a new name"
    ]


def test_retyping_a_feature_is_refused(tmp_path: Path) -> None:
    spec, text = project_copy(tmp_path, ("{ name: amount, type: Fractional }", "{ name: amount, type: Integral }"))
    assert spec_problems(spec) == [
        f"mlstack.yaml:{line_of(text, 'name: amount, type: Integral')}:31: feature_groups[0].features[4].type: "
        "feature 'amount' changed type Fractional -> Integral: SageMaker cannot retype a feature, and replacing the "
        "group would delete its offline store and online records. Add a new feature (e.g. amount_v2) instead"
    ]


def test_changing_the_record_identifier_is_refused(tmp_path: Path) -> None:
    spec, text = project_copy(
        tmp_path,
        ("    record_identifier: transaction_id", "    record_identifier: card_id"),
        ("exclude: [card_id, merchant_id]", "exclude: [transaction_id, merchant_id]"),  # the old key is text now
    )
    (problem,) = spec_problems(spec)
    assert problem.startswith(
        f"mlstack.yaml:{line_of(text, 'record_identifier: card_id')}:24: feature_groups[0].record_identifier: "
        "record_identifier changed from 'transaction_id' to 'card_id': SageMaker cannot change it on a live group"
    )


def test_dropping_a_locked_group_is_refused_until_retired_deliberately(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    start = text.index("  - name: merchant-profile")
    end = text.index("models:")
    spec, edited = project_copy(
        tmp_path,
        (text[start:end], ""),
        ("feature_groups: [merchant-profile]", "s3_uri: s3://x-data/merchants/"),
        # prod's nightly batch scores the group's offline store: it scores files instead
        ("feature_group: merchant-profile", "input_s3_uri: s3://x-data/merchants/"),
    )
    (problem,) = spec_problems(spec)
    assert problem == (
        f"mlstack.yaml:{line_of(edited, 'feature_groups:')}:1: feature_groups: feature group 'merchant-profile' is "
        "in mlstack.lock.json but not in the spec; removing it would delete its offline store and online records. "
        "To retire it deliberately, run `mlstack lock --drop merchant-profile` and commit the lock"
    )
    retire = subprocess.run(
        [sys.executable, "-m", "mlstack", "lock", "--spec", str(spec), "--drop", "merchant-profile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert retire.returncode == 0, retire.stderr
    assert "merchant-profile (retired)" in retire.stdout
    assert sorted(read_lock(spec).groups) == ["transactions"]
    synthesize("dev", spec=spec)  # now accepted


def test_lock_records_additions_and_refuses_removals(tmp_path: Path) -> None:
    spec, _ = project_copy(
        tmp_path,
        (LAST_TRANSACTION_FEATURE, LAST_TRANSACTION_FEATURE + "      - { name: merchant_risk, type: Fractional }\n"),
    )
    run = [sys.executable, "-m", "mlstack", "lock", "--spec", str(spec)]
    assert subprocess.run(run, cwd=ROOT, capture_output=True, check=True)
    assert read_lock(spec).groups["transactions"].features[-1] == ("merchant_risk", "Fractional")
    assert synthesize("dev", spec=spec).schema_changes["added"] == {}
    spec.write_text(spec.read_text().replace("      - { name: merchant_risk, type: Fractional }\n", ""))
    refused = subprocess.run(run, cwd=ROOT, capture_output=True, text=True, check=False)
    assert refused.returncode == 2
    assert "feature 'merchant_risk' was removed" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_without_a_lock_every_group_is_new(tmp_path: Path) -> None:
    spec, _ = project_copy(tmp_path)
    (tmp_path / "mlstack.lock.json").unlink()
    changes = synthesize("dev", spec=spec).schema_changes
    assert changes == {"lock_file": None, "added": {}, "new_groups": ["transactions", "merchant-profile"]}


def test_pulumi_program_refuses_a_removal_too(tmp_path: Path) -> None:
    import pulumi

    spec, _ = project_copy(tmp_path, ("      - { name: tx_count_1h, type: Integral }\n", ""))
    with pytest.raises(pulumi.RunError, match="feature 'tx_count_1h' was removed"):
        run_program(spec)


def test_a_lock_problem_only_an_overlay_causes_says_which_environment(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    overlay = "  prod:\n    feature_groups:\n      - name: transactions\n        features:\n"
    overlay += "          - { name: amount, type: Integral }\n"
    spec, text = project_copy(tmp_path, ("  prod:\n", overlay))
    code, _, err = cli("validate", "--spec", str(spec), cwd=tmp_path)
    assert code == 2
    assert err.strip().splitlines() == [
        f"mlstack.yaml:{line_of(text, 'name: amount, type: Integral')}:35: feature_groups[0].features[4].type: "
        "feature 'amount' changed type Fractional -> Integral: SageMaker cannot retype a feature, and replacing the "
        "group would delete its offline store and online records. Add a new feature (e.g. amount_v2) instead "
        "(in prod)",
        "1 problem found",
    ]


def test_a_lock_problem_of_the_base_is_reported_once_without_environments(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    spec, _ = project_copy(tmp_path, ("{ name: amount, type: Fractional }", "{ name: amount, type: Integral }"))
    code, _, err = cli("validate", "--spec", str(spec), cwd=tmp_path)
    assert code == 2
    assert err.strip().splitlines()[1:] == ["1 problem found"] and "(in " not in err
