"""A telemetry window with the position on top only (as docs/safety.md's example sends it; a
column for every signal is optional): the alert must carry the location. The top-only values
were lost, and an emergency desk got a critical cardiac alert without a place."""

from __future__ import annotations

from dalgu.devices.traffic import MessageEvent
from dalgu.safety import signals as vss
from dalgu.safety.service import Raised, SafetyService
from dalgu.safety.telemetry_window import window_samples
from tests.safety.test_message_order import EVENT, START, messages

LATITUDE, LONGITUDE = 35.8704, 128.5963


def _window(event: MessageEvent) -> MessageEvent:
    """The car's ten groups of a second as one window, the position on top only."""
    position = (vss.LATITUDE, vss.LONGITUDE)
    groups = [{k: v for k, v in values.items() if k not in position} for values, _ in event.groups]
    newest = event.groups[-1][1]
    assert newest is not None
    names = sorted({name for values in groups for name in values})
    window = {
        "t": [round(-100 * (len(groups) - 1 - k)) for k in range(len(groups))],
        **{name: [values.get(name) for values in groups] for name in names},
    }
    top = {
        **groups[-1],
        vss.LATITUDE: LATITUDE,
        vss.LONGITUDE: LONGITUDE,
        "samples": window,
    }
    return MessageEvent(
        event.apikey, event.device_id, "mqtt", event.received, event.stored, ((top, newest),)
    )


def test_a_signal_only_on_top_of_a_window_goes_with_its_newest_sample() -> None:
    values = {vss.LATITUDE: 35.0, "samples": {"t": [-500, 0], vss.SPEED: [70.0, 71.0]}}
    samples = window_samples(values, 100.0)
    assert samples == [(99.5, {vss.SPEED: 70.0}), (100.0, {vss.SPEED: 71.0, vss.LATITUDE: 35.0})]


def test_an_alert_of_windows_with_the_position_on_top_only_has_a_location() -> None:
    service = SafetyService(entities=None, terms=None)  # type: ignore[arg-type]
    for event in messages(0.0):
        service.observe(_window(event) if event.device_id == "veh-1" else event)
    queue = service._queue
    alerts = [
        a.alert for a in (queue.get_nowait() for _ in range(queue.qsize())) if isinstance(a, Raised)
    ]
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "asystole")]
    assert START.timestamp() + EVENT + 3 <= alerts[0].raised <= START.timestamp() + EVENT + 8
    assert alerts[0].location == (LATITUDE, LONGITUDE)
