"""Evaluation through the real gateway: scenarios replayed over MQTT into a running Dalgu.

Every drive becomes a car and a wearable (devices of a config group made for the run) that
publish their samples second by second, all drives at once, at the drive's own pace (or
`speed` times faster); the alerts are read back as NGSI-LD `Alert` entities and matched against
the labels exactly as the in-process replay's are. The server must run the safety service
(`DALGU_SAFETY=true`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import httpx

from dalgu.errors import BadRequestData
from dalgu.safety.alert import Alert
from dalgu.safety.evaluation import Outcome, mark_signal_loss, match
from dalgu.safety.fleet import SimulatedVehicle, on_the_wire, stamp, stream
from dalgu.safety.scenario import Scenario
from dalgu.safety.service import config_groups
from dalgu.testbed.simulator import Endpoints, sender_for


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def alert_of(entity: dict[str, Any], vehicle: str, start: float) -> Alert:
    """An `Alert` entity read back, its times as seconds of the drive that began at `start`."""

    def value(name: str) -> Any:
        attribute = entity.get(name)
        return attribute.get("value") if isinstance(attribute, dict) else None

    location = (value("location") or {}).get("coordinates")
    return Alert(
        vehicle=vehicle,
        driver=(entity.get("driver") or {}).get("object"),
        type=str(value("alertType")),
        subtype=str(value("alertSubType")),
        severity=value("severity"),
        confidence=float(value("confidence") or 0.0),
        onset=_epoch(value("onset")) - start,
        raised=_epoch(value("dateIssued")) - start,
        evidence=value("evidence") or {},
        location=(location[1], location[0]) if location else None,
    )


async def _alerts(client: httpx.AsyncClient, api: str, vehicle: str) -> list[dict[str, Any]]:
    source = f"urn:ngsi-ld:Vehicle:{vehicle}"
    response = await client.get(
        f"{api}/entities",
        params={"type": "Alert", "q": f'alertSource=="{source}"', "limit": 1000},
    )
    if response.status_code != 200:
        raise BadRequestData(f"reading alerts failed: {response.status_code} {response.text}")
    found: list[dict[str, Any]] = response.json()
    return found


async def _check_api(client: httpx.AsyncClient, api: str) -> None:
    """Fail at once when `api` is not an NGSI-LD API (a wrong --api used to show only as
    "its last samples were never stored", after five minutes)."""
    try:
        response = await client.get(f"{api}/entities", params={"type": "Alert", "limit": 1})
    except httpx.HTTPError as error:
        raise BadRequestData(f"the API at {api} cannot be reached: {error}") from None
    if response.status_code != 200:
        raise BadRequestData(
            f"the API at {api} answered {response.status_code} to an entity query: is --api "
            "the server's base URL (http://host:port, without /ngsi-ld/v1)?"
        )


async def _stored_until(client: httpx.AsyncClient, api: str, vehicle: SimulatedVehicle) -> str:
    response = await client.get(
        f"{api}/entities/urn:ngsi-ld:Vehicle:{vehicle.name}", params={"attrs": "speed"}
    )
    if response.status_code != 200:
        return ""
    return str(response.json().get("speed", {}).get("observedAt", ""))


async def replay_through_gateway(
    scenarios: Sequence[Scenario],
    *,
    endpoints: Endpoints,
    api: str,
    north: str,
    speed: float = 1.0,
    windows: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> list[Outcome]:
    """Publish every scenario over MQTT at once; their alerts, matched against their labels.
    Each car sends a telemetry window a second, as the demonstration's cars do; `windows=False`
    sends the ten measure groups of the older form."""
    run = uuid.uuid4().hex[:6]
    fleet = [on_the_wire(f"{s.labels.vehicle}-{run}", s, windows=windows) for s in scenarios]
    apikey, apikey_w = f"eval-{run}", f"eval-{run}-w"
    async with httpx.AsyncClient(timeout=30) as client:
        await _check_api(client, api)
        response = await client.post(f"{north}/iot/services", json=config_groups(apikey, apikey_w))
        if response.status_code not in (201, 409):
            raise BadRequestData(f"provisioning failed: {response.status_code} {response.text}")
        cars = await sender_for("mqtt", apikey, endpoints, "json")
        bands = await sender_for("mqtt", apikey_w, endpoints, "json")

        async def publish(kind: str, device: str, payload: bytes) -> None:
            await (bands if kind == "wearable" else cars).send(device, payload)

        wall = float(int(time.time()) + 1)
        longest = max((v.duration for v in fleet), default=0)
        # stamped so that no sample is ahead of the wall clock when it is sent, however fast
        # the drives go out: the safety service reads a time ahead of a message's arrival as a
        # clock fault (they were stamped from `wall` at x1, up to minutes in the future)
        start = wall - longest * (1.0 - 1.0 / speed) - 1.0
        try:
            await stream(
                fleet,
                publish,
                start=start,
                live_at=wall,
                speed=speed,
                on_second=(lambda s: progress(s, longest)) if progress else None,
            )
        finally:
            await cars.close()
            await bands.close()
        # the gateway has stored each drive's last second, and the alerts are written
        for vehicle in fleet:
            last = max((g["t"] for car, _ in vehicle.seconds for g in car), default=0.0)
            deadline = time.monotonic() + 60
            while (stored := await _stored_until(client, api, vehicle)) < stamp(start + last):
                if time.monotonic() > deadline:
                    raise BadRequestData(
                        f"{vehicle.name}: its last sample ({stamp(start + last)}) was not stored "
                        f"within 60 s of the replay's end (stored until: {stored or 'nothing'})"
                    )
                await asyncio.sleep(0.2)
        await asyncio.sleep(2.0)
        outcomes = []
        for scenario, vehicle in zip(scenarios, fleet, strict=True):
            alerts = [
                alert_of(e, vehicle.name, start) for e in await _alerts(client, api, vehicle.name)
            ]
            alerts.sort(key=lambda a: a.raised)
            labels = scenario.labels
            outcomes.append(
                match(mark_signal_loss(labels.events, labels.confounders), alerts, labels.duration)
            )
    return outcomes
