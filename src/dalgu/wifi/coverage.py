"""Where the public Wi-Fi reaches: each working access point's circle (its `coverageRadius`, or
the configured default), merged per zone, as a GeoJSON FeatureCollection (RFC 7946).

Circles are drawn in metres on a local tangent plane around each access point (east-west
degrees shrink by the cosine of the latitude), which is exact to well under a metre at the
radii of street Wi-Fi (tens to a few hundred metres), then merged with shapely.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import numpy as np
from shapely.geometry import Point, Polygon, mapping
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from dalgu.wifi.zones import AccessPoint, Zone

METRES_PER_DEGREE: Final = 111_320.0
SEGMENTS: Final = 16  # per quarter circle


#: the unit circle's ring, drawn once
_UNIT: Final = np.asarray(Point(0.0, 0.0).buffer(1.0, quad_segs=SEGMENTS).exterior.coords)


def circle(lon: float, lat: float, radius: float) -> BaseGeometry:
    """A circle of `radius` metres around (lon, lat), in degrees."""
    shrink = max(math.cos(math.radians(lat)), 1e-6)
    scale = np.array([radius / (METRES_PER_DEGREE * shrink), radius / METRES_PER_DEGREE])
    return Polygon(_UNIT * scale + np.array([lon, lat]))


def coverage(
    zones: Sequence[Zone],
    points: Sequence[AccessPoint],
    now: datetime,
    silence: float,
    languages: Sequence[str] = (),
) -> dict[str, Any]:
    """One feature per zone with working access points (their circles merged; the zone's
    name in the first of `languages` it has, status, clients and load as properties), and one
    Point feature per access point."""
    shapes: dict[str | None, list[BaseGeometry]] = defaultdict(list)
    features: list[dict[str, Any]] = []
    for p in points:
        up = p.up(now, silence)
        if p.position is None:
            continue
        lon, lat = p.position
        if up and p.radius > 0:
            shapes[p.zone].append(circle(lon, lat, p.radius))
        features.append(
            {
                "type": "Feature",
                "id": p.id,
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "kind": "accessPoint",
                    "zone": p.zone,
                    "apState": "up" if up else "down",
                    "clientsConnected": p.clients,
                    "coverageRadius": p.radius,
                },
            }
        )
    known = {z.id: z for z in zones}
    areas = []
    for zone_id, circles in shapes.items():
        zone = known.get(zone_id) if zone_id else None
        areas.append(
            {
                "type": "Feature",
                "id": zone_id,
                "geometry": mapping(unary_union(circles)),
                "properties": {
                    "kind": "coverage",
                    "zone": zone_id,
                    "name": zone.name_in(*languages) if zone else None,
                    "wifiStatus": zone.status if zone else None,
                    "clientsConnected": zone.clients if zone else None,
                    "accessPointsUp": zone.up if zone else None,
                    "accessPointsTotal": zone.total if zone else None,
                },
            }
        )
    return {"type": "FeatureCollection", "features": areas + features}
