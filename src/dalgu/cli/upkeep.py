"""`dalgu status`, `dalgu backup` and `dalgu restore`: what an operator asks of a deployment."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dalgu.settings import InvalidSettings, Settings

if TYPE_CHECKING:
    from dalgu.store.status import ConsumerBacklog
    from dalgu.upkeep.status import Status

console = Console()
errors = Console(stderr=True)

ConfigOption = typer.Option(None, "--config", "-c", help="TOML settings file (a \\[dalgu] table).")
OutArgument = typer.Argument(..., help="The file to write (SQLite database or pg_dump archive).")
BackupArgument = typer.Argument(..., help="A copy `dalgu backup` wrote.", show_default=False)


def status(
    config: Path | None = ConfigOption,
    as_json: bool = typer.Option(False, "--json", help="One JSON document instead of tables."),
) -> None:
    """How the store, its schema, tenants, backlog and server are (changes nothing).

    Exit status: 0 all is well, 1 the store cannot be read or the server's health is fail, 3
    the schema is behind (run `dalgu migrate`) or ahead of this Dalgu."""
    from dalgu.errors import StoreUnavailable
    from dalgu.upkeep.status import read_status

    settings = _settings(config)
    try:
        found = asyncio.run(read_status(settings))
    except StoreUnavailable as exc:
        errors.print(f"[red]dalgu:[/] {escape(exc.detail)}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    if as_json:
        import orjson

        sys.stdout.buffer.write(orjson.dumps(found.as_json(), option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.flush()
    else:
        _print_status(found)
    raise typer.Exit(found.exit_status)


def backup(
    out: Path = OutArgument,
    config: Path | None = ConfigOption,
    force: bool = typer.Option(False, "--force", help="Replace OUT if it exists."),
) -> None:
    """Write a consistent copy of the store to OUT, while Dalgu runs.

    SQLite: the online backup API in one snapshot, then quick_check on the copy. PostgreSQL:
    pg_dump --format=custom. README.md, "Status, backup and restore", says how to restore."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    from dalgu.errors import DalguError
    from dalgu.upkeep.backup import back_up

    settings = _settings(config)
    try:
        if settings.store == "sqlite":
            with Progress(
                TextColumn(f"copying [bold]{escape(str(settings.sqlite_path))}[/]"),
                BarColumn(),
                TaskProgressColumn(),
                console=errors,
                transient=True,
            ) as bar:
                task = bar.add_task("backup", total=None)
                copy = back_up(
                    settings,
                    out,
                    force=force,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
            entities = "" if copy.entities is None else f", {copy.entities:,} entities"
            console.print(
                f"[green]backed up[/] {escape(str(settings.sqlite_path))} to "
                f"{escape(str(copy.path))}: "
                f"{_size(copy.size)}{entities}, {copy.checked}",
                highlight=False,
                soft_wrap=True,
            )
        else:
            from dalgu.store.postgres.status import masked_dsn

            source = masked_dsn(settings.postgres_dsn)
            with errors.status(f"pg_dump of {escape(source)}"):
                copy = back_up(settings, out, force=force)
            console.print(
                f"[green]backed up[/] {escape(source)} to {escape(str(copy.path))}: "
                f"{_size(copy.size)} "
                f"(pg_dump custom format), {copy.checked}",
                highlight=False,
                soft_wrap=True,
            )
    except DalguError as exc:
        errors.print(f"[red]dalgu backup:[/] {escape(exc.detail)}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def restore(
    backup_file: Path = BackupArgument,
    config: Path | None = ConfigOption,
) -> None:
    """Put a backup in place of the SQLite store, with Dalgu stopped.

    The copy is checked (quick_check, its schema version), and the database's old -wal and
    -shm are removed first: a log left by a crash is never read with the copy. Refused while
    a process (a Dalgu server, its notifier) has the database open."""
    from dalgu.errors import DalguError
    from dalgu.upkeep.backup import restore as put_back

    settings = _settings(config)
    try:
        copy = put_back(settings, backup_file)
    except DalguError as exc:
        errors.print(
            f"[red]dalgu restore:[/] {escape(exc.detail)}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(1) from None
    entities = "" if copy.entities is None else f", {copy.entities:,} entities"
    console.print(
        f"[green]restored[/] {escape(str(backup_file))} to {escape(str(copy.path))}: "
        f"{_size(copy.size)}{entities}, {copy.checked}",
        highlight=False,
        soft_wrap=True,
    )


def _settings(config: Path | None) -> Settings:
    try:
        return Settings.load(config)
    except InvalidSettings as exc:
        errors.print(f"[red]dalgu: invalid settings[/]\n{escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None


def _print_status(found: Status) -> None:
    store = found.store
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    sizes = ", ".join(
        f"{'-wal' if name == 'wal' else name} {_size(n)}" for name, n in store.sizes.items()
    )
    facts.add_row("store", f"{store.kind}  {escape(store.location)}  ({sizes})")
    facts.add_row("schema", _schema_line(found))
    facts.add_row("server", _server_line(found))
    for backlog in store.backlogs:
        facts.add_row(backlog.consumer, _backlog_line(found, backlog))
    facts.add_row("deliveries", f"{store.deliveries:,} notifications waiting to be sent")
    if store.unknown:
        facts.add_row("unknown", "not in this schema: " + ", ".join(store.unknown))
    console.print(facts, highlight=False)
    tenants = Table(
        title="tenants",
        title_justify="left",
        caption="entities: by type (an entity of several types counts under each); "
        "unmatched: changes no notifier has matched yet",
        caption_justify="left",
    )
    for header in ("tenant", "entities", "types", "subscriptions", "unmatched", "oldest"):
        tenants.add_column(header, justify="left" if header in ("tenant", "types") else "right")
    # a schema before the kept counts (`dalgu migrate` adds them): the counts are not known
    counted = "type_entities" not in store.unknown
    for tenant in found.tenants:
        subs = tenant.subscriptions
        shown = f"{subs['active']} active\n{subs['paused']} paused"
        if subs["expired"]:
            shown += f"\n{subs['expired']} expired"
        tenants.add_row(
            escape(tenant.tenant) or "(default)",
            f"{tenant.entities:,}" if counted else "? (migrate)",
            "\n".join(f"{escape(_term(name))} {n:,}" for name, n in tenant.types.items())
            or ("-" if counted else "?"),
            shown,
            f"{tenant.backlog:,}",
            _age(tenant.oldest_unmatched_age),
        )
    if found.tenants:
        console.print(tenants, highlight=False)
    else:
        console.print("no tenant holds entities or subscriptions", highlight=False)


def _schema_line(found: Status) -> str:
    from dalgu import __version__

    version, expected = found.store.schema_version, found.store.expected_version
    if found.schema == "behind":
        return (
            f"[yellow]version {version}, Dalgu {__version__} expects {expected}: "
            "run `dalgu migrate`[/]"
        )
    if found.schema == "ahead":
        return (
            f"[yellow]version {version}, ahead of the {expected} Dalgu {__version__} knows: "
            "this Dalgu is older than the data (upgrade it)[/]"
        )
    return f"version {version} (current for Dalgu {__version__})"


def _server_line(found: Status) -> str:
    server = found.server
    if server.status is None:
        return f"{server.url}: {escape(server.problem or '')}"
    colour = {"pass": "green", "warn": "yellow", "fail": "red"}[server.status]
    checks = []
    for name, entries in server.checks.items():
        for entry in entries if isinstance(entries, list) else []:
            value = entry.get("observedValue")
            unit = entry.get("observedUnit", "")
            said = f"{name} {entry.get('status')}"
            if value is not None:
                said += f" {value}{' ' + unit if unit else ''}"
            if entry.get("output"):
                said += f" ({escape(str(entry['output']))})"
            checks.append(said)
    detail = f": {'; '.join(checks)}" if checks else ""
    if server.problem:
        detail += f" ({escape(server.problem)})"
    return f"{server.url}: [{colour}]{server.status}[/]{detail}"


def _backlog_line(found: Status, backlog: ConsumerBacklog) -> str:
    count = f"more than {backlog.changes - 1:,}" if backlog.capped else f"{backlog.changes:,}"
    line = f"{count} changes not yet read"
    age = found.age(backlog.oldest_at)
    if age is not None:
        line += f", the oldest {_age(age)} old"
    return line


def _term(iri: str) -> str:
    """A type as the core context names it (`Vehicle`), other IRIs in full."""
    from dalgu.ldcontext.core import DEFAULT_VOCAB

    return iri.removeprefix(DEFAULT_VOCAB)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"
