"""Start and stop the gateway's MQTT side as the settings ask (embedded broker or external)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from dalgu.devices.service import DeviceService
from dalgu.gateway.auth import DeviceAuthenticator
from dalgu.gateway.broker import BrokerUnavailable, EmbeddedBroker
from dalgu.gateway.mqtt import MqttSouthbound
from dalgu.gateway.mqttlease import SessionLease, lease_name
from dalgu.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class MqttGateway:
    broker: EmbeddedBroker | None = None
    southbound: MqttSouthbound | None = None
    problems: list[str] = field(default_factory=list)

    async def stop(self) -> None:
        if self.southbound is not None:
            await self.southbound.stop()
        if self.broker is not None:
            await self.broker.stop()


async def start_mqtt_gateway(
    settings: Settings,
    devices: DeviceService | None,
    authenticate: DeviceAuthenticator | None = None,
) -> MqttGateway:
    """The embedded broker (if asked for) and the southbound listener.

    A broker port already taken is logged, not fatal: the HTTP API and the other southbound
    transports still serve.
    """
    gateway = MqttGateway()
    if settings.mqtt_broker == "off" or devices is None:
        return gateway
    host, port = settings.mqtt_address
    if settings.mqtt_broker == "embedded":
        broker = EmbeddedBroker(host, port)
        try:
            await broker.start()
        except BrokerUnavailable as exc:
            message = f"embedded MQTT broker could not listen on {host}:{port}: {exc}"
            log.error(message)
            gateway.problems.append(message)
            return gateway
        gateway.broker = broker
    # one persistent session per server, under a client id stable across restarts and unique
    # per server; of the server's workers, the one holding its lease consumes it
    client_id = settings.mqtt_session_id
    southbound = MqttSouthbound(
        devices,
        host,
        port,
        identifier=client_id,
        lease=SessionLease(lease_name(host, port, client_id)),
        authenticate=authenticate,
        max_depth=settings.max_json_depth,
    )
    gateway.southbound = southbound
    devices.commands.sinks["MQTT"] = southbound.send_command
    southbound.start()
    return gateway
