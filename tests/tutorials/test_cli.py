"""`dalgu tutorial`: listing the lessons, and clear refusals before anything runs."""

from __future__ import annotations

from typer.testing import CliRunner

from dalgu.cli.app import app as cli
from tests.ports import free_port

runner = CliRunner()


def test_the_lessons_are_listed_with_their_titles() -> None:
    result = runner.invoke(cli, ["tutorial", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert (
        "01-entities" in result.output
        and "1. Entities: create, read, change, query" in result.output
    )
    assert "08-wifi" in result.output


def test_a_lesson_that_does_not_exist_is_named_with_those_that_do() -> None:
    result = runner.invoke(cli, ["tutorial", "run", "nosuch"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "no lesson 'nosuch'" in result.output and "02-subscriptions" in result.output


def test_nothing_runs_when_no_dalgu_answers() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(cli, ["tutorial", "run", "1", "--url", url], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert f"no Dalgu answers at {url}" in result.output


def test_a_port_move_must_name_a_port_lessons_use() -> None:
    result = runner.invoke(
        cli, ["tutorial", "run", "1", "--port", "8080=9000"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 2
    assert "lessons use 1026, 4041" in result.output
