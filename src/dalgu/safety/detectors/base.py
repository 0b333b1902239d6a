"""What a detector is: it reads a vehicle's history each second and may report a finding."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from dalgu.safety.history import History

Severity = Literal["informational", "low", "medium", "high", "critical"]
CALIBRATION = 600.0  # s of driving from which a detector learns the driver's awake baseline


@dataclass(frozen=True, slots=True)
class Quality:
    """The signal-quality gate's verdict for the last seconds."""

    wearable: Literal["ok", "poor", "absent"]
    vehicle: Literal["ok", "gap"]


@dataclass(frozen=True, slots=True)
class Finding:
    """A detector's claim: what, since when, how sure, and on what evidence."""

    type: str  # drowsiness, cardiac, hypoxaemia, incapacitation
    subtype: str
    severity: Severity
    confidence: float  # 0..1
    onset: float  # s, the detector's estimate of when it began
    evidence: dict[str, Any] = field(default_factory=dict)
    # how strong the evidence is, in the detector's own units (drowsiness: the model's log-odds);
    # the alert policy warns again when it grows well beyond what raised the alert
    strength: float | None = None


class Detector(Protocol):
    name: str

    def step(self, history: History, quality: Quality) -> Finding | None:
        """Called once per closed second, in time order."""
