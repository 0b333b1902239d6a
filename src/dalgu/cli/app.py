"""`dalgu`: run and operate the Dalgu city data hub."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import typer
from rich.console import Console

from dalgu.settings import Settings

app = typer.Typer(
    name="dalgu",
    help="Dalgu: a smart-city IoT testbed and city data hub on an ETSI NGSI-LD context broker.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


def _export(settings: Settings) -> None:
    """Hand the settings to server worker processes (they read DALGU_* once at start)."""
    for name, value in settings.model_dump(exclude_none=True).items():
        os.environ[f"DALGU_{name.upper()}"] = str(value)


def _serve(settings: Settings) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    _export(settings)
    Granian(
        "dalgu.api.asgi:create_app",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        factory=True,
        log_access=False,
    ).serve()


ConfigOption = typer.Option(None, "--config", "-c", help="TOML settings file (a \\[dalgu] table).")


@app.command()
def serve(
    config: Path | None = ConfigOption,
    host: str | None = typer.Option(None, help="Address to bind (default 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port of the NGSI-LD API (default 1026)."),
    store: str | None = typer.Option(None, help="sqlite (default) or postgres."),
    workers: int | None = typer.Option(None, help="Worker processes."),
) -> None:
    """Start the NGSI-LD context broker."""
    overrides = {
        k: v
        for k, v in {"host": host, "port": port, "store": store, "workers": workers}.items()
        if v is not None
    }
    settings = Settings.load(config, **overrides)
    console.print(
        f"Dalgu NGSI-LD API on [bold]{settings.base_url}/ngsi-ld/v1[/] (store: {settings.store})"
    )
    _serve(settings)


@app.command()
def migrate(config: Path | None = ConfigOption) -> None:
    """Create or upgrade the store's schema to the current version."""
    from dalgu.store.factory import open_store

    settings = Settings.load(config)

    async def run() -> None:
        store = open_store(settings)
        await store.open()
        await store.close()

    asyncio.run(run())
    console.print(f"[green]schema up to date[/] ({settings.store})")


@app.command()
def demo(
    config: Path | None = ConfigOption,
    entities: int = typer.Option(300, help="Entities in the simulated city."),
    port: int | None = typer.Option(None, help="Port of the NGSI-LD API (default 1026)."),
) -> None:
    """Load a small simulated city of Daegu and serve it (embedded store)."""
    from dalgu.cli.demo import load_city, print_tour, run_simulation

    overrides: dict[str, object] = {"sqlite_path": Path("var/demo.db")}
    if port is not None:
        overrides["port"] = port
    settings = Settings.load(config, **overrides)
    count = asyncio.run(load_city(settings, entities))
    print_tour(console, settings, count)
    run_simulation(settings, entities)
    _serve(settings)


def _print_version(value: bool) -> None:
    if value:
        from dalgu import __version__

        console.print(f"dalgu {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False,
        "--version",
        help="Print Dalgu's version and exit.",
        is_eager=True,
        callback=_print_version,
    ),
) -> None:
    """Dalgu: a smart-city IoT testbed and city data hub on an ETSI NGSI-LD context broker."""


def main() -> None:
    app()
