"""`dalgu tutorial`: lessons that teach Dalgu by using it, run against a running Dalgu."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from dalgu.errors import DalguError
from dalgu.tutorial.catalog import SHIPPED, find_lesson, lesson_files
from dalgu.tutorial.lesson import Command, Output, read_lesson
from dalgu.tutorial.runner import DEMO_PORTS, LessonRun, StepResult

tutorial = typer.Typer(
    help="Runnable lessons: each command is run and its output checked against the lesson.",
    no_args_is_help=True,
)
console = Console()

DirectoryOption = typer.Option(SHIPPED, "--dir", help="Where the lessons are.")
PortOption = typer.Option(
    [], "--port", help="Move another port the lesson uses: 4041=14041 (repeatable)."
)


@tutorial.command("list")
def list_lessons(directory: Path = DirectoryOption) -> None:
    """The lessons, in order."""
    files = lesson_files(directory)
    if not files:
        console.print(f"[red]no lessons in {directory}[/]")
        raise typer.Exit(1)
    table = Table("lesson", "title", "commands")
    for file in files:
        lesson = read_lesson(file)
        table.add_row(file.stem, lesson.title, str(lesson.commands))
    console.print(table)
    console.print("Run one with [bold]dalgu tutorial run NAME[/] while Dalgu runs (make demo).")


@tutorial.command("run")
def run(
    name: str = typer.Argument(..., help="A lesson: its number, name, file name or path."),
    url: str = typer.Option(
        "http://127.0.0.1:1026", help="Dalgu's API, if not where make demo serves it."
    ),
    port: list[str] = PortOption,
    pause: bool = typer.Option(
        False, "--pause", help="Show each command and wait for Enter before running it."
    ),
    keep_going: bool = typer.Option(False, "--keep-going", help="Go on after a failed step."),
    timeout: float = typer.Option(30.0, min=1, help="Seconds a command may take."),
    directory: Path = DirectoryOption,
) -> None:
    """Run a lesson's commands in order, showing each and what it printed; exit status 1 if
    any printed something other than what the lesson shows."""
    try:
        lesson = find_lesson(name, directory)
        ports = _ports(url, port)
    except (DalguError, ValueError) as error:
        console.print(f"[red]dalgu tutorial: {error}[/]", highlight=False)
        raise typer.Exit(2) from None
    if not _answers(url):
        console.print(
            f"[red]dalgu tutorial: no Dalgu answers at {url}[/]: start one first (make demo, "
            "or make serve), or say where it is with --url",
            highlight=False,
        )
        raise typer.Exit(2)
    console.rule(f"[bold]{lesson.title}")
    failed = 0
    with LessonRun(lesson, ports=ports, timeout=timeout) as lesson_run:

        def show_command(command: Command) -> None:
            where = f"terminal {command.terminal}" if command.terminal else "$"
            console.print(f"[dim]{where}[/]")
            console.print(Syntax(lesson_run.moved(command.code), "bash", word_wrap=True))
            if pause:
                console.input("[dim]Enter to run it[/]")

        for result in lesson_run.steps(before=show_command):
            _show(result)
            if not result.ok:
                failed += 1
                if not keep_going:
                    break
    if failed:
        console.print(f"[red]{failed} step(s) did not print what the lesson shows[/]")
        raise typer.Exit(1)
    console.print(f"[green]✓ every step of {lesson.name} printed what the lesson shows[/]")


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url.rstrip('/')}/health", timeout=3).status_code < 500
    except httpx.HTTPError:
        return False


def _ports(url: str, moves: list[str]) -> dict[int, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.port is None:
        raise ValueError(f"{url!r} is not a URL with a port (http://127.0.0.1:1026)")
    ports = {1026: parts.port}
    for move in moves:
        old, sep, new = move.partition("=")
        if not sep or not old.isdigit() or not new.isdigit():
            raise ValueError(f"--port {move!r}: write OLD=NEW, e.g. 4041=14041")
        if int(old) not in DEMO_PORTS:
            raise ValueError(f"--port {move!r}: lessons use {', '.join(map(str, DEMO_PORTS))}")
        ports[int(old)] = int(new)
    return ports


def _show(result: StepResult) -> None:
    """What a step printed (its command was shown before it ran), and what is wrong."""
    if isinstance(result.step, Output):
        console.print(f"[dim]terminal {result.step.terminal} printed:[/]")
    if result.printed.strip():
        console.print(result.printed.rstrip(), highlight=False, markup=False, soft_wrap=True)
    for problem in result.problems:
        console.print(f"[red]✗ {problem}[/]", highlight=False)
    if result.ok and result.shown is not None:
        console.print("[green]✓ as the lesson shows[/]")
