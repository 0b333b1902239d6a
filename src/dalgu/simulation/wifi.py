"""Daegu's public Wi-Fi in the simulated city: zones at busy public places and their access
points, as Smart Data Models `WifiPointOfInterest` and `AccessPoint` (the city `@context`
names both). Each step of the simulation the access points report how many clients they
have, by the hour of the day; one of them (`BROKEN`) has stopped reporting, so the Wi-Fi
sweep finds it down and its zone working partially.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any, Final

from dalgu.broker.model import Entity

#: public places with free Wi-Fi: (slug, Korean name, English name, lon, lat, access points)
ZONES: Final = (
    ("dongseongno", "동성로", "Dongseong-ro", 128.5947, 35.8690, 5),
    ("daegu-station", "대구역", "Daegu Station", 128.5961, 35.8758, 4),
    ("seomun-market", "서문시장", "Seomun Market", 128.5810, 35.8690, 4),
    ("suseong-lake", "수성못", "Suseong Lake", 128.6178, 35.8284, 3),
    ("duryu-park", "두류공원", "Duryu Park", 128.5590, 35.8470, 3),
)
SSID: Final = "Public WiFi Free"
BROKEN: Final = "urn:ngsi-ld:AccessPoint:daegu-seomun-market-2"
#: clients an access point has at the busiest hour, on average
PEAK_CLIENTS: Final = 35


def zone_id(slug: str) -> str:
    return f"urn:ngsi-ld:WifiPointOfInterest:daegu-{slug}"


def wifi_entities(seed: int = 7, *, now: datetime) -> list[Entity]:
    """The zones and their access points, each access point with a first report."""
    rng = random.Random(seed)
    out: list[Entity] = []
    for slug, ko, en, lon, lat, count in ZONES:
        out.append(
            {
                "id": zone_id(slug),
                "type": "WifiPointOfInterest",
                "name": {"type": "Property", "value": f"{ko} {en}"},
                "location": _point(lon, lat),
            }
        )
        for n in range(1, count + 1):
            ap_id = f"urn:ngsi-ld:AccessPoint:daegu-{slug}-{n}"
            # the broken unit last reported ten minutes ago, past the sweep's silence limit
            reported = now - timedelta(minutes=10) if ap_id == BROKEN else now
            out.append(
                {
                    "id": ap_id,
                    "type": "AccessPoint",
                    "name": {"type": "Property", "value": f"{en} AP {n}"},
                    "apState": {"type": "Property", "value": "up"},
                    "ssid": {"type": "Property", "value": [SSID]},
                    "clientsConnected": _clients(rng, reported),
                    "refPointOfInterest": {
                        "type": "Relationship",
                        "object": zone_id(slug),
                    },
                    "location": _point(
                        round(lon + rng.uniform(-0.0015, 0.0015), 6),
                        round(lat + rng.uniform(-0.0012, 0.0012), 6),
                    ),
                }
            )
    return out


def wifi_tick(entities: list[Entity], rng: random.Random, *, now: datetime) -> list[Entity]:
    """Fresh client counts of every access point but the broken one."""
    return [
        {"id": e["id"], "type": "AccessPoint", "clientsConnected": _clients(rng, now)}
        for e in entities
        if e["type"] == "AccessPoint" and e["id"] != BROKEN
    ]


def _clients(rng: random.Random, at: datetime) -> dict[str, Any]:
    hour = (at.hour + 9) % 24  # Daegu's hour
    busy = 0.15 if hour < 7 else 1.0 if 11 <= hour <= 21 else 0.5
    count = max(0, round(rng.gauss(PEAK_CLIENTS * busy, 6)))
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"type": "Property", "value": count, "observedAt": stamp}


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}
