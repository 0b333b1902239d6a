"""What a sensor can give: the ranges outside which a signal's value is no measurement.

Evaluation reads such values as given (the detectors decide what they make of them) but says
so: a speed of -50 km/h or 1e308 is a unit or export fault in a recording, not a drive.
"""

from __future__ import annotations

from typing import Any, Final

from dalgu.safety import signals as vss

#: signal -> (lowest, highest) a sensor gives; a value outside is no measurement
RANGES: Final[dict[str, tuple[float, float]]] = {
    vss.SPEED: (0.0, 500.0),  # km/h
    vss.STEERING: (-1080.0, 1080.0),  # degrees: three turns of the wheel either way
    vss.LATERAL_ACCELERATION: (-100.0, 100.0),  # m/s², ten g
    vss.LATITUDE: (-90.0, 90.0),
    vss.LONGITUDE: (-180.0, 180.0),
    vss.SPO2: (0.0, 100.0),  # %
    vss.CAMERA_SPO2: (0.0, 100.0),
    vss.SIGNAL_QUALITY: (0.0, 1.0),
    vss.DRIVER_HEART_RATE_QUALITY: (0.0, 1.0),
    vss.SEAT_QUALITY: (0.0, 1.0),
    vss.CAMERA_QUALITY: (0.0, 1.0),
}
# heart rates and beat intervals are not bounded here: the cabin's sensors (a seat's
# ballistocardiograph on a rough road) do give nonsense rates and zero intervals, which the
# detectors' quality gates are there to read past


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def implausible(signals: dict[str, Any]) -> list[tuple[str, object]]:
    """(signal, value) of each value in `signals` no sensor gives."""
    out: list[tuple[str, object]] = []
    for name, value in signals.items():
        bounds = RANGES.get(name)
        if bounds is not None and _number(value) and not bounds[0] <= value <= bounds[1]:
            out.append((name, value))
    return out
