"""A telematics unit whose clock jumps ahead once (a GPS time glitch: 2099, or an hour fast)
must not switch safety off for its car: the glitch moved the drive into the future and every
later sample, the wearable's too, was dropped as late, with no word in the log."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from dalgu.devices.traffic import MessageEvent
from dalgu.safety import signals as vss
from dalgu.safety.alert import Alert
from dalgu.safety.service import Raised, SafetyService
from tests.safety.test_message_order import EVENT, START, messages

GLITCH = 300  # drive second of the one message with a wrong time


def _alerts(service: SafetyService) -> list[Alert]:
    queue = service._queue
    return [
        a.alert for a in (queue.get_nowait() for _ in range(queue.qsize())) if isinstance(a, Raised)
    ]


@pytest.mark.parametrize("stamp", ["2099-01-01T00:00:00Z", "one hour fast"])
def test_one_sample_stamped_in_the_future_does_not_blind_the_monitor(
    stamp: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="dalgu.safety.service")
    service = SafetyService(entities=None, terms=None)  # type: ignore[arg-type]
    for index, event in enumerate(messages(0.0)):
        if index == 2 * GLITCH:  # the car's message of that second
            at = START + timedelta(seconds=GLITCH, hours=1)
            wrong = stamp if stamp.startswith("2099") else at.isoformat().replace("+00:00", "Z")
            glitch = (({vss.SPEED: 80.0}, wrong),)
            service.observe(
                MessageEvent("car", "veh-1", "mqtt", event.received, event.received, glitch)
            )
        service.observe(event)
    alerts = _alerts(service)
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "asystole")]
    assert START.timestamp() + EVENT + 3 <= alerts[0].raised <= START.timestamp() + EVENT + 8
    assert any("ahead of its arrival" in r.getMessage() for r in caplog.records)
