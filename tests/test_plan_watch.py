"""`mlstack plan ENV --watch`: re-plans when the project's files change, says what changed,
survives a bad spec and stops cleanly on Ctrl-C."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlstack.plan.synth import synthesize
from mlstack.plan.watch import Watch, project_files
from mlstack.project import find_project
from tests.user_project import make_user_project


@pytest.fixture
def watched(tmp_path: Path) -> tuple[Path, Watch, list[str]]:
    root = make_user_project(tmp_path / "shop-ml")
    said: list[str] = []

    def plan():  # type: ignore[no-untyped-def]
        return synthesize("dev", project=find_project(explicit=root))

    watch = Watch(plan, lambda: project_files(find_project(explicit=root).stack("dev"), None, None), said.append)
    return root, watch, said


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_the_watched_files_are_what_a_plan_reads(watched: tuple[Path, Watch, list[str]]) -> None:
    root, watch, _ = watched
    assert [p.relative_to(root).as_posix() for p in watch.files()] == [
        "Pulumi.yaml",
        "stacks/Pulumi.dev.yaml",
        "mlstack.yaml",
        "mlstack.lock.json",  # watched before it exists: `mlstack lock` creating it is a change
    ]


def test_an_edit_is_re_planned_and_the_change_named(watched: tuple[Path, Watch, list[str]]) -> None:
    root, watch, said = watched
    watch.replan(watch.changed())
    assert said[0].startswith("planned ") and "resources in" in said[0]
    assert watch.changed() == []  # nothing moved since
    edit(root / "mlstack.yaml", "cost_centre: CC-1", "cost_centre: CC-9")  # a tag of every resource
    moved = watch.changed()
    assert moved == [root / "mlstack.yaml"]
    watch.replan(moved)
    assert said[1].startswith("[bold]mlstack.yaml changed[/]: re-planned in ")
    report = said[2]
    assert "~" in report.split("\n")[0]  # the headline counts updates
    assert "tags" in report  # the changed tag, resource by resource


def test_a_bad_spec_is_shown_located_and_the_watch_goes_on(watched: tuple[Path, Watch, list[str]]) -> None:
    root, watch, said = watched
    watch.replan(watch.changed())
    good = watch.previous
    edit(root / "mlstack.yaml", "version: 1", "version: 1\nbogus_key: 3")
    watch.replan(watch.changed())
    assert any(line.startswith("mlstack.yaml:") or "mlstack.yaml:" in line for line in said[1:])
    assert "still watching" in said[-1] and watch.previous is good
    edit(root / "mlstack.yaml", "version: 1\nbogus_key: 3", "version: 1")
    watch.replan(watch.changed())
    assert "re-planned" in said[-2] and "no changes" in said[-1]


def test_ctrl_c_stops_the_watch_cleanly(watched: tuple[Path, Watch, list[str]]) -> None:
    _, watch, said = watched

    def interrupted(_: float) -> None:
        raise KeyboardInterrupt

    watch.run(sleep=interrupted)
    assert said[0].startswith("planned ") and said[-1] == "stopped watching"


def test_polls_until_told_to_stop(watched: tuple[Path, Watch, list[str]]) -> None:
    root, watch, said = watched
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            edit(root / "stacks" / "Pulumi.dev.yaml", "us-east-2", "us-west-2")

    watch.run(sleep=sleep, rounds=3)
    assert len(sleeps) == 3
    assert any("Pulumi.dev.yaml changed" in line for line in said)
