"""Vital signs from wearables as FHIR vital-signs Observations (LOINC codes, UCUM units),
summarized over windows: one Observation per vital sign, device and window, not one per
sample (pure: samples in, Observations out).

The value of the Observation is the mean of the window's samples; their minimum, maximum and
count are in the extension `urn:dalgu:fhir:StructureDefinition/sample-statistics` (sub-
extensions `min`, `max`, `count`). Extensions, not components: a component is a different
measured thing (as systolic and diastolic are in the blood pressure panel, whose components
carry the same extension each). `effectiveDateTime` is the time of the sample when the window
holds one, else `effectivePeriod` runs from its first to its last sample.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from functools import lru_cache

from dalgu.fhir.model import Resource, instant

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
STATISTICS = "urn:dalgu:fhir:StructureDefinition/sample-statistics"
BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")


@dataclass(frozen=True, slots=True)
class VitalSign:
    code: str
    display: str
    unit: str  # UCUM
    unit_display: str
    panel: str | None = None  # the panel this is a component of (blood pressure)


VITALS: dict[str, VitalSign] = {}
for names, sign in (
    (
        ("heartRate", "heart_rate", "hr", "pulse"),
        VitalSign("8867-4", "Heart rate", "/min", "beats/minute"),
    ),
    (
        ("oxygenSaturation", "spo2", "SpO2", "oxygen_saturation"),
        VitalSign("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%", "%"),
    ),
    (
        ("respiratoryRate", "respiration", "rr", "respiratory_rate"),
        VitalSign("9279-1", "Respiratory rate", "/min", "breaths/minute"),
    ),
    (
        ("bodyTemperature", "temperature", "temp", "body_temperature"),
        VitalSign("8310-5", "Body temperature", "Cel", "C"),
    ),
    (
        ("systolicBloodPressure", "systolic", "bpSystolic", "sbp"),
        VitalSign("8480-6", "Systolic blood pressure", "mm[Hg]", "mmHg", BP_PANEL[0]),
    ),
    (
        ("diastolicBloodPressure", "diastolic", "bpDiastolic", "dbp"),
        VitalSign("8462-4", "Diastolic blood pressure", "mm[Hg]", "mmHg", BP_PANEL[0]),
    ),
):
    for name in names:
        VITALS[name] = sign


@lru_cache(maxsize=4096)
def vital_of(attribute: str) -> VitalSign | None:
    """The vital sign an NGSI-LD attribute (IRI or short name) carries, if any (asked for
    every attribute of every entity change, so remembered)."""
    local = attribute.rsplit("/", 1)[-1].rsplit("#", 1)[-1]
    return VITALS.get(local)


@dataclass(slots=True)
class Stats:
    first: float
    last: float
    low: float = math.inf
    high: float = -math.inf
    total: float = 0.0
    count: int = 0

    def add(self, at: float, value: float) -> None:
        self.first, self.last = min(self.first, at), max(self.last, at)
        self.low, self.high = min(self.low, value), max(self.high, value)
        self.total += value
        self.count += 1

    @property
    def mean(self) -> float:
        return self.total / self.count


@dataclass(slots=True)
class Window:
    """One device's samples of one Observation (a vital sign, or the BP panel) in a window."""

    source: str  # the wearable's NGSI-LD entity id
    code: str  # LOINC of the Observation
    start: float
    stats: dict[str, Stats] = field(default_factory=dict)  # by vital sign code
    tenant: str = ""  # the NGSI-LD tenant of the entity ("": the default)


class Downsampler:
    """Gathers samples into windows of `seconds` aligned on the epoch; a window closes when
    a later sample arrives or when `due` finds it past its end."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.open: dict[tuple[str, str, str], Window] = {}

    def add(
        self, source: str, sign: VitalSign, at: float, value: float, tenant: str = ""
    ) -> list[Window]:
        code = sign.panel or sign.code
        start = math.floor(at / self.seconds) * self.seconds
        key = (tenant, source, code)
        closed = []
        window = self.open.get(key)
        if window is not None and start > window.start:
            closed.append(self.open.pop(key))
            window = None
        if window is None:
            window = self.open.setdefault(key, Window(source, code, start, tenant=tenant))
        if start < window.start:
            return closed  # a sample late for a window already written: dropped
        window.stats.setdefault(sign.code, Stats(at, at)).add(at, value)
        return closed

    def due(self, now: float) -> list[Window]:
        """Windows whose end has passed (with a grace of a tenth of a window)."""
        grace = self.seconds * 1.1
        keys = [k for k, w in self.open.items() if w.start + grace <= now]
        return [self.open.pop(k) for k in keys]

    def drain(self) -> list[Window]:
        windows, self.open = list(self.open.values()), {}
        return windows


def _quantity(stats: Stats, sign: VitalSign) -> dict[str, object]:
    return {
        "value": round(stats.mean, 2),
        "unit": sign.unit_display,
        "system": UCUM,
        "code": sign.unit,
    }


def _statistics(stats: Stats, sign: VitalSign) -> dict[str, object]:
    def part(name: str, value: float) -> dict[str, object]:
        quantity = {
            "value": round(value, 2),
            "unit": sign.unit_display,
            "system": UCUM,
            "code": sign.unit,
        }
        return {"url": name, "valueQuantity": quantity}

    return {
        "url": STATISTICS,
        "extension": [
            part("min", stats.low),
            part("max", stats.high),
            {"url": "count", "valueInteger": stats.count},
        ],
    }


def _coding(code: str, display: str) -> dict[str, object]:
    return {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display}


def observation_id(window: Window) -> str:
    """The same window always gets the same id: rewriting it after a restart is idempotent."""
    key = f"{window.source}|{window.code}|{window.start}"
    if window.tenant:  # the default tenant's keep the ids they had before tenants counted
        key = f"{window.tenant}|{key}"
    return "vs-" + hashlib.sha256(key.encode()).hexdigest()[:40]


def window_observation(window: Window, patient: str, device: str) -> Resource:
    """The vital-signs Observation of a closed window (`device` a Device id)."""
    first = min(s.first for s in window.stats.values())
    last = max(s.last for s in window.stats.values())
    obs: Resource = {
        "resourceType": "Observation",
        "id": observation_id(window),
        "status": "final",
        "category": [
            {"coding": [{"system": CATEGORY, "code": "vital-signs", "display": "Vital Signs"}]}
        ],
        "subject": {"reference": f"Patient/{patient}"},
        "device": {"reference": f"Device/{device}"},
    }
    if first == last:
        obs["effectiveDateTime"] = instant_of(first)
    else:
        obs["effectivePeriod"] = {"start": instant_of(first), "end": instant_of(last)}
    signs = {s.code: s for s in VITALS.values()}
    if window.code == BP_PANEL[0]:
        obs["code"] = _coding(*BP_PANEL)
        obs["component"] = [
            {
                "code": _coding(code, signs[code].display),
                "valueQuantity": _quantity(stats, signs[code]),
                "extension": [_statistics(stats, signs[code])],
            }
            for code, stats in sorted(window.stats.items(), key=lambda kv: kv[0] != "8480-6")
        ]
    else:
        sign = signs[window.code]
        stats = window.stats[window.code]
        obs["code"] = _coding(sign.code, sign.display)
        obs["valueQuantity"] = _quantity(stats, sign)
        obs["extension"] = [_statistics(stats, sign)]
    return obs


def instant_of(epoch: float) -> str:
    from datetime import UTC, datetime

    return instant(datetime.fromtimestamp(epoch, UTC))
