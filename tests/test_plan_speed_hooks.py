"""The offline plan's shortcuts stay correct: a spec read twice is parsed once, the SDK
hook the recording skips (source positions) still exists in the installed Pulumi, and
cyclic garbage collection is off only while a plan or a command runs."""

from __future__ import annotations

from collections.abc import Callable
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


def test_the_program_runs_without_cyclic_collection_and_it_resumes_after() -> None:
    import gc

    from mlstack.plan.synth import record

    during: list[bool] = []
    assert gc.isenabled()
    record(lambda: during.append(gc.isenabled()))
    assert during == [False]
    assert gc.isenabled(), "a long-lived process (watch, tests) would never free a plan's cycles"


def test_a_command_runs_without_cyclic_collection_and_restores_it(
    cli: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    import mlstack.cli.commands

    during: list[bool] = []
    monkeypatch.setattr(mlstack.cli.commands, "app", lambda **_: during.append(gc.isenabled()))
    code, _, _ = cli("validate", cwd=Path.cwd())
    assert (code, during, gc.isenabled()) == (0, [False], True)


def test_a_watch_collects_between_plans_and_restores_the_commands_setting() -> None:
    import gc

    from mlstack.plan.watch import Watch

    plan = type("Plan", (), {"resources": (), "as_dict": lambda self: {"resources": []}})
    watch = Watch(plan=plan, files=list, say=lambda _: None)
    between: list[bool] = []
    gc.disable()  # as the command runs it
    try:
        watch.run(sleep=lambda _: between.append(gc.isenabled()), rounds=2)
        assert (between, gc.isenabled()) == ([True, True], False)
    finally:
        gc.enable()
