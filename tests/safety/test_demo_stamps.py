"""`dalgu demo safety` stamps its drives against the wall clock: the baseline minutes (sent as
fast as the gateway takes them) never ahead of it, and the live part with it, whatever the
baseline took. Its length was guessed from the fleet's size: 500 vehicles had the baseline
stamped ten minutes in the future (the service read every device as a clock fault, desk-4),
and a baseline slower than guessed had the live part stamped minutes in the past, sent as a
catch-up burst, with the overrun printed as the alerts' delay (desk-3)."""

from __future__ import annotations

from datetime import datetime

import orjson
import pytest

from dalgu.cli.demo_safety import baseline_start
from dalgu.safety import fleet as fleet_module
from dalgu.safety.fleet import SimulatedVehicle, stream
from dalgu.safety.plan import CALIBRATION
from dalgu.safety.scenario import Labels

BASELINE = int(CALIBRATION)
DURATION = BASELINE + 60
NOW = 1_800_000_000.0


class Wall:
    """A wall clock the stream sleeps on, and a gateway that takes `cost` s a baseline message."""

    def __init__(self, cost: float) -> None:
        self.now = NOW
        self.cost = cost
        self.second = 0
        # (drive second, wall time sent, newest sample time of the message)
        self.sent: list[tuple[int, float, float]] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.now += max(delay, 0.0)

    def on_second(self, second: int) -> None:
        self.second = second

    async def publish(self, kind: str, device: str, payload: bytes) -> None:
        newest = max(_epoch(g["TimeInstant"]) for g in orjson.loads(payload))
        self.sent.append((self.second, self.now, newest))
        if self.second < BASELINE:
            self.now += self.cost


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _car(name: str) -> SimulatedVehicle:
    labels = Labels(name, name, "d", "2026-12-07T00:00:00Z", float(DURATION))
    seconds = tuple(
        (
            [{"Vehicle.Speed": 80.0, "t": s + k / 10} for k in range(10)],
            [{"Wearable.HeartRate": 70.0, "t": s + 0.5}],
        )
        for s in range(DURATION)
    )
    return SimulatedVehicle(name, labels, seconds)


async def _demo(
    monkeypatch: pytest.MonkeyPatch, vehicles: int, cost: float, speed: float
) -> list[tuple[int, float, float]]:
    """The demonstration's stream for a fleet of `vehicles` (two of them sent), its baseline
    stored at `cost` s a message."""
    wall = Wall(cost)
    monkeypatch.setattr(fleet_module, "time", wall)
    monkeypatch.setattr(fleet_module, "asyncio", wall)
    fleet = [_car("demo-001"), _car("demo-002")]
    await stream(
        fleet,
        wall.publish,
        start=baseline_start(vehicles, DURATION, speed, wall.now),
        fast_until=BASELINE,
        speed=speed,
        on_second=wall.on_second,
    )
    return wall.sent


@pytest.mark.parametrize(
    ("vehicles", "cost", "speed"),
    [
        (500, 0.001, 1.0),  # guessed 20 minutes to store: a fast gateway took 2 s
        (300, 0.001, 1.0),
        (50, 0.17, 1.0),  # guessed ~4 minutes: a loaded gateway took ~7
        (2, 0.05, 1.0),
        (50, 0.17, 5.0),
        (500, 0.001, 8.0),
    ],
)
async def test_no_sample_is_stamped_ahead_of_the_wall_clock_and_the_live_part_is_live(
    monkeypatch: pytest.MonkeyPatch, vehicles: int, cost: float, speed: float
) -> None:
    sent = await _demo(monkeypatch, vehicles, cost, speed)
    ahead = [(s, newest - at) for s, at, newest in sent if newest > at + 1e-6]
    assert not ahead, f"stamped ahead of the wall clock (drive second, s): {ahead[:3]}"
    live = [(at, newest) for s, at, newest in sent if s >= BASELINE]
    first_at, first_newest = live[0]
    lead = (DURATION - BASELINE) * (1 - 1 / speed)  # faster than real time, stamped behind
    # the live part begins when the baseline is stored, stamped from then, not minutes back
    assert first_at - 1.0 - lead <= first_newest <= first_at
    if speed == 1.0:  # each second sent as it ends, as a car does
        assert all(at - 1.0 <= newest <= at for at, newest in live)
    # each source's times go forward (the live part is never stamped before the baseline)
    for source in (0, 1):
        newest = [n for n, (_, _, n) in enumerate(sent) if n % 2 == source]
        times = [sent[n][2] for n in newest]
        assert times == sorted(times)
