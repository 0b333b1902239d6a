"""A small simulated city of Daegu: Smart Data Models entities in normalized NGSI-LD.

Entities are in compact form without an @context: every term is defined by `context.jsonld`
beside this module, which maps it to its Smart Data Models IRI, to be used as
`[city context, NGSI-LD core context]` (Dalgu hosts it for the demo). The published Smart Data
Models context is a network fetch, which an offline broker cannot make. Its IRIs are those of
the per-domain Smart Data Models contexts (`dataModel.Parking`, `.Environment`,
`.Transportation`, `.Device`); `refDevice`, which each domain defines under its own IRI, takes
the Device domain's, since one flat context can give a term only one.

`city_entities` is deterministic: the same count, seed and `now` give the same city (`now`
defaults to the current second, so only the timestamps then differ between runs). Units are
UN/CEFACT common codes, as NGSI-LD's `unitCode` asks: GQ µg/m³, CEL °C, KMH km/h.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

Entity = dict[str, Any]

#: West, south, east, north (WGS 84) of the simulated area; every geometry lies inside.
DAEGU_BBOX = (128.50, 35.80, 128.70, 35.93)

#: District → centre (lon, lat): the ward offices, with Dalseong-gun's pulled into the box.
DISTRICTS: dict[str, tuple[float, float]] = {
    "Jung-gu": (128.606, 35.869),
    "Dong-gu": (128.636, 35.887),
    "Seo-gu": (128.559, 35.872),
    "Nam-gu": (128.598, 35.846),
    "Buk-gu": (128.583, 35.886),
    "Suseong-gu": (128.631, 35.858),
    "Dalseo-gu": (128.533, 35.830),
    "Dalseong-gun": (128.516, 35.814),
}
_HANGUL = {
    "Jung-gu": "중구",
    "Dong-gu": "동구",
    "Seo-gu": "서구",
    "Nam-gu": "남구",
    "Buk-gu": "북구",
    "Suseong-gu": "수성구",
    "Dalseo-gu": "달서구",
    "Dalseong-gun": "달성군",
}
_ROADS = {
    "Jung-gu": ("Gukchaebosang-ro", "Jungang-daero", "Dalgubeol-daero", "Dongdeok-ro"),
    "Dong-gu": ("Palgong-ro", "Hwarang-ro", "Dongdaegu-ro", "Ayang-ro"),
    "Seo-gu": ("Dalgubeol-daero", "Seodaegu-ro", "Gukchaebosang-ro"),
    "Nam-gu": ("Jungang-daero", "Hyeonchung-ro", "Apsansunhwan-ro"),
    "Buk-gu": ("Sincheon-daero", "Hoguk-ro", "Daehak-ro"),
    "Suseong-gu": ("Dalgubeol-daero", "Dongdaegu-ro", "Suseong-ro", "Deurangil"),
    "Dalseo-gu": ("Dalgubeol-daero", "Wolbae-ro", "Duryugongwon-ro", "Seongseo-ro"),
    "Dalseong-gun": ("Biseul-ro", "Hyeonpung-ro"),
}
_KST = timezone(timedelta(hours=9))
# Daegu's monthly mean air temperature (°C) and a PM10 factor (spring dust, winter heating).
_MEAN_TEMPERATURE = (0.6, 3.2, 8.6, 14.6, 19.9, 23.9, 26.7, 27.2, 22.6, 16.6, 9.5, 2.6)
_PM10_FACTOR = (1.2, 1.3, 1.45, 1.3, 1.0, 0.8, 0.6, 0.6, 0.7, 0.8, 1.0, 1.1)


def city_entities(count: int = 300, seed: int = 7, *, now: datetime | None = None) -> list[Entity]:
    """`count` entities: half parking spots, the rest air-quality and traffic stations.

    Each station is an observation entity plus the `Device` it names in `refDevice`. With 8 or
    more entities all four types are present.
    """
    rng = random.Random(seed)
    at = _instant(now)
    pairs = count // 4
    air = round(pairs * 0.4) if pairs >= 2 else 0
    units = ["air"] * air + ["traffic"] * (pairs - air) + ["parking"] * (count - 2 * pairs)
    rng.shuffle(units)
    seen = dict.fromkeys(("air", "traffic", "parking"), 0)
    out: list[Entity] = []
    for unit in units:
        district = list(DISTRICTS)[seen[unit] % len(DISTRICTS)]
        in_district = seen[unit] // len(DISTRICTS)
        seen[unit] += 1
        n = len(out)
        observed = at - timedelta(seconds=rng.randint(0, 240))
        if unit == "parking":
            made = [_parking_spot(rng, district, n, in_district // 12, observed)]
        else:
            make = _air_quality if unit == "air" else _traffic_flow
            station = make(rng, district, n, _id("Device", district, n + 1), observed)
            made = [station, _device(rng, district, n + 1, unit, station, observed)]
        for entity in made:
            if len(out) % 3 == 0:
                entity["scope"] = f"/Daegu/{district}"
            out.append(entity)
    return out


def tick(
    entities: list[Entity], rng: random.Random, share: float = 0.1, *, now: datetime | None = None
) -> list[Entity]:
    """Partial entities (id, type, changed attributes) for one step of a running simulation.

    About `share` of the sensors report: parking spots whose status changed, stations with fresh
    readings, and the devices behind them. The changes are also applied to `entities`, so the
    next step continues from them.
    """
    at = _instant(now)
    stamp = _iso(at)
    hour = _kst_hour(at)
    by_id = {e["id"]: e for e in entities}
    updates: dict[str, Entity] = {}
    for entity in entities:
        if entity["type"] == "Device" or rng.random() >= share:
            continue
        changed = _readings(entity, rng, at, hour)
        if not changed:
            continue
        updates[entity["id"]] = {"id": entity["id"], "type": entity["type"], **changed}
        device = by_id.get(entity.get("refDevice", {}).get("object", ""))
        if device is not None:
            battery = device["batteryLevel"]["value"] - rng.uniform(0.0001, 0.0006)
            updates[device["id"]] = {
                "id": device["id"],
                "type": "Device",
                "batteryLevel": _prop(round(1.0 if battery < 0.05 else battery, 4), stamp),
                "dateLastValueReported": _prop(_datetime(stamp)),
            }
    for update in updates.values():
        by_id[update["id"]].update({k: dict(v) for k, v in update.items() if k not in _CORE})
    return list(updates.values())


_CORE = ("id", "type")


def _readings(entity: Entity, rng: random.Random, at: datetime, hour: float) -> Entity:
    stamp = _iso(at)
    if entity["type"] == "ParkingSpot":
        status = _parking_status(rng, hour, entity["status"]["value"])
        return {"status": _prop(status, stamp)} if status != entity["status"]["value"] else {}
    if entity["type"] == "AirQualityObserved":
        level = _air_level(at, hour)
        old = {k: entity[k]["value"] for k in ("pm10", "pm25", "no2", "o3", "temperature")}
        pm10 = _toward(rng, old["pm10"], level["pm10"], 3.0, 1.0)
        values = {
            "pm10": pm10,
            "pm25": min(pm10, _toward(rng, old["pm25"], level["pm25"], 2.0, 0.5)),
            "no2": _toward(rng, old["no2"], level["no2"], 3.0, 1.0),
            "o3": _toward(rng, old["o3"], level["o3"], 4.0, 1.0),
        }
        readings = {k: _prop(v, stamp, "GQ") for k, v in values.items()}
        temperature = _toward(rng, old["temperature"], level["temperature"], 0.3, -30.0)
        readings["temperature"] = _prop(temperature, stamp, "CEL")
        readings["relativeHumidity"] = _prop(_humidity(rng, temperature), stamp)
        readings["dateObserved"] = _prop(_datetime(stamp))
        return readings
    if entity["type"] == "TrafficFlowObserved":
        return _traffic_readings(rng, hour, at, entity["laneId"]["value"])
    return {}


def _parking_spot(
    rng: random.Random, district: str, n: int, site_number: int, observed: datetime
) -> Entity:
    on_street = rng.random() < 0.7
    site = "OnStreetParking" if on_street else "OffStreetParking"
    lon, lat = _near(rng, district)
    return {
        "id": _id("ParkingSpot", district, n),
        "type": "ParkingSpot",
        "status": _prop(_parking_status(rng, _kst_hour(observed), None), _iso(observed)),
        "category": _prop(["onStreet" if on_street else "offStreet"]),
        "refParkingSite": _rel(_id(site, district, site_number)),
        "location": _geo("Point", [lon, lat]),
    }


def _air_quality(
    rng: random.Random, district: str, n: int, device: str, observed: datetime
) -> Entity:
    lon, lat = _near(rng, district)
    stamp = _iso(observed)
    level = _air_level(observed, _kst_hour(observed))
    pm10 = max(1.0, round(level["pm10"] * rng.uniform(0.7, 1.3), 1))
    temperature = round(level["temperature"] + rng.gauss(0, 0.8), 1)
    return {
        "id": _id("AirQualityObserved", district, n),
        "type": "AirQualityObserved",
        "dateObserved": _prop(_datetime(stamp)),
        "pm10": _prop(pm10, stamp, "GQ"),
        "pm25": _prop(round(pm10 * rng.uniform(0.45, 0.7), 1), stamp, "GQ"),
        "no2": _prop(round(level["no2"] * rng.uniform(0.7, 1.3), 1), stamp, "GQ"),
        "o3": _prop(round(level["o3"] * rng.uniform(0.7, 1.3), 1), stamp, "GQ"),
        "temperature": _prop(temperature, stamp, "CEL"),
        "relativeHumidity": _prop(_humidity(rng, temperature), stamp),
        "address": _prop(_address(rng, district)),
        "refDevice": _rel(device),
        "location": _geo("Point", [lon, lat]),
    }


def _traffic_flow(
    rng: random.Random, district: str, n: int, device: str, observed: datetime
) -> Entity:
    lon, lat = _near(rng, district)
    heading = rng.uniform(0, math.pi)
    line = [[lon, lat]]
    for _ in range(rng.randint(2, 3)):  # a few 150-250 m segments with gentle bends
        heading += rng.uniform(-0.3, 0.3)
        step = rng.uniform(0.0015, 0.0025)
        lon, lat = _clamp(lon + step * math.cos(heading), lat + step * math.sin(heading))
        line.append([lon, lat])
    lane = rng.randint(1, 3)
    address = _address(rng, district)
    address["streetAddress"] = address["streetAddress"].rsplit(" ", 1)[0]
    return {
        "id": _id("TrafficFlowObserved", district, n),
        "type": "TrafficFlowObserved",
        "laneId": _prop(lane),
        "laneDirection": _prop(rng.choice(["forward", "backward"])),
        **_traffic_readings(rng, _kst_hour(observed), observed, lane),
        "address": _prop(address),
        "refDevice": _rel(device),
        "location": _geo("LineString", line),
    }


def _traffic_readings(rng: random.Random, hour: float, at: datetime, lane: int) -> Entity:
    stamp = _iso(at)
    load = min(1.0, max(0.02, _traffic_level(hour) * rng.uniform(0.8, 1.2) * (1.1 - 0.1 * lane)))
    occupancy = round(min(0.95, load * 0.8 + rng.uniform(0, 0.05)), 2)
    return {
        "dateObserved": _prop(_datetime(stamp)),
        "dateObservedFrom": _prop(_datetime(_iso(at - timedelta(minutes=5)))),
        "dateObservedTo": _prop(_datetime(stamp)),
        "intensity": _prop(max(0, round(160 * load + rng.gauss(0, 6))), stamp),
        "averageVehicleSpeed": _prop(
            round(max(5.0, 62 * (1 - 0.75 * occupancy) + rng.gauss(0, 3)), 1), stamp, "KMH"
        ),
        "occupancy": _prop(occupancy, stamp),
        "congested": _prop(occupancy > 0.6, stamp),
    }


def _device(
    rng: random.Random, district: str, n: int, unit: str, station: Entity, observed: datetime
) -> Entity:
    air = unit == "air"
    ko, en = (
        ("대기질 측정기", "air quality monitor") if air else ("교통량 검지기", "traffic counter")
    )
    position = station["location"]["value"]["coordinates"]
    return {
        "id": _id("Device", district, n),
        "type": "Device",
        "name": {
            "type": "LanguageProperty",
            "languageMap": {"ko": f"{_HANGUL[district]} {ko} {n}", "en": f"{district} {en} {n}"},
        },
        "deviceCategory": _prop(["sensor"]),
        "controlledProperty": _prop(
            ["airPollution", "temperature", "humidity"] if air else ["trafficFlow", "occupancy"]
        ),
        "deviceState": _prop("ok"),
        "batteryLevel": _prop(round(rng.uniform(0.3, 1.0), 4), _iso(observed)),
        "dateLastValueReported": _prop(_datetime(_iso(observed))),
        "location": _geo("Point", position if air else position[0]),
    }


def _parking_status(rng: random.Random, hour: float, current: str | None) -> str:
    if current == "closed":
        return "closed" if rng.random() < 0.9 else "free"
    if rng.random() < 0.01:
        return "closed"
    busy = 0.25 + 0.6 * min(1.0, _traffic_level(hour) / 0.7)
    return "occupied" if rng.random() < busy else "free"


def _air_level(at: datetime, hour: float) -> dict[str, float]:
    """Typical readings for the month and hour: the centre the simulation drifts around."""
    month = at.astimezone(_KST).month - 1
    daylight = math.sin(math.pi * (hour - 6) / 12) if 6 <= hour <= 18 else 0.0
    rush = _traffic_level(hour)
    return {
        "pm10": 36 * _PM10_FACTOR[month] * (0.8 + 0.4 * rush),
        "pm25": 19 * _PM10_FACTOR[month] * (0.8 + 0.4 * rush),
        "no2": 18 + 30 * rush,
        "o3": 25 + 55 * daylight * (1.3 if 4 <= month <= 8 else 0.8),
        "temperature": _MEAN_TEMPERATURE[month] + 4.5 * math.sin(2 * math.pi * (hour - 9) / 24),
    }


def _traffic_level(hour: float) -> float:
    """Share of road capacity in use at an hour of the day (KST): two rush hours, quiet nights."""
    morning = 0.65 * math.exp(-(((hour - 8.0) / 1.2) ** 2))
    evening = 0.75 * math.exp(-(((hour - 18.5) / 1.6) ** 2))
    day = 0.35 if 7 <= hour <= 21 else 0.08
    return min(1.0, day + morning + evening)


def _toward(rng: random.Random, old: float, centre: float, noise: float, floor: float) -> float:
    return round(max(floor, old + 0.2 * (centre - old) + rng.gauss(0, noise)), 1)


def _humidity(rng: random.Random, temperature: float) -> float:
    return round(min(0.98, max(0.2, 0.85 - 0.012 * temperature + rng.uniform(-0.1, 0.1))), 2)


def _address(rng: random.Random, district: str) -> dict[str, str]:
    road = rng.choice(_ROADS[district])
    return {
        "streetAddress": f"{road} {rng.randint(1, 2400)}",
        "district": district,
        "addressLocality": "Daegu",
        "addressCountry": "KR",
    }


def _id(kind: str, district: str, n: int) -> str:
    return f"urn:ngsi-ld:{kind}:daegu-{district.lower()}-{n}"


def _near(rng: random.Random, district: str) -> tuple[float, float]:
    lon, lat = DISTRICTS[district]
    return _clamp(lon + rng.uniform(-0.014, 0.014), lat + rng.uniform(-0.011, 0.011))


def _clamp(lon: float, lat: float) -> tuple[float, float]:
    west, south, east, north = DAEGU_BBOX
    margin = 0.002
    return (
        round(min(east - margin, max(west + margin, lon)), 6),
        round(min(north - margin, max(south + margin, lat)), 6),
    )


def _prop(value: Any, observed_at: str | None = None, unit: str | None = None) -> dict[str, Any]:
    attribute: dict[str, Any] = {"type": "Property", "value": value}
    if unit is not None:
        attribute["unitCode"] = unit
    if observed_at is not None:
        attribute["observedAt"] = observed_at
    return attribute


def _rel(target: str) -> dict[str, Any]:
    return {"type": "Relationship", "object": target}


def _geo(kind: str, coordinates: list[Any]) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": kind, "coordinates": coordinates}}


def _datetime(stamp: str) -> dict[str, str]:
    return {"@type": "DateTime", "@value": stamp}


def _instant(now: datetime | None) -> datetime:
    at = datetime.now(UTC) if now is None else now.astimezone(UTC)
    return at.replace(microsecond=0)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _kst_hour(at: datetime) -> float:
    local = at.astimezone(_KST)
    return local.hour + local.minute / 60
