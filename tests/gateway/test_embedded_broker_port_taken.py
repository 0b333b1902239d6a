"""An embedded MQTT broker whose port is taken says so in one line, not with amqtt's
traceback, and the rest of Dalgu serves (the gateway logs it and records the problem)."""

from __future__ import annotations

import logging
import socket

import pytest

from dalgu.gateway.broker import BrokerUnavailable, EmbeddedBroker


async def test_a_taken_port_is_one_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    amqtt_log = logging.getLogger("amqtt.broker")
    before = amqtt_log.level
    try:
        with caplog.at_level(logging.DEBUG), pytest.raises(BrokerUnavailable) as raised:
            await EmbeddedBroker("127.0.0.1", port).start()
    finally:
        holder.close()
    assert "address already in use" in str(raised.value).lower()
    assert not [r for r in caplog.records if r.name.startswith("amqtt") and r.exc_info]
    assert amqtt_log.level == before  # amqtt's own logging is as it was
