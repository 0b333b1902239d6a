"""A city of five Smart Data Models types (the outside tester's generator, session 39).

Entity `i` is of a type chosen by `i % 10`: 30% `WeatherObserved`, 30% `ParkingSpot`, 20%
`Streetlight`, 10% `AirQualityObserved`, 10% `OffStreetParking` (a small square polygon);
every other one is a point in Daegu's box. Ids are `urn:ngsi-ld:<Type>:<letter><7 digits>`, so
the types' ids interleave in the write order and each type's ids are one band of the id order.
"""

from __future__ import annotations

import random
from typing import Any

DISTRICTS = ["Jung", "Dong", "Seo", "Nam", "Buk", "Suseong", "Dalseo", "Dalseong"]


def _point(r: random.Random) -> dict[str, Any]:
    return {
        "type": "Point",
        "coordinates": [round(128.45 + r.random() * 0.25, 6), round(35.75 + r.random() * 0.2, 6)],
    }


def _square(r: random.Random) -> dict[str, Any]:
    x = 128.45 + r.random() * 0.25
    y = 35.75 + r.random() * 0.2
    d = 0.0005 + r.random() * 0.002
    return {
        "type": "Polygon",
        "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]],
    }


def _time(r: random.Random) -> str:
    month, day, hour, minute = (
        r.randint(1, 11),
        r.randint(1, 28),
        r.randint(0, 23),
        r.randint(0, 59),
    )
    return f"2026-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00Z"


def _p(value: Any, **members: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **members}


def _rel(target: str) -> dict[str, Any]:
    return {"type": "Relationship", "object": target}


def entity(i: int) -> dict[str, Any]:
    """The `i`-th entity of the city."""
    r = random.Random(i)
    k = i % 10
    scope = "/Daegu/" + r.choice(DISTRICTS)
    if k in (0, 1, 2):
        return {
            "id": f"urn:ngsi-ld:WeatherObserved:w{i:07d}",
            "type": "WeatherObserved",
            "temperature": _p(round(r.uniform(-10, 38), 1), unitCode="CEL", observedAt=_time(r)),
            "relativeHumidity": _p(round(r.random(), 2)),
            "atmosphericPressure": _p(round(r.uniform(990, 1030), 1), unitCode="A97"),
            "dateObserved": _p({"@type": "DateTime", "@value": _time(r)}),
            "address": _p(
                {
                    "addressLocality": r.choice(DISTRICTS) + "-gu",
                    "streetAddress": f"{r.randint(1, 300)} Dongseong-ro",
                    "addressRegion": "Daegu",
                }
            ),
            "name": {
                "type": "LanguageProperty",
                "languageMap": {"ko": f"관측소 {i}", "en": f"Station {i}"},
            },
            "refDevice": _rel(f"urn:ngsi-ld:Device:d{i % 5000}"),
            "location": {"type": "GeoProperty", "value": _point(r)},
            "scope": scope,
        }
    if k in (3, 4, 5):
        return {
            "id": f"urn:ngsi-ld:ParkingSpot:p{i:07d}",
            "type": "ParkingSpot",
            "status": _p(r.choice(["free", "occupied", "closed", "unknown"]), observedAt=_time(r)),
            "category": _p(
                r.sample(
                    [
                        "onStreet",
                        "offStreet",
                        "forDisabled",
                        "forElectricCharging",
                        "free",
                        "feeCharged",
                    ],
                    2,
                )
            ),
            "width": _p(round(r.uniform(2, 3.5), 2)),
            "length": _p(round(r.uniform(4, 6), 2)),
            "refParkingSite": _rel(f"urn:ngsi-ld:OffStreetParking:o{(i // 10) % 10000:07d}"),
            "location": {"type": "GeoProperty", "value": _point(r)},
            "scope": scope,
        }
    if k in (6, 7):
        return {
            "id": f"urn:ngsi-ld:Streetlight:s{i:07d}",
            "type": "Streetlight",
            "powerState": _p(r.choice(["on", "off", "low", "bootingUp"])),
            "illuminanceLevel": _p(
                round(r.random(), 2),
                observedAt=_time(r),
                providedBy=_rel(f"urn:ngsi-ld:Device:d{i % 5000}"),
            ),
            "lanternHeight": _p(r.randint(6, 14)),
            "dateLastSwitchingOn": _p({"@type": "DateTime", "@value": _time(r)}),
            "location": {"type": "GeoProperty", "value": _point(r)},
            "scope": scope,
        }
    if k == 8:
        return {
            "id": f"urn:ngsi-ld:AirQualityObserved:a{i:07d}",
            "type": "AirQualityObserved",
            "NO2": [
                _p(
                    round(r.uniform(0, 80), 1),
                    unitCode="GQ",
                    datasetId="urn:ngsi-ld:Dataset:sensorA",
                ),
                _p(
                    round(r.uniform(0, 80), 1),
                    unitCode="GQ",
                    datasetId="urn:ngsi-ld:Dataset:sensorB",
                ),
            ],
            "PM10": _p(r.randint(0, 200), unitCode="GQ", observedAt=_time(r)),
            "PM2_5": _p(r.randint(0, 120), unitCode="GQ"),
            "airQualityIndex": _p(r.randint(0, 300)),
            "description": _p(
                "Air quality station "
                + r.choice(["north", "south", "east", "west", "centre"])
                + f" {i}"
            ),
            "location": {"type": "GeoProperty", "value": _point(r)},
            "scope": [scope, "/Env/Air"],
        }
    return {
        "id": f"urn:ngsi-ld:OffStreetParking:o{i // 10:07d}",
        "type": "OffStreetParking",
        "availableSpotNumber": _p(r.randint(0, 500), observedAt=_time(r)),
        "totalSpotNumber": _p(500),
        "allowedVehicleType": _p(r.sample(["car", "bus", "motorcycle", "bicycle", "truck"], 2)),
        "name": _p(f"Parking {i // 10}"),
        "location": {"type": "GeoProperty", "value": _square(r)},
        "scope": scope,
    }
