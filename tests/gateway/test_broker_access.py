"""The embedded MQTT broker: a client must know an API key to reach its topics; Dalgu's own
southbound still hears every device. Real broker, real aiomqtt clients."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import aiomqtt
import pytest
from starlette.testclient import TestClient

from dalgu.gateway.brokeraccess import may_publish, may_subscribe
from tests.devices.conftest import FirstMessage, publish, wait_for

E = "/ngsi-ld/v1/entities"
FAILURE = 0x80  # SUBACK return code: subscription refused


@pytest.mark.parametrize(
    ("topic_filter", "allowed"),
    [
        ("#", False),
        ("+", False),
        ("/#", False),
        ("/+/#", False),
        ("/+/+/attrs", False),
        ("+/+/attrs", False),
        ("/ul/+/+/attrs", False),
        ("/ul/#", False),
        ("/json/+/#", False),
        ("$SYS/#", False),
        ("$SYS/broker/clients/connected", False),
        ("/k1/#", True),
        ("/k1/+/cmd", True),
        ("/k1/dev1/cmd", True),
        ("/ul/k1/dev1/errors", True),
        ("k1/dev1/attrs", True),
        ("k1/#", True),
    ],
)
def test_a_subscription_needs_an_api_key_before_any_wildcard(
    topic_filter: str, allowed: bool
) -> None:
    assert may_subscribe(topic_filter) is allowed


def test_commands_are_published_by_dalgu_only() -> None:
    assert not may_publish("/k1/dev1/cmd")
    assert not may_publish("/ul/k1/dev1/cmd")
    assert not may_publish("k1/dev1/cmd")
    assert may_publish("/k1/dev1/cmdexe")
    assert may_publish("/k1/dev1/attrs")
    assert may_publish("/k1/dev1/attrs/cmd")  # a measure of an attribute named cmd


def _provision(client: TestClient, apikey: str) -> str:
    body = {
        "device_id": "bell1",
        "apikey": apikey,
        "entity_type": "Bell",
        "transport": "MQTT",
        "commands": [{"name": "ring", "type": "command"}],
    }
    assert client.post("/iot/devices", json={"devices": [body]}).status_code == 201
    return "urn:ngsi-ld:Bell:bell1"


def test_a_client_without_a_key_reads_nothing_of_the_devices(
    embedded: tuple[TestClient, int],
) -> None:
    client, port = embedded
    apikey = f"k{uuid.uuid4().hex[:10]}"
    entity_id = _provision(client, apikey)
    filters = ["#", "/+/+/attrs", "/+/#", "/ul/+/#", "+/+/cmd", "$SYS/#"]

    async def eavesdrop() -> tuple[list[int], list[str]]:
        heard: list[str] = []
        async with aiomqtt.Client("127.0.0.1", port, identifier=f"spy-{uuid.uuid4().hex[:6]}") as c:
            codes = []
            for topic_filter in filters:
                granted = await c.subscribe(topic_filter, qos=1)
                codes.extend(int(code) if isinstance(code, int) else code.value for code in granted)
            await c.publish(f"/{apikey}/bell1/attrs", b"t|1", qos=1)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    async for message in c.messages:
                        heard.append(str(message.topic))
        return codes, heard

    codes, heard = asyncio.run(eavesdrop())
    assert codes == [FAILURE] * len(filters)
    assert heard == []
    # Dalgu's southbound heard the measure all the same
    wait_for(client, f"{E}/{entity_id}", lambda e: e.get("t", {}).get("value") == 1)


def test_a_device_with_its_key_sends_measures_and_gets_its_commands(
    embedded: tuple[TestClient, int],
) -> None:
    client, port = embedded
    apikey = f"k{uuid.uuid4().hex[:10]}"
    entity_id = _provision(client, apikey)
    device = FirstMessage(port, f"/{apikey}/bell1/cmd", f"bell-{apikey}")
    assert client.patch(f"{E}/{entity_id}/attrs/ring", json={"value": "x"}).status_code == 204
    assert device.get() == b"bell1@ring|x"
    publish(port, f"/{apikey}/bell1/cmdexe", b"bell1@ring|rang")
    wait_for(client, f"{E}/{entity_id}", lambda e: e["ring_status"]["value"] == "OK")
    publish(port, f"/{apikey}/bell1/attrs", b"t|2")
    wait_for(client, f"{E}/{entity_id}", lambda e: e.get("t", {}).get("value") == 2)


def test_a_client_cannot_send_a_device_a_command(embedded: tuple[TestClient, int]) -> None:
    client, port = embedded
    apikey = f"k{uuid.uuid4().hex[:10]}"
    _provision(client, apikey)
    topic = f"/{apikey}/bell1/cmd"

    async def forge() -> list[bytes]:
        heard: list[bytes] = []
        async with aiomqtt.Client("127.0.0.1", port, identifier=f"bell-{apikey}") as device:
            await device.subscribe(topic, qos=1)
            async with aiomqtt.Client("127.0.0.1", port, identifier=f"f-{apikey}") as forger:
                await forger.publish(topic, b"bell1@ring|forged", qos=1)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    async for message in device.messages:
                        assert isinstance(message.payload, bytes)
                        heard.append(message.payload)
        return heard

    assert asyncio.run(forge()) == []


def test_dalgus_user_name_with_another_password_is_refused(
    embedded: tuple[TestClient, int],
) -> None:
    from dalgu.gateway.broker import own_credentials

    _, port = embedded
    own = own_credentials("127.0.0.1", port)
    assert own is not None

    async def impostor() -> None:
        async with aiomqtt.Client(
            "127.0.0.1", port, identifier="impostor", username=own.username, password="guess"
        ) as c:
            await c.subscribe("#")

    with pytest.raises(aiomqtt.MqttError):
        asyncio.run(impostor())
