"""The embedded MQTT broker of the single-machine deployment (amqtt).

In production Dalgu connects to Mosquitto instead; the gateway code is the same. The embedded
broker listens on 127.0.0.1 only, on a port other than 1883 (which a machine's own Mosquitto
usually holds), and lets devices connect without credentials, as a local testbed needs; but
only Dalgu's own client, with the credentials made at its start, may subscribe across API keys
(`brokeraccess`). A connection that sends no CONNECT within `CONNECT_TIMEOUT` seconds, or
something else first, is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from dalgu.gateway.brokeraccess import BrokerCredentials
from dalgu.gateway.brokeracks import StoredAcknowledgements, handler_class
from dalgu.gateway.brokersessions import session_rules

log = logging.getLogger(__name__)

#: seconds a client has, once connected, to send its CONNECT (MQTT 3.1.1 §3.1: "a reasonable
#: amount of time")
CONNECT_TIMEOUT = 10.0

#: the credentials of the embedded brokers this process runs, by (host, port): Dalgu's own
#: southbound connects with them
_OWN: dict[tuple[str, int], BrokerCredentials] = {}


class _NoDataIsNoError(logging.Filter):
    """amqtt logs a client that leaves before its CONNECT (a port scan, a health probe) as an
    error, then again as a warning ("Failed to initialize client session"): the warning says
    it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.ERROR and str(record.msg).startswith("No data from"))


def own_credentials(host: str, port: int) -> BrokerCredentials | None:
    """The credentials of this process's embedded broker on host:port, if one runs there."""
    return _OWN.get((host, port))


class BrokerUnavailable(Exception):
    """The embedded broker could not start (its port is taken, say)."""


class EmbeddedBroker:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._broker: Any = None

    async def start(self) -> None:
        from amqtt.broker import Broker  # imported here: only the embedded mode needs it

        credentials = BrokerCredentials.generate()
        own = {"username": credentials.username}
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "dalgu.gateway.brokeraccess.GatewayAuthentication": {
                    **own,
                    "password": credentials.password,
                },
                "dalgu.gateway.brokeraccess.TopicAccess": own,
            },
        }
        from amqtt.errors import BrokerError

        broker = _broker_class(Broker, credentials)(config)
        amqtt_log = logging.getLogger("amqtt.broker")
        if not any(isinstance(f, _NoDataIsNoError) for f in amqtt_log.filters):
            amqtt_log.addFilter(_NoDataIsNoError())
        # amqtt logs its own traceback for a start that fails (a port taken); the caller
        # logs one line that says what happened and what still serves
        level = amqtt_log.level
        amqtt_log.setLevel(logging.CRITICAL)
        try:
            await broker.start()
        except (BrokerError, OSError) as exc:
            raise BrokerUnavailable(str(exc)) from exc
        finally:
            amqtt_log.setLevel(level)
        self._broker = broker
        _OWN[(self.host, self.port)] = credentials
        log.info("embedded MQTT broker on %s:%d", self.host, self.port)

    def backlog(self) -> tuple[int, float]:
        """Devices' QoS 1 messages received and not yet stored, and the oldest one's wait (s)."""
        if self._broker is None:
            return 0, 0.0
        acks: StoredAcknowledgements = self._broker._dalgu_acks
        return acks.backlog()

    async def stop(self) -> None:
        if self._broker is not None:
            _OWN.pop((self.host, self.port), None)
            await self._broker.shutdown()
            self._broker = None


def _broker_class(base: Any, credentials: BrokerCredentials) -> Any:
    """amqtt's Broker, with the rules of `brokersessions` (who may take which session, Wills,
    keep-alive, bounds) and acknowledging a device's QoS 1 message once Dalgu's own client
    has stored it (`brokeracks`)."""
    from amqtt.broker import BrokerProtocolHandler

    own_username = credentials.username
    rules = session_rules(base, credentials)

    class Broker(rules):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._dalgu_acks = StoredAcknowledgements(self._dalgu_consumes)
            self._dalgu_handler = handler_class(
                BrokerProtocolHandler, self._dalgu_acks, own_username
            )

        def _dalgu_consumes(self, topic: str) -> bool:
            """Whether Dalgu's own client, connected, is subscribed to `topic`."""
            for a_filter, subscriptions in list(self._subscriptions.items()):
                for session, _ in subscriptions:
                    if (
                        session.username == own_username
                        and session.transitions.state == "connected"
                        and self._matches(topic, a_filter)
                    ):
                        return True
            return False

        async def _initialize_client_session(
            self, reader: Any, writer: Any, remote_address: str, remote_port: int
        ) -> Any:
            try:
                handler, session = await asyncio.wait_for(
                    super()._initialize_client_session(reader, writer, remote_address, remote_port),
                    CONNECT_TIMEOUT,
                )
                # amqtt makes the handler from its CONNECT (`init_from_connect`, before the
                # session is known); it gains the acknowledgements here, before it handles any
                # PUBLISH (it starts reading once the connection is accepted)
                handler.__class__ = self._dalgu_handler
                return handler, session
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(writer.close(), 1.0)
                if isinstance(exc, TimeoutError):
                    from amqtt.errors import AMQTTError

                    raise AMQTTError(
                        f"no CONNECT from {remote_address}:{remote_port} within "
                        f"{CONNECT_TIMEOUT:g} s"
                    ) from None
                raise

    return Broker
