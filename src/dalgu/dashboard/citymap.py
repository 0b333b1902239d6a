"""The dashboard's map: located entities drawn as SVG markers, without tiles (it works offline).

Positions are projected equirectangularly around the places' middle latitude (east-west
distances shrink by its cosine, so a city's shape is kept) into a fixed view box. Each type
gets a shape and a colour, so a type is told by its shape as well as its colour (WCAG 1.4.1);
every colour has at least 3:1 contrast with the map's background (WCAG 1.4.11, checked by a
test).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from dalgu.dashboard.overview import Place

WIDTH: Final = 800
HEIGHT: Final = 560
PADDING: Final = 24
#: the map's background, and one colour per type in turn (the CSS uses the same values)
BACKGROUND: Final = "#f3f5f7"
COLOURS: Final = ("#1f5fa8", "#b3261e", "#1b6e3a", "#6b3fa0", "#8a4b00", "#00626b", "#3d3d3d")
SHAPES: Final = ("circle", "square", "triangle", "diamond")
RADIUS: Final = 5.0


@dataclass(frozen=True, slots=True)
class Style:
    shape: str
    colour: str


@dataclass(frozen=True, slots=True)
class Marker:
    x: float
    y: float
    style: Style
    place: Place

    @property
    def points(self) -> str:
        """The polygon of a triangle or diamond marker, as SVG `points`."""
        r, x, y = RADIUS + 1.0, self.x, self.y
        if self.style.shape == "triangle":
            corners = [(x, y - r), (x + r, y + r * 0.8), (x - r, y + r * 0.8)]
        else:
            corners = [(x, y - r), (x + r, y), (x, y + r), (x - r, y)]
        return " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in corners)


@dataclass(frozen=True, slots=True)
class CityMap:
    width: int
    height: int
    markers: tuple[Marker, ...]
    legend: tuple[tuple[str, Style, int], ...]  # (type, its style, how many are drawn)
    bounds: tuple[float, float, float, float] | None  # south, west, north, east


def style_of(index: int) -> Style:
    """The `index`-th type's style: shapes and colours both cycle, never the same pair
    twice within `len(SHAPES) * len(COLOURS)` types."""
    return Style(SHAPES[index % len(SHAPES)], COLOURS[index % len(COLOURS)])


def draw(places: Sequence[Place], width: int = WIDTH, height: int = HEIGHT) -> CityMap:
    """Project `places` into a `width` x `height` view box."""
    if not places:
        return CityMap(width, height, (), (), None)
    types = sorted({p.type for p in places}, key=lambda t: (-sum(p.type == t for p in places), t))
    styles = {t: style_of(i) for i, t in enumerate(types)}
    south = min(p.lat for p in places)
    north = max(p.lat for p in places)
    west = min(p.lon for p in places)
    east = max(p.lon for p in places)
    shrink = max(math.cos(math.radians((south + north) / 2)), 0.01)
    span_x = (east - west) * shrink
    span_y = north - south
    inner_w, inner_h = width - 2 * PADDING, height - 2 * PADDING
    scale = min(
        inner_w / span_x if span_x > 0 else math.inf, inner_h / span_y if span_y > 0 else math.inf
    )
    if not math.isfinite(scale):
        scale = 0.0  # one position: drawn in the middle
    left = PADDING + (inner_w - span_x * scale) / 2
    top = PADDING + (inner_h - span_y * scale) / 2
    markers = tuple(
        Marker(
            round(left + (p.lon - west) * shrink * scale, 1),
            round(top + (north - p.lat) * scale, 1),
            styles[p.type],
            p,
        )
        for p in places
    )
    legend = tuple((t, styles[t], sum(p.type == t for p in places)) for t in types)
    return CityMap(width, height, markers, legend, (south, west, north, east))
