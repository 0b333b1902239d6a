"""Running a lesson: one shell session, checked output, background terminals, moved ports."""

from __future__ import annotations

from pathlib import Path

from dalgu.tutorial.lesson import parse_lesson
from dalgu.tutorial.runner import LessonRun


def run(markdown: str, **options: object) -> list[tuple[bool, list[str], str]]:
    with LessonRun(parse_lesson("t", markdown), timeout=5, **options) as lesson:  # type: ignore[arg-type]
        return [(r.ok, r.problems, r.printed) for r in lesson.steps()]


def test_variables_and_the_working_directory_carry_from_block_to_block() -> None:
    results = run(
        """
```sh
GREETING=annyeong
cd /tmp && mkdir -p dalgu-lesson-dir && cd dalgu-lesson-dir
```

```sh
echo "{\\"said\\": \\"$GREETING\\", \\"in\\": \\"$(basename $PWD)\\"}"
```

```json output
{"said": "annyeong", "in": "dalgu-lesson-dir"}
```
"""
    )
    assert [ok for ok, _, _ in results] == [True, True]


def test_output_other_than_shown_fails_and_says_where() -> None:
    results = run(
        """
```sh
echo '{"status": "occupied", "n": 2}'
```

```json output
{"status": "free", "n": 2}
```
"""
    )
    ((ok, problems, printed),) = results
    assert not ok
    assert problems == ['$.status: "occupied", shown "free"']
    assert "occupied" in printed


def test_a_failing_command_fails_its_step() -> None:
    ((ok, problems, _),) = run("```sh\nfalse\n```\n")
    assert not ok and problems == ["exit status 1"]


def test_a_command_that_hangs_is_stopped_at_the_timeout() -> None:
    with LessonRun(parse_lesson("t", "```sh\nsleep 30\n```\n"), timeout=0.5) as lesson:
        (result,) = list(lesson.steps())
    assert result.problems == ["still running after 0.5 s"]


def test_a_command_does_not_read_the_next_one() -> None:
    results = run(
        "```sh\ncat\n```\n\n```sh\necho still-here\n```\n\n```text output\nstill-here\n```\n"
    )
    assert [ok for ok, _, _ in results] == [True, True]


def test_a_background_terminal_is_waited_for_and_read_in_parts() -> None:
    results = run(
        """
```sh terminal=ticker
for n in 1 2; do echo "{\\"tick\\": $n}"; sleep 0.3; done
```

```json output terminal=ticker
{"tick": 1}
```

```json output terminal=ticker
{"tick": 2}
```
"""
    )
    assert [ok for ok, _, _ in results] == [True, True, True]


def test_output_a_terminal_never_prints_fails_after_the_timeout() -> None:
    with LessonRun(
        parse_lesson(
            "t", "```sh terminal=t\necho nope\n```\n\n```text output terminal=t\nyes\n```\n"
        ),
        timeout=0.5,
    ) as lesson:
        results = list(lesson.steps())
    assert results[1].problems and results[1].problems[0].startswith("after 0.5 s")


def test_ports_are_moved_in_commands_and_shown_output() -> None:
    line = "http://127.0.0.1:1026/x localhost:4041 127.0.0.1:10260 --http-port 4041"
    results = run(
        f"```sh\necho {line}\n```\n\n```text output\n{line}\n```\n",
        ports={1026: 2000, 4041: 3000},
    )
    ((ok, _, printed),) = results
    assert ok
    assert (
        printed.strip() == "http://127.0.0.1:2000/x localhost:3000 127.0.0.1:10260 --http-port 3000"
    )


def test_each_command_is_handed_over_before_it_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    seen: list[tuple[str, bool]] = []
    lesson = parse_lesson("t", f"```sh\ntouch {marker}\n```\n\n```sh terminal=t\necho hi\n```\n")
    with LessonRun(lesson, timeout=5) as run:
        results = list(run.steps(before=lambda c: seen.append((c.code, marker.exists()))))
    assert seen == [(f"touch {marker}", False), ("echo hi", True)]
    assert all(r.ok for r in results)
