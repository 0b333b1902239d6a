"""Running a lesson: its commands in shells, what they print held against what it shows."""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from dalgu.tutorial.expected import differences
from dalgu.tutorial.lesson import Command, Lesson, Output, Step
from dalgu.tutorial.shell import Shell

#: the addresses lessons are written for: `make demo`'s API, IoT Agent provisioning API,
#: HTTP southbound, embedded MQTT broker and CoAP port, and the receiver lessons start
DEMO_PORTS = (1026, 4041, 7896, 1884, 5683, 9090)


@dataclass(frozen=True, slots=True)
class StepResult:
    """A step as run: the command (or a background terminal's output block), the output the
    lesson shows for it if any, what was printed, and what is wrong."""

    step: Step
    shown: Output | None
    printed: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class LessonRun:
    """Runs `lesson` step by step (`steps()` yields each as it finishes).

    `ports` moves the lesson to other loopback ports: `{1026: 11026}` rewrites
    `127.0.0.1:1026` (and `localhost:1026`, and a `--…port 1026` option) in every command and
    shown output. Commands run in
    a fresh temporary directory with the Python environment's scripts (`dalgu`) first on PATH.
    """

    def __init__(
        self,
        lesson: Lesson,
        *,
        ports: Mapping[int, int] | None = None,
        timeout: float = 30.0,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.lesson = lesson
        self.timeout = timeout
        self._moves = [
            move
            for old, new in (ports or {}).items()
            if old != new
            for move in (
                (re.compile(rf"\b(127\.0\.0\.1|localhost):{old}\b"), rf"\g<1>:{new}"),
                (re.compile(rf"(--[a-z-]*port[ =]){old}\b"), rf"\g<1>{new}"),
            )
        ]
        self._directory = tempfile.TemporaryDirectory(prefix=f"dalgu-{lesson.name}-")
        scripts = str(Path(sys.executable).parent)
        base = dict(os.environ if environment is None else environment)
        base["PATH"] = scripts + os.pathsep + base.get("PATH", os.defpath)
        base.setdefault("NO_COLOR", "1")
        self._environment = base
        self._main: Shell | None = None
        self._terminals: dict[str, Shell] = {}

    def __enter__(self) -> LessonRun:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        for shell in [*self._terminals.values(), *([self._main] if self._main else [])]:
            shell.close()
        self._terminals.clear()
        self._main = None
        self._directory.cleanup()

    def moved(self, text: str) -> str:
        """`text` with the lesson's addresses moved to this run's ports."""
        for pattern, replacement in self._moves:
            text = pattern.sub(replacement, text)
        return text

    def steps(self, before: Callable[[Command], None] | None = None) -> Iterator[StepResult]:
        """Run the lesson, a step at a time; `before` is called with each command before it
        runs (to show it, or to wait for the reader)."""
        steps = self.lesson.steps
        n = 0
        while n < len(steps):
            step = steps[n]
            n += 1
            if isinstance(step, Command) and before is not None:
                before(step)
            if isinstance(step, Command) and step.terminal is None:
                shown = None
                if n < len(steps):
                    following = steps[n]
                    if isinstance(following, Output) and following.terminal is None:
                        shown = following
                        n += 1
                yield self._run(step, shown)
            elif isinstance(step, Command):
                yield self._start(step)
            elif step.terminal is not None:
                yield self._await(step)
            else:
                problem = "an output block that follows no command"
                yield StepResult(step, step, "", [problem])

    def _shell(self) -> Shell:
        if self._main is None:
            self._main = Shell(Path(self._directory.name), self._environment)
        return self._main

    def _run(self, command: Command, shown: Output | None) -> StepResult:
        printed, status = self._shell().run(self.moved(command.code), self.timeout)
        problems: list[str] = []
        if status is None:
            problems.append(f"still running after {self.timeout:g} s")
        elif status != 0:
            problems.append(f"exit status {status}")
        if shown is not None and status is not None:
            problems.extend(differences(self._moved_output(shown), printed))
        return StepResult(command, shown, printed, problems)

    def _start(self, command: Command) -> StepResult:
        assert command.terminal is not None
        shell = self._terminals.get(command.terminal)
        if shell is None:
            shell = Shell(Path(self._directory.name), self._environment)
            self._terminals[command.terminal] = shell
        shell.send(self.moved(command.code))
        return StepResult(command, None, "")

    def _await(self, shown: Output) -> StepResult:
        assert shown.terminal is not None
        shell = self._terminals.get(shown.terminal)
        if shell is None:
            return StepResult(shown, shown, "", [f"no command ran in terminal {shown.terminal}"])
        expected = self._moved_output(shown)
        printed, matched = shell.wait(
            lambda out: not differences(expected, _text(out)), self.timeout
        )
        shell.consume()  # a failed block's output is not the next one's
        if matched:
            return StepResult(shown, shown, printed)
        problems = differences(expected, printed) or ["no output"]
        waited = f"after {self.timeout:g} s"
        return StepResult(shown, shown, printed, [f"{waited}: {p}" for p in problems])

    def _moved_output(self, shown: Output) -> Output:
        return Output(shown.kind, self.moved(shown.text), shown.line, shown.terminal)


def _text(output: bytes) -> str:
    return output.decode("utf-8", "replace")
