"""The demonstration's last line says how many injected events were alerted, and which were
not: "Drives over: 3 alerts notified" hid a loss of control that raised nothing."""

from __future__ import annotations

from dalgu.cli.demo_safety import injected_summary
from dalgu.safety.fleet import SimulatedVehicle
from dalgu.safety.scenario import Event, Labels


def _car(name: str, events: tuple[Event, ...]) -> SimulatedVehicle:
    labels = Labels(name, name, "d", "2026-12-07T00:00:00Z", 700.0, events)
    return SimulatedVehicle(name, labels, tuple(([], []) for _ in range(700)))


def test_the_summary_names_the_injected_events_no_alert_followed() -> None:
    fleet = [
        _car("demo-001", (Event("cardiac", 620.0, 710.0, {"subtype": "asystole"}),)),
        _car("demo-002", (Event("incapacitation", 650.0, 740.0, {"subtype": "loss-of-control"}),)),
        _car("demo-003", ()),
    ]
    alerts = [{"alertSource": {"type": "Relationship", "object": "urn:ngsi-ld:Vehicle:demo-001"}}]
    assert injected_summary(fleet, alerts) == (
        "1 of 2 injected events alerted; not alerted: loss-of-control in demo-002 "
        "(injected 50 s before its drive ended)."
    )
