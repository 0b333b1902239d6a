"""The signal-quality gate: a wearable that slipped off or a silent telematics unit is not a
collapse. It says, for the last seconds, whether each source can be believed."""

from __future__ import annotations

import statistics
from typing import Literal

from dalgu.safety.detectors.base import Quality
from dalgu.safety.history import LEAST, History

ABSENT_AFTER = 3.0  # s without a wearable message
GOOD = 0.5  # the wearable's quality index from which its beats and SpO2 are believed


class SignalQualityGate:
    name = "signal-quality"

    def assess(self, history: History) -> Quality:
        now = history.now
        recent = history.last(3)
        vehicle: Literal["ok", "gap"] = (
            "ok"
            if recent and recent[-1].vehicle_samples >= max(LEAST, 0.5 * history.car_rate)
            else "gap"
        )
        heard = [s for s in recent if s.wearable]
        if (
            history.last_wearable is None
            or now - history.last_wearable > ABSENT_AFTER
            or not heard
            or heard[-1].worn is False
        ):
            return Quality("absent", vehicle)
        qualities = [s.quality for s in heard if s.quality is not None]
        if not qualities or statistics.median(qualities) < GOOD:
            return Quality("poor", vehicle)
        return Quality("ok", vehicle)
