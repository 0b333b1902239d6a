"""The embedded MQTT broker of the single-machine deployment (amqtt).

In production Dalgu connects to Mosquitto instead; the gateway code is the same. The embedded
broker listens on 127.0.0.1 only, on a port other than 1883 (which a machine's own Mosquitto
usually holds), and lets devices connect without credentials, as a local testbed needs.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


class BrokerUnavailable(Exception):
    """The embedded broker could not start (its port is taken, say)."""


class EmbeddedBroker:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._broker: Any = None

    async def start(self) -> None:
        from amqtt.broker import Broker  # imported here: only the embedded mode needs it

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        from amqtt.errors import BrokerError

        broker = Broker(config)
        # amqtt logs its own traceback for a start that fails (a port taken); the caller
        # logs one line that says what happened and what still serves
        amqtt_log = logging.getLogger("amqtt.broker")
        level = amqtt_log.level
        amqtt_log.setLevel(logging.CRITICAL)
        try:
            await broker.start()
        except (BrokerError, OSError) as exc:
            raise BrokerUnavailable(str(exc)) from exc
        finally:
            amqtt_log.setLevel(level)
        self._broker = broker
        log.info("embedded MQTT broker on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None
