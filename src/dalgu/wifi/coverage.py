"""Where the public Wi-Fi reaches: each working access point's circle (its `coverageRadius`, or
the configured default), merged per zone, as a GeoJSON FeatureCollection (RFC 7946).

A circle's ring is the points at its radius in metres from the access point, on every bearing,
on a sphere of the WGS 84 equatorial radius (the same metre as a degree of 111,320 m), so that
it stays a true circle near a pole; away from the poles and the antimeridian it is drawn on the
local tangent plane (east-west degrees shrink by the cosine of the latitude) from one unit
circle, which is the same to well under a metre at Wi-Fi radii, and four times as fast. Every
position is WGS 84 longitude and latitude (RFC 7946, 4): a circle that crosses the antimeridian
is cut there into two parts, one on each side (3.1.9), and one around a pole is a cap bounded
by the pole's latitude, never a ring with longitudes past ±180 or latitudes past ±90.
Coordinates have seven decimals (about a centimetre; RFC 7946, 11.2).

Every zone has a feature: the merged circles of its units that are up, or, when none is up (or
it has none), its own location as a Point (none without one), so that a map shows a dark zone
too; a unit naming a zone that does not exist draws no zone.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import numpy as np
from shapely import orient_polygons, transform
from shapely.affinity import translate
from shapely.geometry import Polygon, box, mapping
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from dalgu.wifi.zones import AccessPoint, Zone

METRES_PER_DEGREE: Final = 111_320.0
#: the sphere's radius in metres: a degree of it is METRES_PER_DEGREE
EARTH_RADIUS: Final = METRES_PER_DEGREE * 180.0 / math.pi
SEGMENTS: Final = 16  # per quarter circle
DECIMALS: Final = 7

#: the bearings of a ring's points, clockwise from north (a ring drawn counterclockwise, as
#: RFC 7946 3.1.6 asks of an exterior ring, once reversed)
_BEARINGS: Final = np.linspace(0.0, 2.0 * math.pi, 4 * SEGMENTS, endpoint=False)
_WORLD: Final = box(-180.0, -90.0, 180.0, 90.0)
_SIN: Final = np.sin(_BEARINGS)
_COS: Final = np.cos(_BEARINGS)
#: the unit circle's ring, counterclockwise, drawn once
_UNIT: Final = np.vstack((np.column_stack((_SIN, _COS))[::-1], [[0.0, 1.0]]))  # closed
#: degrees of latitude from a pole within which circles are drawn on the sphere
_POLAR: Final = 1.0


def _ring(lon: float, lat: float, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """The longitudes (continuous, not wrapped) and latitudes of the points `radius` metres
    from (lon, lat) on every bearing (the destination on a great circle)."""
    # a centre on a pole has no bearings: a hair off it, which no coordinate shows
    phi = math.radians(max(-90.0 + 1e-9, min(90.0 - 1e-9, lat)))
    angle = radius / EARTH_RADIUS
    sin_lat = math.sin(phi) * math.cos(angle) + math.cos(phi) * math.sin(angle) * _COS
    lats = np.arcsin(np.clip(sin_lat, -1.0, 1.0))
    east = np.arctan2(
        _SIN * math.sin(angle) * math.cos(phi), math.cos(angle) - math.sin(phi) * np.sin(lats)
    )
    return lon + np.degrees(np.unwrap(east)), np.degrees(lats)


def _in_the_world(shape: BaseGeometry) -> BaseGeometry:
    """A shape drawn with longitudes past ±180, cut at the antimeridian and each part put
    back on its side of it."""
    parts = [shape.intersection(_WORLD)]
    for shift in (-360.0, 360.0):
        beyond = shape.intersection(translate(_WORLD, xoff=-shift))
        if not beyond.is_empty:
            parts.append(translate(beyond, xoff=shift))
    return unary_union(parts)


def circle(lon: float, lat: float, radius: float) -> BaseGeometry:
    """A circle of `radius` metres around (lon, lat), in WGS 84 degrees: a Polygon, two
    across the antimeridian, or a cap around a pole it holds."""
    angle = math.degrees(radius / EARTH_RADIUS)
    if abs(lat) + angle < 90.0 - _POLAR:
        scale = np.array([angle / math.cos(math.radians(lat)), angle])
        if lon - scale[0] >= -180.0 and lon + scale[0] <= 180.0:
            return Polygon(_UNIT * scale + np.array([lon, lat]))
    lons, lats = _ring(lon, lat, radius)
    if 90.0 - abs(lat) < angle:  # it holds the pole: close the ring over it
        pole = 90.0 if lat > 0 else -90.0
        order = np.argsort(lons)
        lons, lats = lons[order], lats[order]
        first, last = lons[0], lons[0] + 360.0
        coords = [*zip(lons, lats, strict=True), (last, lats[0]), (last, pole), (first, pole)]
        return _in_the_world(Polygon(coords).buffer(0))
    shape = Polygon(np.column_stack((lons[::-1], lats[::-1])))
    if lons.min() >= -180.0 and lons.max() <= 180.0:
        return shape
    return _in_the_world(shape)


def _geometry(shape: BaseGeometry) -> dict[str, Any]:
    """GeoJSON of a Polygon or MultiPolygon, exterior rings counterclockwise (RFC 7946,
    3.1.6), at DECIMALS places."""
    rounded = transform(orient_polygons(shape), lambda xy: np.round(xy, DECIMALS))
    return dict(mapping(rounded))


def coverage(
    zones: Sequence[Zone],
    points: Sequence[AccessPoint],
    now: datetime,
    silence: float,
    languages: Sequence[str] = (),
) -> dict[str, Any]:
    """One feature per zone (the circles of its working access points merged, else its own
    location; its name in the first of `languages` it has, status, clients and load as
    properties), and one Point feature per access point that has a position."""
    known = {z.id: z for z in zones}
    shapes: dict[str, list[BaseGeometry]] = defaultdict(list)
    features: list[dict[str, Any]] = []
    for p in points:
        up = p.up(now, silence)
        if p.position is None:
            continue
        lon, lat = p.position
        if up and p.radius > 0 and p.zone in known:
            shapes[p.zone].append(circle(lon, lat, p.radius))
        features.append(
            {
                "type": "Feature",
                "id": p.id,
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "kind": "accessPoint",
                    "zone": p.zone,
                    "up": up,
                    "apState": p.reported_state,
                    "clientsConnected": p.clients,
                    "coverageRadius": p.radius,
                },
            }
        )
    areas = []
    for zone in zones:
        circles = shapes.get(zone.id)
        if circles:
            geometry: dict[str, Any] | None = _geometry(unary_union(circles))
        elif zone.position is not None:
            geometry = {"type": "Point", "coordinates": list(zone.position)}
        else:
            geometry = None
        areas.append(
            {
                "type": "Feature",
                "id": zone.id,
                "geometry": geometry,
                "properties": {
                    "kind": "coverage",
                    "zone": zone.id,
                    "name": zone.name_in(*languages),
                    "wifiStatus": zone.status,
                    "clientsConnected": zone.clients,
                    "accessPointsUp": zone.up,
                    "accessPointsTotal": zone.total,
                },
            }
        )
    return {"type": "FeatureCollection", "features": areas + features}
