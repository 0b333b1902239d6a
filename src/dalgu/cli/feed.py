"""`dalgu feed`: the city's change feed (NATS JetStream), read from the command line."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

feed = typer.Typer(
    help="The change feed on NATS JetStream (change_feed = nats).", no_args_is_help=True
)
console = Console(stderr=True)

ConfigOption = typer.Option(None, "--config", "-c", help="TOML settings file (a \\[dalgu] table).")


@feed.command("tail")
def tail(
    tenant: str = typer.Option(
        "*", help="Only this tenant's changes, by its NGSILD-Tenant name ('': the default)."
    ),
    entity_type: str = typer.Option("*", "--type", help="Only this entity type (Vehicle)."),
    from_start: bool = typer.Option(
        False, "--from-start", help="Every change the stream keeps, not only new ones."
    ),
    count: int | None = typer.Option(None, min=1, help="Stop after this many changes."),
    idle: float | None = typer.Option(None, min=0.1, help="Stop after this many quiet seconds."),
    config: Path | None = ConfigOption,
) -> None:
    """Print each change as one line of JSON, as the stream has it (the settings' nats_url,
    nats_stream and nats_subject say where)."""
    from dalgu.errors import FeedUnavailable
    from dalgu.feed.message import tenant_token, token
    from dalgu.feed.reader import tail as read
    from dalgu.settings import InvalidSettings, Settings

    try:
        settings = Settings.load(config)
    except InvalidSettings as error:
        console.print(f"[red]dalgu: invalid settings[/]\n{escape(str(error))}", highlight=False)
        raise typer.Exit(2) from None
    tenant_part = "*" if tenant == "*" else tenant_token(tenant)
    type_part = "*" if entity_type == "*" else token(entity_type)
    subject = ".".join([settings.nats_subject, tenant_part, type_part])

    def emit(body: bytes) -> None:
        sys.stdout.buffer.write(body + b"\n")
        sys.stdout.buffer.flush()

    def ready() -> None:
        console.print(
            f"following {subject} on {settings.nats_url}, stream {settings.nats_stream}",
            soft_wrap=True,
            highlight=False,
        )

    try:
        asyncio.run(
            read(
                settings.nats_url,
                settings.nats_stream,
                subject,
                emit,
                from_start=from_start,
                count=count,
                idle=idle,
                ready=ready,
            )
        )
    except FeedUnavailable as error:
        console.print(f"[red]dalgu feed tail: {error}[/]", highlight=False)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        pass
