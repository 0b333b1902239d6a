"""Virtual devices: a fleet that sends a profile's measures over the real protocols.

Each device's values wander (a bounded random walk around the profile's `typical` value);
each message carries the device's own timestamp, so receivers can measure latency and clock
skew. Faults on demand: malformed payloads, devices that drop out for a while, and clocks that
run ahead or behind. Seeds make a run reproducible.

The fleet speaks to Dalgu exactly as real devices speak to a FIWARE IoT Agent: MQTT
(`/<apikey>/<device>/attrs`), HTTP (`/iot/d`, `/iot/json`) or CoAP (the same resources).
Its devices answer the commands they get with OK, as a device that executes them would: over
MQTT on `/<apikey>/<device>/cmdexe`, over HTTP by polling (`getCmd=1` with each measure) and
posting the result to `/iot/d/commands` (`/iot/json/commands`). Over CoAP, where commands are
not fetched, they answer none.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
import orjson

from dalgu.errors import ServerUnreachable
from dalgu.testbed.profile import DeviceProfile, MeasureSpec


@dataclass(frozen=True, slots=True)
class Faults:
    bad_payload: float = 0.0  # share of messages sent malformed
    dropout: float = 0.0  # chance per message that its device falls silent for a while
    dropout_seconds: float = 10.0
    clock_skew: float = 0.0  # seconds each device's clock is off, at most (either way)


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the fleet sends (the IoT Agents' default ports on loopback)."""

    host: str = "127.0.0.1"
    mqtt_port: int = 1884
    http_port: int = 7896
    coap_port: int = 5683
    north_port: int = 4041


@dataclass
class FleetReport:
    sent: int = 0
    failed: int = 0
    malformed: int = 0
    silent: int = 0  # messages not sent because their device had dropped out
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # seconds per send

    def percentile(self, share: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class _Sender(Protocol):
    async def send(self, device_id: str, payload: bytes) -> None: ...

    async def close(self) -> None: ...


class VirtualDevice:
    def __init__(self, device_id: str, profile: DeviceProfile, rng: random.Random, skew: float):
        self.device_id = device_id
        self.profile = profile
        self.rng = rng
        self.skew = skew
        self.silent_until = 0.0
        self.state: dict[str, float] = {
            m.object_id: _start(m, rng)
            for m in profile.measures
            if m.type in ("Number", "Integer", "ListProperty")
        }

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for m in self.profile.measures:
            value = self._value(m)
            if value is not None:  # a list with nothing to send this time is left out
                out[m.object_id] = value
        return out

    def _value(self, m: MeasureSpec) -> Any:
        if m.type in ("Number", "Integer"):
            value = _walk(m, self.state[m.object_id], self.rng)
            self.state[m.object_id] = value
            return round(value) if m.type == "Integer" else round(value, 2)
        if m.type == "ListProperty":  # numbers around the walking value, 0 to `items` of them
            value = _walk(m, self.state[m.object_id], self.rng)
            self.state[m.object_id] = value
            low, high = _bounds(m)
            spread = (m.spread or (high - low) / 20) / 4
            listed = [
                round(min(high, max(low, self.rng.gauss(value, spread))), 2)
                for _ in range(self.rng.randint(0, m.items))
            ]
            return listed or None
        if m.type == "Boolean":
            return self.rng.random() > 0.02
        if m.type == "geo:point":
            lat = 35.87 + self.rng.uniform(-0.05, 0.05)
            lon = 128.60 + self.rng.uniform(-0.07, 0.07)
            return f"{lon:.6f},{lat:.6f}"  # geo:point is "lon,lat", as the agents read it
        return self.rng.choice(m.values or ["ok"])

    def payload(self, now: float, *, malformed: bool = False) -> bytes:
        stamp = (
            (datetime.fromtimestamp(now, UTC) + timedelta(seconds=self.skew))
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
        values = self.values()
        if malformed:
            return b"{broken" if self.profile.payload == "json" else b"|".join([b"x"] * 3)
        if self.profile.payload == "json":
            return orjson.dumps({**values, "TimeInstant": stamp})
        return "|".join([stamp, *(f"{k}|{_text(v)}" for k, v in values.items())]).encode()


def _start(m: MeasureSpec, rng: random.Random) -> float:
    low, high = _bounds(m)
    typical = m.typical if m.typical is not None else (low + high) / 2
    return min(high, max(low, rng.gauss(typical, (m.spread or (high - low) / 20) / 2)))


def _walk(m: MeasureSpec, current: float, rng: random.Random) -> float:
    low, high = _bounds(m)
    typical = m.typical if m.typical is not None else (low + high) / 2
    spread = m.spread or (high - low) / 20
    step = rng.gauss(0, spread / 4) + (typical - current) * 0.05  # drift back to typical
    return min(high, max(low, current + step))


def _bounds(m: MeasureSpec) -> tuple[float, float]:
    low = m.min if m.min is not None else 0.0
    high = m.max if m.max is not None else low + 100.0
    return low, high


def command_names(payload_format: str, payload: bytes) -> list[str]:
    """The commands a device was sent: UltraLight `dev@name|value` (several joined by `#`) or
    a JSON object of name → value."""
    text = payload.decode(errors="replace").strip()
    if not text:
        return []
    if payload_format == "json" or text[:1] == "{":
        try:
            sent = orjson.loads(text)
        except orjson.JSONDecodeError:
            return []
        return [str(name) for name in sent] if isinstance(sent, dict) else []
    names = []
    for part in text.split("#"):
        if "@" in part:
            names.append(part.split("@", 1)[1].split("|", 1)[0])
    return names


def command_answer(payload_format: str, device_id: str, names: list[str]) -> bytes:
    """The device's result for each command: OK."""
    if payload_format == "json":
        return orjson.dumps(dict.fromkeys(names, "OK"))
    return "#".join(f"{device_id}@{name}|OK" for name in names).encode()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _MqttSender:
    def __init__(self, apikey: str, endpoints: Endpoints, payload: str = "ul") -> None:
        self.apikey = apikey
        self.endpoints = endpoints
        self.payload = payload
        self._client: Any = None
        self._answering: asyncio.Task[None] | None = None

    async def open(self) -> None:
        import aiomqtt

        self._client = aiomqtt.Client(
            self.endpoints.host,
            self.endpoints.mqtt_port,
            identifier=f"dalgu-fleet-{random.getrandbits(32):08x}",
        )
        try:
            await self._client.__aenter__()
        except (aiomqtt.MqttError, OSError) as error:
            self._client = None
            where = f"mqtt://{self.endpoints.host}:{self.endpoints.mqtt_port}"
            raise ServerUnreachable(f"cannot reach the MQTT broker at {where}: {error}") from None
        await self._client.subscribe(f"/{self.apikey}/+/cmd", qos=1)
        self._answering = asyncio.create_task(self._answer_commands())

    async def _answer_commands(self) -> None:
        """Each command a device of the fleet gets is answered OK on its `/cmdexe`."""
        import aiomqtt

        with contextlib.suppress(aiomqtt.MqttError):
            async for message in self._client.messages:
                levels = str(message.topic).split("/")
                payload = message.payload if isinstance(message.payload, bytes) else b""
                if len(levels) < 4 or levels[-1] != "cmd":
                    continue
                device_id = levels[-2]
                names = command_names(self.payload, payload)
                if names:
                    answer = command_answer(self.payload, device_id, names)
                    topic = f"/{self.apikey}/{device_id}/cmdexe"
                    await self._client.publish(topic, answer, qos=1)

    async def send(self, device_id: str, payload: bytes) -> None:
        await self._client.publish(f"/{self.apikey}/{device_id}/attrs", payload, qos=1)

    async def close(self) -> None:
        if self._answering is not None:
            self._answering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._answering
        if self._client is not None:
            await self._client.__aexit__(None, None, None)


class _HttpSender:
    def __init__(self, apikey: str, endpoints: Endpoints, payload: str) -> None:
        self.apikey = apikey
        self.payload = payload
        path = "/iot/json" if payload == "json" else "/iot/d"
        self.url = f"http://{endpoints.host}:{endpoints.http_port}{path}"
        self._client = httpx.AsyncClient(timeout=10)

    async def send(self, device_id: str, payload: bytes) -> None:
        """A measure; its answer holds the device's waiting commands (`getCmd=1`), which it
        answers OK at once."""
        params = {"k": self.apikey, "i": device_id, "getCmd": "1"}
        response = await self._client.post(self.url, params=params, content=payload)
        if response.status_code >= 300:
            raise RuntimeError(f"HTTP {response.status_code}")
        names = command_names(self.payload, response.content)
        if names:
            answer = command_answer(self.payload, device_id, names)
            params = {"k": self.apikey, "i": device_id}
            await self._client.post(f"{self.url}/commands", params=params, content=answer)

    async def close(self) -> None:
        await self._client.aclose()


class _CoapSender:
    def __init__(self, apikey: str, endpoints: Endpoints, payload: str) -> None:
        self.apikey = apikey
        path = "iot/json" if payload == "json" else "iot/d"
        self.base = f"coap://{endpoints.host}:{endpoints.coap_port}/{path}"
        self._context: Any = None

    async def open(self) -> None:
        import aiocoap

        self._context = await aiocoap.Context.create_client_context()

    async def send(self, device_id: str, payload: bytes) -> None:
        import aiocoap

        request = aiocoap.Message(
            code=aiocoap.POST, uri=f"{self.base}?k={self.apikey}&i={device_id}", payload=payload
        )
        response = await self._context.request(request).response
        if not response.code.is_successful():
            raise RuntimeError(f"CoAP {response.code}")

    async def close(self) -> None:
        if self._context is not None:
            await self._context.shutdown()


async def sender_for(transport: str, apikey: str, endpoints: Endpoints, payload: str) -> Any:
    """An open sender of device messages over `transport` (mqtt, http or coap)."""
    sender: Any
    if transport == "mqtt":
        sender = _MqttSender(apikey, endpoints, payload)
        await sender.open()
    elif transport == "http":
        sender = _HttpSender(apikey, endpoints, payload)
    elif transport == "coap":
        sender = _CoapSender(apikey, endpoints, payload)
        await sender.open()
    else:
        raise ValueError(f"unknown transport {transport!r}")
    return sender


async def provision(profile: DeviceProfile, apikey: str, endpoints: Endpoints, tenant: str) -> None:
    """The profile's config group on the provisioning port (already there is fine)."""
    url = f"http://{endpoints.host}:{endpoints.north_port}/iot/services"
    headers = {"fiware-service": tenant} if tenant else {}
    async with httpx.AsyncClient(timeout=10) as client:
        try:
            response = await client.post(
                url, json={"services": [profile.to_group(apikey)]}, headers=headers
            )
        except httpx.TransportError as error:
            raise ServerUnreachable(
                f"cannot reach Dalgu's provisioning API at {url} ({error or type(error).__name__});"
                " is the server running, and is --north-port its iot_north_port?"
            ) from None
    if response.status_code not in (201, 409):
        raise RuntimeError(f"provisioning failed: HTTP {response.status_code} {response.text}")


async def run_fleet(
    profile: DeviceProfile,
    *,
    apikey: str,
    devices: int,
    rate: float,
    duration: float,
    transport: str | None = None,
    endpoints: Endpoints | None = None,
    faults: Faults | None = None,
    seed: int = 1,
    concurrency: int = 32,
    progress: Callable[[float, FleetReport], None] | None = None,
) -> FleetReport:
    """Send `rate` messages/s in total, round robin over `devices`, for `duration` seconds."""
    endpoints = endpoints or Endpoints()
    faults = faults or Faults()
    rng = random.Random(seed)
    fleet = [
        VirtualDevice(
            f"{profile.name}-{n:05d}",
            profile,
            random.Random(rng.random()),
            rng.uniform(-faults.clock_skew, faults.clock_skew),
        )
        for n in range(devices)
    ]
    kind = transport or profile.transport
    sender = await sender_for(kind, apikey, endpoints, profile.payload)
    report = FleetReport()
    limit = asyncio.Semaphore(1 if kind == "mqtt" else concurrency)
    pending: set[asyncio.Task[None]] = set()

    async def send(device: VirtualDevice, payload: bytes) -> None:
        async with limit:
            started = time.perf_counter()
            try:
                await sender.send(device.device_id, payload)
            except Exception as exc:  # a device keeps going whatever one send did
                report.failed += 1
                report.errors[type(exc).__name__ + (f": {exc}" if str(exc) else "")] += 1
                return
            report.latencies.append(time.perf_counter() - started)
            report.sent += 1

    start = time.monotonic()
    total = int(rate * duration)
    try:
        for index in range(total):
            due = start + index / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            device = fleet[index % len(fleet)]
            now = time.time()
            if now < device.silent_until:
                report.silent += 1
                continue
            if faults.dropout and rng.random() < faults.dropout:
                device.silent_until = now + faults.dropout_seconds
                report.silent += 1
                continue
            malformed = bool(faults.bad_payload) and rng.random() < faults.bad_payload
            report.malformed += malformed
            task = asyncio.create_task(send(device, device.payload(now, malformed=malformed)))
            pending.add(task)
            task.add_done_callback(pending.discard)
            if progress is not None and index % max(1, int(rate / 4)) == 0:
                progress(time.monotonic() - start, report)
        if pending:
            await asyncio.gather(*pending)
    finally:
        await sender.close()
    if progress is not None:
        progress(time.monotonic() - start, report)
    return report
