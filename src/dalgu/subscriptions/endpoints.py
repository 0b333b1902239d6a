"""Send one notification to an endpoint: HTTP(S) POST or MQTT(S) publish (clause 7.x).

Each sender raises `DeliveryFailed` with a reason when the receiver did not take it.
"""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson


class DeliveryFailed(Exception):
    """The endpoint refused or could not be reached; the delivery is retried later."""


class HttpSender:
    def __init__(self, timeout: float = 10.0) -> None:
        self._client = httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        await self._client.aclose()

    async def send(self, uri: str, headers: dict[str, str], body: bytes) -> None:
        try:
            response = await self._client.post(uri, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 300:
            raise DeliveryFailed(f"HTTP {response.status_code}")


def _info(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {i["key"]: i["value"] for i in items or []}


class MqttSender:
    """Publishes with aiomqtt (paho): QoS and protocol version from `notifierInfo`."""

    async def send(
        self,
        uri: str,
        headers: dict[str, str],
        body: bytes,
        notifier_info: list[dict[str, str]] | None,
    ) -> None:
        import aiomqtt

        parts = urlsplit(uri)
        info = _info(notifier_info)
        qos = int(info.get("MQTT-QoS", "0"))
        version = (
            aiomqtt.ProtocolVersion.V5
            if info.get("MQTT-Version", "mqtt3.1.1") == "mqtt5.0"
            else aiomqtt.ProtocolVersion.V311
        )
        secure = parts.scheme == "mqtts"
        topic = parts.path.lstrip("/")
        if not topic or qos not in (0, 1, 2):
            raise DeliveryFailed(f"invalid MQTT endpoint {uri} (topic and QoS 0-2 required)")
        message: dict[str, Any] = {"metadata": headers, "body": orjson.loads(body)}
        try:
            async with aiomqtt.Client(
                parts.hostname or "127.0.0.1",
                port=parts.port or (8883 if secure else 1883),
                username=parts.username,
                password=parts.password,
                protocol=version,
                tls_context=ssl.create_default_context() if secure else None,
                timeout=10,
            ) as client:
                await client.publish(topic, orjson.dumps(message), qos=qos)
        except aiomqtt.MqttError as exc:
            raise DeliveryFailed(f"MQTT: {exc}") from None
