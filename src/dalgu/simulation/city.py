"""A small simulated city of Daegu: Smart Data Models entities in normalized NGSI-LD.

Deterministic per seed. Names are terms of `context.jsonld` (served as the demo's @context).
`tick` returns realistic updates for a running simulation.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

DISTRICTS = {
    "Jung-gu": (128.594, 35.869),
    "Dong-gu": (128.636, 35.887),
    "Seo-gu": (128.559, 35.872),
    "Nam-gu": (128.597, 35.846),
    "Buk-gu": (128.583, 35.886),
    "Suseong-gu": (128.631, 35.858),
    "Dalseo-gu": (128.533, 35.830),
    "Dalseong-gun": (128.512, 35.800),
}
TYPES = ("ParkingSpot", "AirQualityObserved", "TrafficFlowObserved", "Device")
Entity = dict[str, Any]


def _prop(value: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **extra}


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
    }


def _near(rng: random.Random, district: str) -> tuple[float, float]:
    lon, lat = DISTRICTS[district]
    return lon + rng.uniform(-0.012, 0.012), lat + rng.uniform(-0.010, 0.010)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def city_entities(count: int = 300, seed: int = 7) -> list[Entity]:
    """`count` entities spread over the districts and the four types."""
    rng = random.Random(seed)
    now = _now()
    districts = list(DISTRICTS)
    out: list[Entity] = []
    for n in range(count):
        district = districts[n % len(districts)]
        kind = TYPES[n % len(TYPES)]
        slug = district.lower()
        lon, lat = _near(rng, district)
        entity: Entity = {
            "id": f"urn:ngsi-ld:{kind}:daegu-{slug}-{n}",
            "type": kind,
            "location": _point(lon, lat),
        }
        if n % 3 == 0:
            entity["scope"] = f"/Daegu/{district}"
        device = f"urn:ngsi-ld:Device:daegu-{slug}-{n - n % len(TYPES) + 3}"
        if kind == "ParkingSpot":
            entity.update(
                status=_prop(rng.choice(["free", "free", "occupied", "closed"]), observedAt=now),
                category=_prop(["onStreet"] if rng.random() < 0.7 else ["offStreet"]),
                refParkingSite={
                    "type": "Relationship",
                    "object": f"urn:ngsi-ld:ParkingSite:daegu-{slug}",
                },
            )
        elif kind == "AirQualityObserved":
            entity.update(
                pm10=_prop(round(rng.uniform(10, 80), 1), unitCode="GQ", observedAt=now),
                pm25=_prop(round(rng.uniform(5, 45), 1), unitCode="GQ", observedAt=now),
                no2=_prop(round(rng.uniform(5, 60), 1), unitCode="GQ", observedAt=now),
                o3=_prop(round(rng.uniform(20, 120), 1), unitCode="GQ", observedAt=now),
                temperature=_prop(round(rng.uniform(-2, 32), 1), unitCode="CEL", observedAt=now),
                relativeHumidity=_prop(round(rng.uniform(0.3, 0.9), 2), observedAt=now),
                dateObserved=_prop(now),
                refDevice={"type": "Relationship", "object": device},
                address=_prop(
                    {"addressLocality": "Daegu", "addressRegion": district, "addressCountry": "KR"}
                ),
            )
        elif kind == "TrafficFlowObserved":
            line = [
                [round(lon, 6), round(lat, 6)],
                [round(lon + 0.004, 6), round(lat + rng.uniform(-0.002, 0.002), 6)],
            ]
            entity.update(
                location={
                    "type": "GeoProperty",
                    "value": {"type": "LineString", "coordinates": line},
                },
                intensity=_prop(rng.randint(20, 900), observedAt=now),
                averageVehicleSpeed=_prop(
                    round(rng.uniform(12, 70), 1), unitCode="KMH", observedAt=now
                ),
                occupancy=_prop(round(rng.uniform(0.05, 0.8), 2), observedAt=now),
                laneId=_prop(rng.randint(1, 4)),
                refDevice={"type": "Relationship", "object": device},
            )
        else:
            entity.update(
                deviceCategory=_prop(["sensor"]),
                controlledProperty=_prop(
                    rng.sample(["pm10", "pm25", "no2", "temperature", "intensity", "occupancy"], 2)
                ),
                batteryLevel=_prop(round(rng.uniform(0.2, 1.0), 2), observedAt=now),
                dateLastValueReported=_prop(now),
                name={
                    "type": "LanguageProperty",
                    "languageMap": {"ko": f"{district} 센서 {n}", "en": f"{district} sensor {n}"},
                },
            )
        out.append(entity)
    return out


def tick(entities: list[Entity], rng: random.Random, share: float = 0.1) -> list[Entity]:
    """Partial entities (id, type and changed attributes) for one step of the simulation."""
    now = _now()
    updates = []
    for entity in entities:
        if rng.random() > share:
            continue
        update: Entity = {"id": entity["id"], "type": entity["type"]}
        if entity["type"] == "ParkingSpot":
            update["status"] = _prop(rng.choice(["free", "occupied"]), observedAt=now)
        elif entity["type"] == "AirQualityObserved":
            old = entity["pm10"]["value"]
            update["pm10"] = _prop(
                round(max(1.0, old + rng.gauss(0, 4)), 1), unitCode="GQ", observedAt=now
            )
        elif entity["type"] == "TrafficFlowObserved":
            update["intensity"] = _prop(rng.randint(20, 900), observedAt=now)
        else:
            old = entity["batteryLevel"]["value"]
            update["batteryLevel"] = _prop(round(max(0.0, old - 0.001), 3), observedAt=now)
        updates.append(update)
    return updates
