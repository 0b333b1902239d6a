"""The benchmark's data: ~450-byte `Vehicle` entities on a grid over Daegu, and queries on them.

Vehicle `i` stands on a 500 × 200 grid spanning the city's box (cells of ~36 m × 72 m), drives
at `i % 120` km/h, and carries a brand, a vehicle type and a plate, as a fleet feed would.
`bench/wrk/create.lua` writes the same shape.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

import orjson

WEST, SOUTH = 128.50, 35.80
COLUMNS, ROWS = 500, 200
STEP_LON, STEP_LAT = 0.0004, 0.00065
BRANDS = ("Hyundai", "Kia", "Genesis", "KG Mobility", "Renault Korea")
KINDS = ("car", "car", "car", "bus", "lorry", "van")
OBSERVED_AT = "2026-11-25T08:00:00Z"


def vehicle_id(i: int) -> str:
    return f"urn:ngsi-ld:Vehicle:daegu-bench-{i:06d}"


def vehicle(i: int) -> dict[str, Any]:
    lon = WEST + (i % COLUMNS) * STEP_LON
    lat = SOUTH + (i // COLUMNS % ROWS) * STEP_LAT
    return {
        "id": vehicle_id(i),
        "type": "Vehicle",
        "vehicleType": {"type": "Property", "value": KINDS[i % len(KINDS)]},
        "brandName": {"type": "Property", "value": BRANDS[i % len(BRANDS)]},
        "licensePlateIdentifier": {"type": "Property", "value": f"{10 + i % 89}가{i % 10000:04d}"},
        "speed": {
            "type": "Property",
            "value": i % 120,
            "unitCode": "KMH",
            "observedAt": OBSERVED_AT,
        },
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
            "observedAt": OBSERVED_AT,
        },
    }


def batches(count: int, size: int = 1000) -> list[bytes]:
    """Pre-encoded upsert bodies, so the load measures the server and not the encoder."""
    return [
        orjson.dumps([vehicle(i) for i in range(start, min(count, start + size))])
        for start in range(0, count, size)
    ]


def speed_query(count: int) -> str:
    """A `q` on a band of speeds that at least 150 of `count` vehicles match."""
    width = max(2, math.ceil(150 * 120 / max(count, 1)))
    return f"speed>=60;speed<{60 + width}"


def near_query(count: int, max_distance: int = 400) -> str:
    """A `near` geo-query around the centre of the occupied part of the grid (~190 in reach)."""
    rows = min(ROWS, math.ceil(count / COLUMNS))
    lon = WEST + COLUMNS / 2 * STEP_LON
    lat = SOUTH + rows / 2 * STEP_LAT
    return urlencode(
        {
            "georel": f"near;maxDistance=={max_distance}",
            "geometry": "Point",
            "coordinates": f"[{lon:.5f},{lat:.5f}]",
        }
    )
