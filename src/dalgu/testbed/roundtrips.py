"""Command round trips of a conformance run: does each device execute its commands in time?

During a run the testbed sends every command the profile declares to each device it hears
from (once, when the device is first heard and enough of the run is left), through the same
path as an NGSI-LD client's command (MQTT `/cmd`, HTTP push, or the polling queue), and notes
when the device's result arrives (`/cmdexe`, the push's answer, `/iot/d/commands`).
`command_check` judges them: every command answered OK within the profile's deadline.
Pure functions and data: the sending lives in `dalgu.testbed.runs`.
"""

from __future__ import annotations

from dataclasses import dataclass

from dalgu.testbed.conformance import MAX_EXAMPLES, Check, Verdict, percentile
from dalgu.testbed.profile import DeviceProfile


@dataclass
class CommandTrip:
    device_id: str
    name: str
    sent: float  # epoch seconds
    answered: float | None = None  # when the device's result (or an error) came
    status: str = "PENDING"  # the last status seen: PENDING, DELIVERED, OK, ERROR, EXPIRED
    info: str | None = None  # why it could not be sent, or the error


def command_check(profile: DeviceProfile, trips: list[CommandTrip]) -> Check:
    if not profile.commands:
        return Check("commands", "n/a", "the profile declares no commands")
    if not trips:
        return Check("commands", "n/a", "no device was heard early enough to send commands")
    deadline = profile.command_deadline
    problems: list[str] = []
    times: list[float] = []
    for trip in trips:
        if trip.status == "OK" and trip.answered is not None:
            took = trip.answered - trip.sent
            times.append(took)
            if took > deadline:
                problems.append(f"{trip.device_id}: {trip.name} answered after {took:.2f} s")
        elif trip.status in ("ERROR", "EXPIRED", "UNSENT"):
            reason = f": {trip.info}" if trip.info else ""
            problems.append(f"{trip.device_id}: {trip.name} {trip.status}{reason}")
        else:
            problems.append(f"{trip.device_id}: {trip.name} not answered within {deadline:g} s")
    verdict: Verdict = "fail" if problems else "pass"
    summary = f"{len(times)} of {len(trips)} commands answered OK"
    figures: dict[str, float] = {"sent": len(trips), "answered": len(times)}
    if times:
        p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
        summary += f"; round trip p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
        figures.update({"p50_s": p50, "p99_s": p99})
    summary += f" (deadline {deadline:g} s)"
    return Check("commands", verdict, summary, figures, problems[:MAX_EXAMPLES])
