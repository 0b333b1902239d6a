"""`dalgu testbed`: conformance runs from the command line, against a running Dalgu."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from dalgu.testbed.report_html import render_report

testbed = typer.Typer(help="Test a firm's devices against their profile.", no_args_is_help=True)
console = Console()

JsonOption = typer.Option(None, "--json", help="Write the report as JSON here.")
HtmlOption = typer.Option(None, "--html", help="Write the report as HTML here.")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """`90`, `90s`, `10m`, `2h` or `1d` in seconds."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise typer.BadParameter(f"{text!r} is not a duration like 90s, 10m or 2h")
    return float(match.group(1)) * _UNITS[match.group(2)]


@testbed.command("run")
def run(
    profile: str = typer.Option(..., "--profile", "-p", help="A shipped profile or a file."),
    apikey: str = typer.Option(..., help="API key of the config group whose devices are checked."),
    duration: str = typer.Option("10m", help="How long to record: 90s, 10m, 2h."),
    url: str = typer.Option("http://127.0.0.1:4041", help="Dalgu's provisioning API."),
    service: str = typer.Option("", help="The sandbox (fiware-service)."),
    json_out: Path | None = JsonOption,
    html_out: Path | None = HtmlOption,
) -> None:
    """Record the sandbox's devices for a while and check them against the profile."""
    seconds = parse_duration(duration)
    body: dict[str, Any] = {"apikey": apikey, "duration": seconds}
    path = Path(profile)
    body["profile"] = path.read_text() if path.exists() else profile
    headers = {"fiware-service": service} if service else {}
    try:
        doc = _record(url, headers, body, apikey, seconds)
    except httpx.TransportError as error:
        console.print(
            f"[red]dalgu testbed run: cannot reach Dalgu's provisioning API at {url} "
            f"({error or type(error).__name__}); is the server running, and is --url its "
            "provisioning port?[/]",
            highlight=False,
        )
        raise typer.Exit(2) from None
    _print(doc)
    if json_out is not None:
        import orjson

        json_out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    if html_out is not None:
        html_out.write_text(render_report(doc))
    raise typer.Exit(0 if doc["verdict"] == "pass" else 1)


def _record(
    url: str, headers: dict[str, str], body: dict[str, Any], apikey: str, seconds: float
) -> dict[str, Any]:
    """Start the run, follow it with a progress bar, and give its finished document."""
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        started = client.post("/testbed/runs", json=body)
        if started.status_code != 201:
            console.print(f"[red]could not start the run:[/] {_detail(started)}")
            raise typer.Exit(2)
        run_id = started.json()["id"]
        with Progress(
            TextColumn(f"recording [bold]{apikey}[/]"),
            BarColumn(),
            TextColumn("{task.fields[messages]} messages"),
            TimeRemainingColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("run", total=seconds, messages=0)
            while True:
                answer = client.get(f"/testbed/runs/{run_id}")
                if answer.status_code != 200:  # a sandbox reset or deleted meanwhile: gone
                    bar.stop()
                    console.print(f"[red]the run is gone:[/] {_detail(answer)}")
                    raise typer.Exit(2)
                doc: dict[str, Any] = answer.json()
                bar.update(task, completed=doc.get("elapsed", seconds), messages=doc["messages"])
                if doc["status"] == "finished":
                    break
                time.sleep(min(1.0, max(0.1, seconds / 50)))
    return doc


def _print(doc: dict[str, Any]) -> None:
    report = doc["report"]
    table = Table(
        title=f"{doc['profile']}: {report['messages']} messages, {report['devices']} devices"
    )
    table.add_column("check")
    table.add_column("verdict")
    table.add_column("measured")
    colours = {"pass": "green", "fail": "red"}
    for check in report["checks"]:
        colour = colours.get(check["verdict"], "dim")
        table.add_row(check["name"], f"[{colour}]{check['verdict']}[/]", check["summary"])
    console.print(table)
    colour = colours.get(doc["verdict"], "dim")
    console.print(f"verdict: [bold {colour}]{doc['verdict'].upper()}[/] (run {doc['id']})")


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text
