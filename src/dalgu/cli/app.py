"""`dalgu`: run and operate the Dalgu city data hub."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

from dalgu.cli.feed import feed as feed_cli
from dalgu.cli.opendata import opendata as opendata_cli
from dalgu.cli.safety import safety as safety_cli
from dalgu.cli.testbed import testbed as testbed_cli
from dalgu.cli.tutorial import tutorial as tutorial_cli
from dalgu.cli.upkeep import backup as backup_command
from dalgu.cli.upkeep import restore as restore_command
from dalgu.cli.upkeep import status as status_command
from dalgu.errors import InvalidLdContext, LdContextNotAvailable, StoreUnavailable
from dalgu.settings import InvalidSettings, Settings

if TYPE_CHECKING:
    from dalgu.store.base import EntityStore

app = typer.Typer(
    name="dalgu",
    help="Dalgu: a smart-city IoT testbed and city data hub on an ETSI NGSI-LD context broker.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
app.add_typer(testbed_cli, name="testbed")
app.add_typer(safety_cli, name="safety")
app.add_typer(opendata_cli, name="opendata")
app.add_typer(tutorial_cli, name="tutorial")
app.add_typer(feed_cli, name="feed")


async def _migrate(settings: Settings) -> tuple[int, int]:
    """Opens the store, which migrates it: the schema version found and the one left."""
    from dalgu.broker.contexts import hosted_context_resolver
    from dalgu.devices.context import device_terms
    from dalgu.store.factory import open_store

    store = open_store(settings)
    await store.open()
    try:
        await _check_connection_limit(settings, store)
        if settings.device_context_urls:  # `dalgu serve` migrates first: a bad one stops it
            resolver = hosted_context_resolver(settings, store)
            try:
                await device_terms(settings, resolver)
            finally:
                await resolver.close()
    finally:
        await store.close()
    return store.migrated


async def _check_connection_limit(settings: Settings, store: EntityStore) -> None:
    """A warning when the database server would refuse connections the deployment opens
    under load: each worker's pool and the notifier's grow to `postgres_pool_size`, and a
    connection refused on the way is a request answered 503 (an outside test saw half the
    writes refused at four clients)."""
    limit = await store.connection_limit()
    processes = settings.workers + (1 if settings.notifier == "process" else 0)
    wanted = processes * settings.postgres_pool_size
    if limit is not None and wanted > limit:
        console.print(
            f"[yellow]dalgu: warning:[/] PostgreSQL allows this user {limit} connections, "
            f"fewer than the {wanted} this deployment opens under load ({processes} processes "
            f"x DALGU_POSTGRES_POOL_SIZE {settings.postgres_pool_size}): requests that find "
            "no connection are answered 503. Raise the limit (max_connections, the role's "
            "CONNECTION LIMIT) or lower DALGU_POSTGRES_POOL_SIZE or DALGU_WORKERS.",
            highlight=False,
        )


@contextlib.contextmanager
def _store_reachable() -> Iterator[None]:
    """A store that cannot be opened (PostgreSQL down, a database missing, a file unreadable)
    said in one line with exit status 1, not with a long traceback through the driver."""
    try:
        yield
    except StoreUnavailable as exc:
        console.print(f"[red]dalgu:[/] {exc.detail}", highlight=False)
        raise typer.Exit(1) from None


def _remove_demo_database(settings: Settings) -> None:
    """A demonstration's SQLite file and its write-ahead log, gone (PostgreSQL: nothing)."""
    if settings.store == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{settings.sqlite_path}{suffix}").unlink(missing_ok=True)


def _serve(settings: Settings) -> None:
    from dalgu.cli.serve import Launch, export
    from dalgu.cli.serve import serve as run

    export(settings)
    with _store_reachable():
        status = run(Launch.of(settings))
    if status:
        raise typer.Exit(status)


def _settings(config: Path | None, **overrides: object) -> Settings:
    """The settings, or a clear message and exit status 2 when they cannot run."""
    try:
        return Settings.load(config, **overrides)
    except InvalidSettings as exc:
        console.print(f"[red]dalgu: invalid settings[/]\n{escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None


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
    settings = _settings(config, **overrides)
    console.print(
        f"Dalgu NGSI-LD API on [bold]{settings.base_url}/ngsi-ld/v1[/] (store: {settings.store})"
    )
    from dalgu.cli.serve import hand_over

    hand_over(settings)


@app.command()
def notifier(
    config: Path | None = ConfigOption,
    store: str | None = typer.Option(None, help="sqlite (default) or postgres."),
    parent: int | None = typer.Option(None, hidden=True, help="Exit when this process does."),
) -> None:
    """Match subscriptions and send notifications (`dalgu serve` starts one itself)."""
    from dalgu.cli.notifier import configure_logging, run_loop, run_notifier

    settings = _settings(config, **({"store": store} if store else {}))
    configure_logging(settings)
    run_loop(run_notifier(settings, parent))


@app.command()
def listen(
    address: str = typer.Argument(
        "127.0.0.1:9090", help="Where to listen: 127.0.0.1:9090, a port, or a URL."
    ),
    count: int | None = typer.Option(None, min=1, help="Stop after this many notifications."),
) -> None:
    """Receive notifications and print each as one line of JSON (a subscription's endpoint)."""
    from dalgu.cli.listen import address_of
    from dalgu.cli.listen import listen as run

    try:
        where = address_of(address)
    except ValueError as error:
        console.print(f"[red]dalgu listen: {error}[/]", highlight=False)
        raise typer.Exit(2) from None
    try:
        run(where, count)
    except OSError as error:
        console.print(f"[red]dalgu listen: {error}[/]", highlight=False)
        raise typer.Exit(1) from None


@app.command()
def migrate(
    config: Path | None = ConfigOption,
    quiet: bool = typer.Option(False, "--quiet", help="Print nothing when all went well."),
) -> None:
    """Create or upgrade the store's schema to the current version."""

    settings = _settings(config)
    with _store_reachable():
        try:
            found, left = asyncio.run(_migrate(settings))
        except (InvalidLdContext, LdContextNotAvailable) as exc:
            console.print(f"[red]dalgu: device_context:[/] {exc.detail}", highlight=False)
            raise typer.Exit(1) from None
    if quiet:
        return
    if found == left:
        console.print(f"[green]schema up to date[/] ({settings.store}, version {left})")
    elif found == 0:
        console.print(f"[green]schema created[/] ({settings.store}, version {left})")
    else:
        console.print(f"[green]schema migrated[/] ({settings.store}, version {found} → {left})")


app.command("status")(status_command)
app.command("backup")(backup_command)
app.command("restore")(restore_command)


demo_cli = typer.Typer(
    help="Demonstrations: a simulated city (default), or the vehicle safety service live.",
    invoke_without_command=True,
)
app.add_typer(demo_cli, name="demo")


@demo_cli.callback()
def demo(
    ctx: typer.Context,
    config: Path | None = ConfigOption,
    entities: int = typer.Option(300, help="Entities in the simulated city."),
    port: int | None = typer.Option(None, help="Port of the NGSI-LD API (default 1026)."),
    fresh: bool = typer.Option(
        False, "--fresh", help="A new city: delete the demo's database first (what make demo does)."
    ),
) -> None:
    """Load a small simulated city of Daegu and serve it (embedded store)."""
    if ctx.invoked_subcommand is not None:
        return
    from dalgu.cli.demo import load_city, print_tour, run_simulation
    from dalgu.cli.serve import Launch, port_taken

    overrides: dict[str, object] = {"sqlite_path": Path("var/demo.db")}
    if port is not None:
        overrides["port"] = port
    settings = _settings(config, **overrides)
    # before the city is touched: a demo already running there serves from this database
    taken = port_taken(Launch.of(settings))
    if taken is not None:
        console.print(f"[red]dalgu demo: {taken}[/]", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    if fresh:
        _remove_demo_database(settings)
    count = asyncio.run(load_city(settings, entities))
    print_tour(console, settings, count)
    run_simulation(settings, entities)
    _serve(settings)


DemoDbOption = typer.Option(
    Path("var/demo-safety.db"), help="The demonstration's SQLite file (made afresh)."
)


@demo_cli.command("safety")
def demo_safety(
    vehicles: int = typer.Option(8, min=1, max=500, help="Simulated vehicles and drivers."),
    duration: float = typer.Option(
        1500.0, min=640.0, help="Seconds of each drive (the first 600 are the baseline)."
    ),
    broker: str = typer.Option("embedded", help="embedded (in Dalgu) or mosquitto."),
    mqtt_port: int | None = typer.Option(None, help="The MQTT port (default 1884 / 1883)."),
    store: str | None = typer.Option(None, help="sqlite (default) or postgres."),
    sqlite_path: Path = DemoDbOption,
    port: int | None = typer.Option(None, help="Port of the NGSI-LD API (default 1026)."),
    speed: float = typer.Option(1.0, min=0.1, max=20, help="Pace of the live part (1: real time)."),
    config: Path | None = ConfigOption,
) -> None:
    """Live: simulated cars and drivers publish over MQTT, events are injected on a schedule,
    and the alerts come back as NGSI-LD Alert entities and notifications."""
    import httpx

    from dalgu.cli.demo_safety import (
        run_demo,
        start_server,
        stop_on_signals,
        stop_server,
        wait_healthy,
    )
    from dalgu.testbed.simulator import Endpoints

    if broker not in ("embedded", "mosquitto"):
        raise typer.BadParameter("broker is embedded or mosquitto")
    overrides: dict[str, object] = {
        "sqlite_path": sqlite_path,
        "safety": True,
        "mqtt_broker": "embedded" if broker == "embedded" else "external",
    }
    for name, value in {"store": store, "port": port, "mqtt_port": mqtt_port}.items():
        if value is not None:
            overrides[name] = value
    settings = _settings(config, **overrides)
    if broker == "mosquitto" and settings.mqtt_client_id is None:
        settings = settings.model_copy(update={"mqtt_client_id": f"dalgu-demo-{os.getpid()}"})
    from dalgu.cli.serve import Launch, port_taken

    # before the database is removed: a demonstration already running there serves from it
    taken = port_taken(Launch.of(settings))
    if taken is not None:
        console.print(f"[red]dalgu demo safety: {taken}[/]", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    _remove_demo_database(settings)  # a fresh demonstration each time
    Path(settings.sqlite_path).parent.mkdir(parents=True, exist_ok=True)
    host, mqtt = settings.mqtt_address
    endpoints = Endpoints(host=host, mqtt_port=mqtt)
    stop_on_signals()
    server = start_server(settings)
    try:
        wait_healthy(settings, server)
        alerts = asyncio.run(run_demo(console, settings, vehicles, duration, endpoints, speed))
    except KeyboardInterrupt:
        console.print("stopped")
        return
    except (RuntimeError, OSError, httpx.HTTPError) as error:  # said in a line, not a trace
        console.print(f"[red]dalgu demo safety: {error}[/red]", highlight=False)
        raise typer.Exit(1) from None
    finally:
        stop_server(server)
    if not alerts:
        raise typer.Exit(1)


@app.command()
def simulate(
    profile: str = typer.Option(..., "--profile", "-p", help="A shipped profile or a file."),
    devices: int = typer.Option(10, min=1, help="Virtual devices."),
    rate: float = typer.Option(10.0, min=0.01, help="Messages per second, all devices together."),
    duration: float = typer.Option(30.0, min=0.1, help="Seconds to run."),
    transport: str | None = typer.Option(None, help="mqtt, http or coap (default: the profile's)."),
    apikey: str = typer.Option("sim", help="API key of the fleet's config group."),
    tenant: str = typer.Option("", help="fiware-service (NGSI-LD tenant) to provision in."),
    host: str = typer.Option("127.0.0.1", help="Where Dalgu's gateway listens."),
    mqtt_port: int = typer.Option(1884),
    http_port: int = typer.Option(7896),
    coap_port: int = typer.Option(5683),
    north_port: int = typer.Option(4041, help="Provisioning API port."),
    no_provision: bool = typer.Option(False, help="Do not create the config group first."),
    bad_payload: float = typer.Option(0.0, min=0, max=1, help="Share of malformed messages."),
    dropout: float = typer.Option(0.0, min=0, max=1, help="Chance a device falls silent."),
    clock_skew: float = typer.Option(0.0, min=0, help="Max seconds a device clock is off."),
    seed: int = typer.Option(1, help="Seed of the run (same seed, same messages)."),
) -> None:
    """Run a fleet of virtual devices against Dalgu's gateway over the real protocols."""
    from dalgu.cli.simulate import simulate as run
    from dalgu.errors import DalguError
    from dalgu.testbed.profile import load_profile
    from dalgu.testbed.simulator import Endpoints, Faults

    if transport not in (None, "mqtt", "http", "coap"):
        raise typer.BadParameter("transport is mqtt, http or coap")
    try:
        chosen = load_profile(profile)
    except DalguError as error:
        raise typer.BadParameter(error.detail) from None
    try:
        report = run(
            console,
            chosen,
            apikey=apikey,
            tenant=tenant,
            devices=devices,
            rate=rate,
            duration=duration,
            transport=transport,
            endpoints=Endpoints(host, mqtt_port, http_port, coap_port, north_port),
            faults=Faults(bad_payload=bad_payload, dropout=dropout, clock_skew=clock_skew),
            seed=seed,
            provision_group=not no_provision,
        )
    except (DalguError, RuntimeError) as error:  # unreachable, or provisioning refused
        detail = error.detail if isinstance(error, DalguError) else str(error)
        console.print(f"[red]dalgu simulate: {detail}[/]", highlight=False)
        raise typer.Exit(2) from None
    if report.failed and not report.sent:
        raise typer.Exit(1)  # every message failed: a script must see it


RecordingArgument = typer.Argument(..., exists=True, dir_okay=False, help="JSON Lines or CSV.")


@app.command()
def replay(
    recording: Path = RecordingArgument,
    speed: float = typer.Option(1.0, min=0.001, help="How much faster than recorded."),
    apikey: str = typer.Option(..., help="API key the recorded devices send with."),
    transport: str = typer.Option("mqtt", help="mqtt, http or coap."),
    payload: str = typer.Option("ul", help="ul (UltraLight 2.0) or json."),
    keep_time: bool = typer.Option(False, help="Send the recorded times, not shifted to now."),
    host: str = typer.Option("127.0.0.1", help="Where Dalgu's gateway listens."),
    mqtt_port: int = typer.Option(1884),
    http_port: int = typer.Option(7896),
    coap_port: int = typer.Option(5683),
) -> None:
    """Replay recorded telemetry (JSON Lines or CSV) through the gateway."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from dalgu.errors import DalguError
    from dalgu.testbed.replay import load_recording
    from dalgu.testbed.replay import replay as run_replay
    from dalgu.testbed.simulator import Endpoints

    if transport not in ("mqtt", "http", "coap") or payload not in ("ul", "json"):
        raise typer.BadParameter("transport is mqtt, http or coap; payload is ul or json")
    try:
        messages = load_recording(recording)
    except DalguError as error:
        raise typer.BadParameter(error.detail) from None
    endpoints = Endpoints(host, mqtt_port, http_port, coap_port)
    with Progress(
        TextColumn(f"replaying [bold]{recording.name}[/] ×{speed:g}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("replay", total=len(messages))
        try:
            report = asyncio.run(
                run_replay(
                    messages,
                    apikey=apikey,
                    transport=transport,
                    payload=payload,
                    speed=speed,
                    keep_time=keep_time,
                    endpoints=endpoints,
                    progress=lambda done, _: bar.update(task, completed=done),
                )
            )
        except DalguError as error:
            console.print(f"[red]dalgu replay: {error.detail}[/]", highlight=False)
            raise typer.Exit(2) from None
    console.print(f"{report.sent} sent, {report.failed} failed")
    for reason, count in report.errors.most_common(5):
        console.print(f"  {count} × {reason}")
    raise typer.Exit(0 if report.failed == 0 else 1)


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
