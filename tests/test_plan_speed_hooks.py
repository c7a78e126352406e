"""The offline plan's shortcuts stay correct: a spec read twice is parsed once, and the SDK
hook the recording skips (source positions) still exists in the installed Pulumi."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlstack.spec import SpecError, load_environment
from mlstack.spec.loader import read_document
from tests.conftest import EXAMPLE


def test_the_sdk_still_has_the_stack_capture_the_recording_skips() -> None:
    from pulumi.runtime import resource

    assert callable(getattr(resource, "_get_stack_trace", None)), "pulumi renamed it: plans got slower, not wrong"


def test_a_spec_read_twice_is_parsed_and_validated_once(tmp_path: Path) -> None:
    spec = tmp_path / "mlstack.yaml"
    spec.write_text(EXAMPLE.read_text())
    assert read_document(spec) is read_document(spec)
    assert load_environment(spec, "prod") is load_environment(spec, "prod")


def test_a_changed_spec_is_read_again_even_with_the_same_size(tmp_path: Path) -> None:
    spec = tmp_path / "mlstack.yaml"
    text = EXAMPLE.read_text()
    spec.write_text(text)
    before = load_environment(spec, "dev")
    spec.write_text(text.replace("CC-4521", "CC-4522"))  # same size, likely the same mtime too
    after = load_environment(spec, "dev")
    assert (before.spec.project.cost_centre, after.spec.project.cost_centre) == ("CC-4521", "CC-4522")


def test_a_bad_spec_is_refused_every_time(tmp_path: Path) -> None:
    spec = tmp_path / "mlstack.yaml"
    spec.write_text(EXAMPLE.read_text().replace("version: 1", "version: 1\nbogus: 1", 1))
    for _ in range(2):
        with pytest.raises(SpecError, match="bogus"):
            load_environment(spec, "dev")
