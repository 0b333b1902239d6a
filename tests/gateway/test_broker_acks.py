"""The embedded broker acknowledges a device's QoS 1 measure once Dalgu has stored it: the
acknowledgement is the device's promise that the measure survives (`brokeracks`). Real broker,
real aiomqtt clients."""

from __future__ import annotations

import asyncio
import time
import uuid

import aiomqtt
from starlette.testclient import TestClient

from dalgu.api.health import backlog_check
from dalgu.gateway.brokeracks import StoredAcknowledgements

E = "/ngsi-ld/v1/entities"


def test_a_measure_acknowledged_to_its_device_is_already_stored(
    embedded: tuple[TestClient, int],
) -> None:
    """amqtt acknowledged a QoS 1 publish as soon as it was queued in memory: a `kill -9`
    then lost every measure acknowledged but not yet written (an outside test: 12,899 in one
    kill under load, 86 in a calm one). Each PUBACK now means the measure is in the store."""
    client, port = embedded
    apikey = f"k{uuid.uuid4().hex[:10]}"
    group = {"services": [{"apikey": apikey, "resource": "/iot/d", "entity_type": "Thermo"}]}
    assert client.post("/iot/services", json=group).status_code == 201
    url = f"{E}/urn:ngsi-ld:Thermo:t1"
    seen: list[str | None] = []

    async def publish(n: int) -> None:
        async with aiomqtt.Client("127.0.0.1", port, identifier=f"t1-{uuid.uuid4().hex[:6]}") as c:
            await c.publish(f"/{apikey}/t1/attrs", f"t|{n}".encode(), qos=1)  # waits for PUBACK

    for n in range(8):
        asyncio.run(publish(n))
        got = client.get(url)  # at once: no waiting for the gateway
        seen.append(got.json().get("t", {}).get("value") if got.status_code == 200 else None)
    assert seen == list(range(8))


def test_a_message_dalgu_does_not_take_is_acknowledged_at_once(
    embedded: tuple[TestClient, int],
) -> None:
    """A QoS 1 publish on a topic Dalgu is not subscribed to has nothing to wait for."""
    _, port = embedded

    async def publish() -> float:
        async with aiomqtt.Client("127.0.0.1", port, identifier=f"o-{uuid.uuid4().hex[:6]}") as c:
            started = time.monotonic()
            await c.publish("city/other/topic", b"hello", qos=1)
            return time.monotonic() - started

    assert asyncio.run(publish()) < 2.0


def test_health_reports_the_device_messages_waiting_to_be_stored(
    embedded: tuple[TestClient, int],
) -> None:
    client, _ = embedded
    checks = client.get("/health").json()["checks"]
    assert checks["mqtt:backlog"] == [
        {"status": "pass", "observedValue": 0, "observedUnit": "messages"}
    ]


async def test_a_backlog_older_than_the_warning_is_a_warn() -> None:
    """An outside soak test saw ingestion fall minutes behind what the devices sent, with
    every check of `/health` passing."""
    acks = StoredAcknowledgements(lambda topic: topic.endswith("/attrs"))
    first, second = b"t|1", b"t|2"
    assert acks.expect("/k/d/cmdexe", first) is None  # not taken by Dalgu: no wait
    assert acks.expect("/k/d/attrs", first) is not None
    assert acks.expect("/k/d/attrs", second) is not None
    await asyncio.sleep(0.05)
    waiting, oldest = acks.backlog()
    assert waiting == 2 and oldest >= 0.05
    assert backlog_check(waiting, oldest, warning=30)["status"] == "pass"
    warned = backlog_check(waiting, oldest, warning=0.01)
    assert warned["status"] == "warn" and "2 device messages wait" in warned["output"]
    acks.stored(first)
    acks.stored(second)
    assert acks.backlog() == (0, 0.0)
