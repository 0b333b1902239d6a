"""`dalgu demo safety`: a live field demonstration of the vehicle safety service.

Dalgu runs as a server (`dalgu serve`, safety service on); simulated cars and their drivers'
wearables publish over MQTT through the gateway (the embedded broker, or a Mosquitto); each
driver's first ten minutes (their awake baseline) go out as fast as the gateway takes them
(none stamped ahead of the wall clock), then the drives go on in real time, stamped from when
the live part begins (`baseline_start`). Events are injected on a schedule and printed as their
onset goes out; the alerts come back as NGSI-LD `Alert` entities, delivered by a subscription
to a receiver of this process, which prints them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console

from dalgu.cli.demo import gateway_lines
from dalgu.cli.supervision import ask_for_signal_at_parent_death
from dalgu.safety.fleet import SimulatedVehicle, demo_fleet, live_lead, stamp, stream
from dalgu.safety.plan import CALIBRATION
from dalgu.safety.scenario import Event
from dalgu.safety.service import config_groups
from dalgu.settings import Settings
from dalgu.testbed.simulator import Endpoints, sender_for

APIKEY = "demo-car"
APIKEY_WEARABLE = "demo-band"
SUBSCRIPTION = "urn:ngsi-ld:Subscription:dalgu-safety-demo"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(settings: Settings) -> subprocess.Popen[bytes]:
    """`dalgu serve` with these settings, in its own process group, stopped with the demo:
    `stop_server` on the way out (SIGTERM and SIGHUP end the demo as Ctrl-C does, see
    `stop_on_signals`), and the kernel's SIGTERM if the demo dies outright (`kill -9`)."""
    env = {
        **os.environ,
        **{f"DALGU_{k.upper()}": str(v) for k, v in settings.model_dump(exclude_none=True).items()},
    }
    return subprocess.Popen(
        [sys.executable, "-m", "dalgu", "serve"],
        env=env,
        start_new_session=True,
        preexec_fn=_ends_with_parent,
    )


def _ends_with_parent() -> None:
    """In the server's process before it runs: SIGTERM when the demo's process dies."""
    ask_for_signal_at_parent_death(signal.SIGTERM)


def stop_on_signals() -> None:
    """SIGTERM (`kill`, `timeout`, a service manager) and SIGHUP (the terminal closed) stop the
    demonstration as Ctrl-C does, so that its `finally` stops the server it started: without
    this the demo died at once and left the server serving on every port."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(5)


def wait_healthy(settings: Settings, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{settings.base_url}/health", timeout=2).status_code == 200:
                require_ports(settings)
                return
        time.sleep(0.2)
    raise RuntimeError("the server did not start in time")


def require_ports(settings: Settings) -> None:
    """Raise, saying which, when a port the demonstration talks to does not take connections:
    the server serves on without a port it could not bind (another program has it)."""
    needed = {"MQTT broker": settings.mqtt_address}
    if settings.iot_north_port:
        needed["IoT Agent API"] = (settings.host, settings.iot_north_port)
    for what, (host, port) in needed.items():
        try:
            if what == "MQTT broker":
                _mqtt_hello(host, port)
            else:
                socket.create_connection((host, port), timeout=2).close()
        except OSError as error:
            raise RuntimeError(
                f"the {what} at {host}:{port} does not answer ({error.strerror or error}): "
                "another program may hold that port (the server's log says 'could not listen "
                "on' it); stop it, or give the demonstration other ports"
            ) from None


def _mqtt_hello(host: str, port: int) -> None:
    """Connect to the broker as an MQTT client and leave cleanly: a bare TCP connection closed
    at once made the embedded broker log an error on every demonstration's start."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"dalgu-demo-check-{os.getpid()}")
    try:
        client.connect(host, port, keepalive=5)
        client.loop(timeout=1.0)  # the CONNACK
        client.disconnect()
    except (OSError, mqtt.WebsocketConnectionError, ValueError) as error:
        raise OSError(str(error)) from None


def north_url(settings: Settings) -> str:
    if settings.iot_north_port:
        return f"http://{settings.host}:{settings.iot_north_port}"
    return settings.base_url


def tour(settings: Settings, receiver: str, fleet: list[SimulatedVehicle]) -> list[str]:
    api = f"{settings.base_url}/ngsi-ld/v1"
    first = fleet[0].name if fleet else "…"
    return [
        "",
        f"Dalgu safety demonstration: {len(fleet)} vehicles and drivers over MQTT",
        "",
        "Serving:",
        f"  Dashboard          {settings.base_url}/dashboard  (alerts as they come; ?lang=en)",
        f"  NGSI-LD API        {api}",
        f"  Alerts             {api}/entities?type=Alert",
        f"  Vehicles           {api}/entities?type=Vehicle",
        f"  Wearables          {api}/entities?type=Device",
        f"  Drivers            {api}/entities?type=Person",
        f"  Their baselines    {api}/entities?type=DriverBaseline  (after ten awake minutes)",
        f"  A vehicle          {api}/entities/urn:ngsi-ld:Vehicle:{first}",
        f"  Its history        {api}/temporal/entities/urn:ngsi-ld:Vehicle:{first}"
        "?attrs=speed&lastN=10",
        f"  Subscriptions      {api}/subscriptions",
        f"  Health             {settings.base_url}/health",
        *gateway_lines(settings),
        f"  Notifications to   {receiver} (this process prints them)",
        "",
    ]


def describe(entity: dict[str, Any], received: float) -> str:
    """One line for an Alert notification."""

    def value(name: str) -> Any:
        attribute = entity.get(name)
        return attribute.get("value") if isinstance(attribute, dict) else None

    issued = value("dateIssued")
    source = (entity.get("alertSource") or {}).get("object", "?")
    driver = (entity.get("driver") or {}).get("object")
    evidence = orjson.dumps(value("evidence") or {}).decode()
    return (
        f"ALERT {value('alertType')}/{value('alertSubType')} {value('severity')} "
        f"(confidence {value('confidence')}) from {source}"
        f"{f' driven by {driver}' if driver else ''}: onset {value('onset')}, "
        f"issued {issued}, notified {stamp(received)}; evidence {evidence[:160]}"
    )


async def serve_receiver(console: Console, port: int, alerts: list[dict[str, Any]]) -> Any:
    """An HTTP endpoint for the subscription's notifications, printing each alert."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def notify(request: Request) -> Response:
        body = orjson.loads(await request.body())
        for entity in body.get("data", []):
            alerts.append(entity)
            console.print(describe(entity, time.time()), style="bold red", highlight=False)
        return Response(status_code=204)

    config = uvicorn.Config(
        Starlette(routes=[Route("/notify", notify, methods=["POST"])]),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    # uvicorn sets a flag, no event, once it listens
    while not server.started:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    return server, task


def driver_id(vehicle: SimulatedVehicle) -> str:
    return f"urn:ngsi-ld:Person:{vehicle.labels.driver}"


async def prepare(
    client: httpx.AsyncClient, settings: Settings, receiver: str, fleet: list[SimulatedVehicle]
) -> None:
    """The config groups of cars and wearables, each car's driver (a `Person` the Vehicle
    entity names, as a fleet app would write it), and the subscription to alerts."""
    groups = config_groups(APIKEY, APIKEY_WEARABLE)
    response = await client.post(f"{north_url(settings)}/iot/services", json=groups)
    if response.status_code not in (201, 409):
        raise RuntimeError(f"provisioning failed: {response.status_code} {response.text}")
    api = f"{settings.base_url}/ngsi-ld/v1"
    people = {
        driver_id(v): {
            "id": driver_id(v),
            "type": "Person",
            "name": {"type": "Property", "value": v.labels.driver},
        }
        for v in fleet
    }
    cars = [
        {
            "id": f"urn:ngsi-ld:Vehicle:{v.name}",
            "type": "Vehicle",
            "driver": {"type": "Relationship", "object": driver_id(v)},
        }
        for v in fleet
    ]
    response = await client.post(
        f"{api}/entityOperations/upsert",
        params={"options": "update"},
        json=[*people.values(), *cars],
    )
    if response.status_code not in (201, 204):
        raise RuntimeError(f"drivers refused: {response.status_code} {response.text}")
    await client.delete(f"{api}/subscriptions/{SUBSCRIPTION}")
    subscription = {
        "id": SUBSCRIPTION,
        "type": "Subscription",
        "entities": [{"type": "Alert"}],
        "notification": {"endpoint": {"uri": receiver, "accept": "application/json"}},
    }
    response = await client.post(f"{api}/subscriptions", json=subscription)
    if response.status_code != 201:
        raise RuntimeError(f"subscription refused: {response.status_code} {response.text}")


def schedule_lines(fleet: list[SimulatedVehicle]) -> list[str]:
    lines = ["Schedule (seconds into each drive; the first 600 s are the drivers' baseline):"]
    for vehicle in fleet:
        events = ", ".join(
            f"{e.type}/{e.detail.get('subtype', 'drowsy-driving')} at {e.onset:.0f} s"
            for e in vehicle.labels.events
        )
        lines.append(f"  {vehicle.name} ({vehicle.labels.driver}): {events or 'no event'}")
    return lines


async def run_demo(
    console: Console,
    settings: Settings,
    vehicles: int,
    duration: float,
    endpoints: Endpoints,
    speed: float = 1.0,
) -> list[dict[str, Any]]:
    """Drive the fleet against a running server; the alerts notified."""
    alerts: list[dict[str, Any]] = []
    port = free_port()
    receiver_server, receiver_task = await serve_receiver(console, port, alerts)
    receiver = f"http://127.0.0.1:{port}/notify"
    fleet = await asyncio.to_thread(demo_fleet, vehicles, duration=duration)
    for line in [*tour(settings, receiver, fleet), *schedule_lines(fleet), ""]:
        console.print(line, soft_wrap=True, highlight=False, markup=False)
    cars = await sender_for("mqtt", APIKEY, endpoints, "json")
    bands = await sender_for("mqtt", APIKEY_WEARABLE, endpoints, "json")
    longest = max((v.duration for v in fleet), default=0)
    planned = start = baseline_start(vehicles, longest, speed, time.time())
    began = time.monotonic()
    api = f"{settings.base_url}/ngsi-ld/v1"
    onsets: dict[int, list[tuple[SimulatedVehicle, Event]]] = {}
    for vehicle in fleet:
        for event in vehicle.labels.events:
            onsets.setdefault(int(event.onset), []).append((vehicle, event))
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            await prepare(client, settings, receiver, fleet)

            async def publish(kind: str, device: str, payload: bytes) -> None:
                await (bands if kind == "wearable" else cars).send(device, payload)

            async def settle(vehicle: SimulatedVehicle, second: int) -> None:
                last = vehicle.seconds[second][0][-1]["t"]
                url = f"{api}/entities/urn:ngsi-ld:Vehicle:{vehicle.name}"
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    response = await client.get(url, params={"attrs": "speed"})
                    if response.status_code == 200:
                        observed = response.json().get("speed", {}).get("observedAt", "")
                        if observed >= stamp(start + last):
                            return
                    await asyncio.sleep(0.05)
                raise RuntimeError("the gateway did not store the baseline minutes in time")

            def on_second(second: int) -> None:
                if second == 0:
                    console.print(
                        f"Baseline: the drivers' first {CALIBRATION / 60:.0f} minutes, "
                        "as fast as the gateway takes them…",
                        highlight=False,
                    )
                elif second == int(CALIBRATION):
                    skipped = start - planned
                    pace = "in real time" if speed == 1 else f"at ×{speed:g}"
                    overran = (
                        f", {skipped:.0f} s longer than planned: the drives skip those seconds, "
                        "so that the live part is stamped from now"
                        if skipped >= 1
                        else ""
                    )
                    console.print(
                        f"Live (baseline stored in {time.monotonic() - began:.0f} s{overran}): "
                        f"the drives go on {pace}.",
                        highlight=False,
                    )
                for vehicle, event in onsets.get(second, []):
                    subtype = event.detail.get("subtype", "drowsy-driving")
                    console.print(
                        f"INJECTED {event.type}/{subtype} in {vehicle.name} at "
                        f"{stamp(start + event.onset)} (drive second {event.onset:.0f})",
                        style="bold yellow",
                        highlight=False,
                    )

            def on_live(live_start: float) -> None:
                nonlocal start
                start = live_start

            await stream(
                fleet,
                publish,
                start=start,
                fast_until=int(CALIBRATION),
                speed=speed,
                settle=settle,
                on_second=on_second,
                on_live=on_live,
            )
            await asyncio.sleep(5)  # the last alerts on their way
    finally:
        await cars.close()
        await bands.close()
        receiver_server.should_exit = True
        await receiver_task
    console.print(
        f"Drives over: {len(alerts)} alerts notified; {injected_summary(fleet, alerts)}",
        highlight=False,
    )
    return alerts


def baseline_start(vehicles: int, longest: int, speed: float, now: float) -> float:
    """The epoch a fleet's drives (`longest` s) are stamped from when the baseline minutes start
    going out at `now`: as if they were stored in a time guessed from the fleet's size, so that
    the live part that follows is stamped with the wall clock (`live_lead` behind it faster
    than real time). `stream` sends no baseline second before its time has passed (with 500
    vehicles the guess put them ten minutes in the future, and the service read every device as
    a clock fault), and stamps the live part from when it starts (a baseline that took longer
    than guessed had the live part stamped minutes in the past, the alerts' delays with it)."""
    guess = min(5.0 + 0.008 * vehicles * CALIBRATION, CALIBRATION - 1.0)
    return float(int(now + guess - CALIBRATION - live_lead(longest, int(CALIBRATION), speed)))


def injected_summary(fleet: list[SimulatedVehicle], alerts: list[dict[str, Any]]) -> str:
    """How many injected events an alert of their vehicle followed, and which did not (a miss
    was visible only by counting)."""
    alerted = {_alert_source(a) for a in alerts}
    injected = [(v, e) for v in fleet for e in v.labels.events]
    missed = [
        f"{e.detail.get('subtype', e.type)} in {v.name} (injected {v.duration - e.onset:.0f} s "
        "before its drive ended)"
        for v, e in injected
        if f"urn:ngsi-ld:Vehicle:{v.name}" not in alerted
    ]
    said = f"{len(injected) - len(missed)} of {len(injected)} injected events alerted"
    return f"{said}; not alerted: {', '.join(missed)}." if missed else f"{said}."


def _alert_source(alert: dict[str, Any]) -> str:
    source = alert.get("alertSource")
    if isinstance(source, dict):
        return str(source.get("object") or source.get("value") or "")
    return str(source or "")
