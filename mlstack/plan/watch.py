"""`mlstack plan ENV --watch`: one warm process that re-plans when the project's files change.

The first plan pays for the imports and the program's setup; every later one only
re-reads the spec and re-runs the program (about half a second for the example). After a
re-plan it prints what changed since the previous one, classified as `mlstack diff` does.
A spec error is printed located, and the watch goes on with the last good plan.

Polling a handful of files' (mtime, size) is enough here and needs no file-system events:
the files are the project's Pulumi.yaml, the stack file, the spec, its lock and the
registry snapshot when one is given.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlstack.plan.diff import compare
from mlstack.plan.diff_render import terminal
from mlstack.spec import SpecError
from mlstack.spec.feature_lock import lock_path

POLL_SECONDS = 0.3


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


@dataclass
class Watch:
    """Plans on demand and says what changed; `files` tells which paths to watch now."""

    plan: Callable[[], Any]
    """Makes a Plan (raises SpecError for a bad spec)."""
    files: Callable[[], list[Path]]
    say: Callable[[str], None]
    previous: Any = None
    stamps: dict[Path, tuple[int, int] | None] = field(default_factory=dict)

    def changed(self) -> list[Path]:
        current = {path: _stamp(path) for path in self.files()}
        moved = [path for path, stamp in current.items() if self.stamps.get(path) != stamp]
        self.stamps = current
        return moved

    def replan(self, because: list[Path]) -> None:
        started = time.perf_counter()
        try:
            plan = self.plan()
        except SpecError as error:
            for problem in error.problems:
                self.say(problem.render())
            self.say(f"[red]{len(error.problems)} problem(s); still watching (last good plan kept)[/]")
            return
        seconds = time.perf_counter() - started
        names = ", ".join(path.name for path in because)
        if self.previous is None:
            self.say(f"planned {len(plan.resources)} resources in {seconds:.2f} s; watching {names}")
        else:
            diff = compare(self.previous.as_dict(), plan.as_dict())
            self.say(f"[bold]{names} changed[/]: re-planned in {seconds:.2f} s")
            self.say(terminal(diff, None))
        self.previous = plan

    def run(self, *, sleep: Callable[[float], None] = time.sleep, rounds: int | None = None) -> None:
        """Watch until interrupted (Ctrl-C) or, for tests, `rounds` polls."""
        # The command runs with cyclic collection off (`mlstack.cli.main`); a watch lives on, so
        # the collector runs between plans and frees what each left (the recording pauses it).
        enabled = gc.isenabled()
        gc.enable()
        try:
            self._watch(sleep, rounds)
        finally:
            if not enabled:
                gc.disable()

    def _watch(self, sleep: Callable[[float], None], rounds: int | None) -> None:
        if self.previous is None:
            self.replan(self.changed())
        done = 0
        try:
            while rounds is None or done < rounds:
                sleep(POLL_SECONDS)
                done += 1
                moved = self.changed()
                if moved:
                    self.replan(moved)
        except KeyboardInterrupt:
            self.say("stopped watching")


def project_files(stack: Any, spec: Path | None, snapshot: Path | None) -> list[Path]:
    """What a plan of `stack` reads from its project."""
    spec_path = spec or stack.spec_path
    files = [stack.project.file, stack.file, spec_path, lock_path(spec_path)]
    return [*files, snapshot] if snapshot else files
