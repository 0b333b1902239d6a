"""The zones a reader asks for: by id, or near a place ("free Wi-Fi near me"), so that a
phone does not download every zone and unit of the city to show the few around it.

A zone is near a place when its location, or one of its units', is within `radius` metres of
it, along the Earth (haversine, on the mean radius): near the antimeridian and the poles as
anywhere. The zones' units come with them; a unit in no zone (`withoutZone`) when it stands
within the radius itself (with an id selection, none does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Final

from dalgu.errors import BadRequestData
from dalgu.query.geo import haversine
from dalgu.wifi.service import WifiState

DEFAULT_RADIUS: Final = 1_000.0
MAX_RADIUS: Final = 100_000.0


def _number(text: str, name: str, least: float, most: float) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not least <= value <= most:
        raise BadRequestData(f"{name} must be a number from {least:g} to {most:g}, not {text!r}")
    return value


@dataclass(frozen=True, slots=True)
class Selection:
    """Zones by id (any of `ids`) and/or near `place` (lon, lat) within `radius` metres;
    everything when it says neither."""

    ids: frozenset[str] = frozenset()
    place: tuple[float, float] | None = None
    radius: float = DEFAULT_RADIUS

    @classmethod
    def asked(
        cls, ids: str | None, lon: str | None, lat: str | None, radius: str | None
    ) -> Selection:
        """From the query's `id` (ids, comma-separated), `lon`, `lat` and `radius`."""
        chosen = frozenset(i.strip() for i in (ids or "").split(",") if i.strip())
        if (lon is None) != (lat is None):
            raise BadRequestData("lon and lat go together: the place to look near")
        if lon is None or lat is None:
            if radius is not None:
                raise BadRequestData("radius needs lon and lat: the place to look near")
            return cls(chosen)
        place = (_number(lon, "lon", -180, 180), _number(lat, "lat", -90, 90))
        reach = DEFAULT_RADIUS if radius is None else _number(radius, "radius", 0, MAX_RADIUS)
        return cls(chosen, place, reach)

    @property
    def everything(self) -> bool:
        return not self.ids and self.place is None

    def _near(self, position: tuple[float, float] | None) -> bool:
        if self.place is None:
            return True
        return position is not None and haversine(*self.place, *position) <= self.radius

    def apply(self, state: WifiState) -> WifiState:
        """The state of the zones selected, their units, and the units in no zone near."""
        if self.everything:
            return state
        units: dict[str, list[tuple[float, float] | None]] = {}
        for point in state.points:
            if point.zone is not None:
                units.setdefault(point.zone, []).append(point.position)
        zones = tuple(
            z
            for z in state.zones
            if (not self.ids or z.id in self.ids)
            and (self._near(z.position) or any(self._near(p) for p in units.get(z.id, ())))
        )
        kept = {z.id for z in zones}
        orphans = frozenset(state.orphans)
        points = tuple(
            p
            for p in state.points
            if (p.zone in kept and p.id not in orphans)
            or (p.id in orphans and not self.ids and self._near(p.position))
        )
        listed = {p.id for p in points}
        return replace(
            state,
            points=points,
            zones=zones,
            orphans=tuple(o for o in state.orphans if o in listed),
        )
