"""The dashboard's map: located entities drawn as SVG markers, without tiles (it works offline).

Positions are projected equirectangularly around the places' middle latitude (east-west
distances shrink by its cosine, so a city's shape is kept) into a fixed view box; longitudes
run on across the antimeridian when the places lie on both sides of it (the map's west edge
is after the widest gap between them), so that places 100 m apart on Fiji are drawn 100 m
apart, not at the map's two edges. Each type
gets a form (one of six shapes, filled or hollow) and a colour: the first `len(FORMS)` types
(12) each have a form of their own, so they are told apart by form as well as colour (WCAG
1.4.1); past that, forms repeat with another colour. Every colour has at least 3:1 contrast
with the map's background (WCAG 1.4.11, checked by a test).
"""

from __future__ import annotations

import itertools
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
SHAPES: Final = ("circle", "square", "triangle", "diamond", "cross", "triangle-down")
#: every shape filled, then every shape hollow (a white inside, a thick outline)
FORMS: Final = tuple((shape, hollow) for hollow in (False, True) for shape in SHAPES)
RADIUS: Final = 5.0
#: the outline of a hollow marker, in the view box's units
OUTLINE: Final = 2.0


@dataclass(frozen=True, slots=True)
class Style:
    shape: str
    colour: str
    hollow: bool = False

    def points(self, x: float, y: float, r: float) -> str:
        """The polygon of this shape around (x, y) with half-size `r`, as SVG `points` ("" for
        a circle or a square, which are drawn as such)."""
        if self.shape == "triangle":
            corners = [(x, y - r), (x + r, y + r * 0.8), (x - r, y + r * 0.8)]
        elif self.shape == "triangle-down":
            corners = [(x - r, y - r * 0.8), (x + r, y - r * 0.8), (x, y + r)]
        elif self.shape == "diamond":
            corners = [(x, y - r), (x + r, y), (x, y + r), (x - r, y)]
        elif self.shape == "cross":
            a = r * 0.4
            corners = [
                (x - a, y - r), (x + a, y - r), (x + a, y - a), (x + r, y - a),
                (x + r, y + a), (x + a, y + a), (x + a, y + r), (x - a, y + r),
                (x - a, y + a), (x - r, y + a), (x - r, y - a), (x - a, y - a),
            ]  # fmt: skip
        else:
            return ""
        return " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in corners)


@dataclass(frozen=True, slots=True)
class Marker:
    x: float
    y: float
    style: Style
    place: Place

    @property
    def points(self) -> str:
        """The marker's polygon, as SVG `points` ("" for a circle or a square)."""
        return self.style.points(self.x, self.y, RADIUS + 1.0)


@dataclass(frozen=True, slots=True)
class CityMap:
    width: int
    height: int
    markers: tuple[Marker, ...]
    legend: tuple[tuple[str, Style, int], ...]  # (type, its style, how many are drawn)
    bounds: tuple[float, float, float, float] | None  # south, west, north, east


def style_of(index: int) -> Style:
    """The `index`-th type's style: a form of its own for the first `len(FORMS)` types; forms
    and colours both cycle, never the same pair twice within `len(FORMS) * len(COLOURS)`
    types (12 and 7 share no factor)."""
    shape, hollow = FORMS[index % len(FORMS)]
    return Style(shape, COLOURS[index % len(COLOURS)], hollow)


def west_edge(longitudes: Sequence[float]) -> float:
    """The longitude the map starts at: their least, unless the places lie within half the
    Earth across the antimeridian (a gap of more than 180 degrees between two of them, wider
    than the one across ±180): then the first east of that gap."""
    ordered = sorted(set(longitudes))
    widest, edge = ordered[0] + 360.0 - ordered[-1], ordered[0]  # the gap across ±180
    for before, after in itertools.pairwise(ordered):
        if after - before > max(widest, 180.0):
            widest, edge = after - before, after
    return edge


def draw(places: Sequence[Place], width: int = WIDTH, height: int = HEIGHT) -> CityMap:
    """Project `places` into a `width` x `height` view box."""
    if not places:
        return CityMap(width, height, (), (), None)
    types = sorted({p.type for p in places}, key=lambda t: (-sum(p.type == t for p in places), t))
    styles = {t: style_of(i) for i, t in enumerate(types)}
    south = min(p.lat for p in places)
    north = max(p.lat for p in places)
    west = west_edge([p.lon for p in places])

    def run_on(lon: float) -> float:  # the longitude counted east from `west`
        return lon + 360.0 if lon < west else lon

    east = max(run_on(p.lon) for p in places)
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
    rank = {t: i for i, t in enumerate(types)}
    # the most numerous type is drawn first, so the rarer ones sit on top of it where they share
    # a place (the demo's traffic counters stand where its devices do)
    in_order = sorted(places, key=lambda p: rank[p.type])
    markers = tuple(
        Marker(
            round(left + (run_on(p.lon) - west) * shrink * scale, 1),
            round(top + (north - p.lat) * scale, 1),
            styles[p.type],
            p,
        )
        for p in in_order
    )
    legend = tuple((t, styles[t], sum(p.type == t for p in places)) for t in types)
    # RFC 7946's bounding box: a west east of the east edge crosses the antimeridian
    east_edge = east - 360.0 if east > 180.0 else east
    return CityMap(width, height, markers, legend, (south, west, north, east_edge))
