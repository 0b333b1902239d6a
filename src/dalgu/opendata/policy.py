"""De-identification: the rows a dataset publishes, made from entities (or their aggregated
history) by its policy. Pure functions: no I/O, nothing about formats."""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from shapely.errors import ShapelyError
from shapely.geometry import shape

from dalgu.opendata.model import Dataset, observed_column
from dalgu.store.base import TemporalEntity
from dalgu.store.history import parse_time

#: metres per degree of latitude (and of longitude at the equator), WGS 84 mean
METRES_PER_DEGREE = 111_320.0
GEOMETRY_TYPES = (
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
)
#: (a tuple: a value's `type` may be any JSON value, a list too, which a set cannot hold)
#: a geometry's type in any case (`point` is no GeoJSON, but its coordinates are as exact)
_GEOMETRY_NAMES = {name.lower(): name for name in GEOMETRY_TYPES}
#: RFC 7946 §5: the coordinate range of a geometry, Feature or FeatureCollection: coordinates
BBOX = "bbox"

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Release:
    """A dataset with its names expanded (IRIs), ready to turn entities into rows."""

    dataset: Dataset
    attributes: tuple[str, ...]  # IRIs, in the order of the dataset's attributes
    geometry: str | None
    withheld: frozenset[str]
    #: an IRI as the dataset's context names it (a VocabProperty's value, as the API shows it)
    compact: Callable[[str], str] | None = None

    @property
    def grid(self) -> float:
        return self.dataset.policy.grid_metres


def pseudonym(entity_id: str, key: str) -> str:
    """An entity's id in a dataset that pseudonymises ids: a keyed hash (HMAC-SHA-256, 128
    bits), the same on every download, that only the dataset's secret links back."""
    digest = hmac.new(bytes.fromhex(key), entity_id.encode(), hashlib.sha256).hexdigest()
    return f"urn:dalgu:opendata:pseudonym:{digest[:32]}"


def published_id(entity_id: str, release: Release) -> str:
    policy = release.dataset.policy
    return pseudonym(entity_id, policy.id_key) if policy.pseudonymise_ids else entity_id


def snap(lon: float, lat: float, grid_metres: float) -> tuple[float, float]:
    """The node of a grid of `grid_metres` nearest to (lon, lat): north-south steps of
    `grid_metres`, east-west steps at most as wide at the snapped latitude, a whole even
    number of them around the Earth, so that the grid runs on across the antimeridian: a
    node's longitude is in [-180, 180) (180 is -180), and two points a few metres apart on
    either side of it share their cell as on any other meridian (RFC 7946, 4: longitude and
    latitude of WGS 84; a longitude of 180.005 is none)."""
    lat_step = grid_metres / METRES_PER_DEGREE
    snapped_lat = max(-90.0, min(90.0, round(lat / lat_step) * lat_step))
    width = METRES_PER_DEGREE * max(math.cos(math.radians(snapped_lat)), 1e-9)
    lon_step = 180.0 / math.ceil(180.0 / (grid_metres / width))
    snapped_lon = round(round(lon / lon_step) * lon_step, 7)
    if snapped_lon >= 180.0:
        snapped_lon -= 360.0
    elif snapped_lon < -180.0:
        snapped_lon += 360.0
    return round(snapped_lon, 7), round(snapped_lat, 7)


def is_geometry(value: Any) -> bool:
    """A GeoJSON geometry (its type in any case): coordinates, or a GeometryCollection's
    geometries."""
    if not isinstance(value, dict):
        return False
    kind = value.get("type")
    if kind not in GEOMETRY_TYPES:
        if not isinstance(kind, str) or kind.lower() not in _GEOMETRY_NAMES:
            return False
        kind = _GEOMETRY_NAMES[kind.lower()]
    return ("geometries" if kind == "GeometryCollection" else "coordinates") in value


def snapped_point(geometry: dict[str, Any], grid_metres: float) -> tuple[float, float] | None:
    """A geometry as one point on the grid: its centroid, snapped; None if it has none."""
    coordinates = geometry.get("coordinates")
    if (  # a Point is its own centroid: no shapely geometry (~20 us a row of a download)
        geometry.get("type") == "Point"
        and isinstance(coordinates, list)
        and len(coordinates) in (2, 3)
        and all(type(c) in (int, float) for c in coordinates)
    ):
        return snap(float(coordinates[0]), float(coordinates[1]), grid_metres)
    try:
        centroid = shape(geometry).centroid
    except (ValueError, TypeError, AttributeError, IndexError, ShapelyError, RecursionError):
        return None
    if centroid.is_empty:
        return None
    return snap(centroid.x, centroid.y, grid_metres)


def scrub(value: Any, grid_metres: float) -> Any:
    """`value` with every GeoJSON geometry inside it replaced by its snapped centroid, and
    every member named `bbox`, at any depth, left out (a Feature's or a FeatureCollection's
    holds the exact coordinates of what it bounds)."""
    if is_geometry(value):
        point = snapped_point(value, grid_metres)
        return None if point is None else {"type": "Point", "coordinates": list(point)}
    if isinstance(value, dict):
        return {k: scrub(v, grid_metres) for k, v in value.items() if k != BBOX}
    if isinstance(value, list):
        return [scrub(v, grid_metres) for v in value]
    return value


_VALUE_MEMBERS = ("value", "object", "languageMap", "vocab", "json", "valueList", "objectList")


def _targets(value: Any, key: str) -> Any:
    """A Relationship's object (an entity id, a list of them) or objectList (`{"object":
    id}` items) with each entity id pseudonymised as the dataset's own ids are."""
    if isinstance(value, str):
        return pseudonym(value, key)
    if isinstance(value, list):
        return [_targets(v, key) for v in value]
    if isinstance(value, dict) and "object" in value:
        return {**value, "object": _targets(value["object"], key)}
    return value


def _instance_value(instances: Any, release: Release | None = None) -> Any:
    """The value of an attribute's default instance (else its first), whatever its kind;
    with `release` pseudonymising ids, a Relationship's targets pseudonymised too (they are
    entity ids: a person's, say)."""
    if not isinstance(instances, list) or not instances:
        return None
    instance = instances[0]
    if "datasetId" in instance:
        instance = next((i for i in instances if "datasetId" not in i), instance)
    policy = None if release is None else release.dataset.policy
    for member in _VALUE_MEMBERS:
        if member in instance:
            value = instance[member]
            if member in ("object", "objectList") and policy and policy.pseudonymise_ids:
                return _targets(value, policy.id_key)
            if member == "vocab" and release is not None and release.compact is not None:
                return _compacted(value, release.compact)
            # a typed literal ({"@type": "DateTime", "@value": ...}) is published as its value
            if isinstance(value, dict) and "@value" in value:
                return value["@value"]
            return value
    return None


def _observed_at(instances: Any) -> Any:
    """When the attribute's published instance (the default, else its first) was observed."""
    if not isinstance(instances, list) or not instances:
        return None
    instance = next((i for i in instances if "datasetId" not in i), instances[0])
    return instance.get("observedAt") if isinstance(instance, dict) else None


def _compacted(value: Any, compact: Callable[[str], str]) -> Any:
    """A VocabProperty's IRI (or IRIs) as its term, as the NGSI-LD API shows them."""
    if isinstance(value, str):
        return compact(value)
    if isinstance(value, list):
        return [compact(v) if isinstance(v, str) else v for v in value]
    return value


def _location(entity: dict[str, Any], release: Release) -> tuple[float | None, float | None]:
    if release.geometry is None:
        return None, None
    value = _instance_value(entity.get(release.geometry))
    point = snapped_point(value, release.grid) if is_geometry(value) else None
    return (None, None) if point is None else point


def entity_row(entity: dict[str, Any], release: Release) -> Row:
    """One row of a current-state dataset: the entity's id, its published attributes (every
    geometry in them snapped) and its snapped location."""
    publication = release.dataset.publication
    row: Row = {"id": published_id(entity["id"], release)}
    grid = release.grid
    for name, iri in zip(publication.attributes, release.attributes, strict=True):
        withheld = iri in release.withheld
        instances = None if withheld else entity.get(iri)
        row[name] = scrub(_instance_value(instances, release), grid)
        if publication.observed_at:
            row[observed_column(name)] = _observed_at(instances)
    if release.geometry is not None:
        row["longitude"], row["latitude"] = _location(entity, release)
    return row


def _buckets(value: Any) -> list[list[Any]]:
    if isinstance(value, orjson.Fragment):  # the store's JSON of a long list of buckets
        value = orjson.loads(orjson.dumps(value))
    return value if isinstance(value, list) else []


def aggregate_rows(
    history: TemporalEntity, current: dict[str, Any] | None, release: Release
) -> list[Row]:
    """The rows of an aggregated dataset for one entity: one per time bucket, the value of
    each method for each published attribute, and the entity's snapped location as now."""
    aggregation = release.dataset.policy.aggregation
    assert aggregation is not None
    names = release.dataset.publication.attributes
    by_span: dict[tuple[str, str], Row] = {}
    entity_id, grid = published_id(history.id, release), release.grid
    for name, iri in zip(names, release.attributes, strict=True):
        if iri in release.withheld:
            continue
        methods = history.aggregates.get(iri, {})
        for method in aggregation.methods:
            column = f"{name}_{method}"
            for bucket in _buckets(methods.get(method)):
                value, start, end = bucket[0], bucket[1], bucket[2]
                row = by_span.get((start, end))
                if row is None:
                    row = by_span[(start, end)] = {"id": entity_id, "start": start, "end": end}
                # only a structured value can hold a geometry (most are numbers)
                row[column] = scrub(value, grid) if isinstance(value, dict | list) else value
    # by time, not as text: "…00.500Z" sorts before "…00Z" ('.' < 'Z')
    rows = [by_span[span] for span in sorted(by_span, key=lambda s: tuple(map(parse_time, s)))]
    columns = release.dataset.columns
    location = (None, None) if current is None else _location(current, release)
    for row in rows:
        for column in columns:
            row.setdefault(column, None)
        if release.geometry is not None:
            row["longitude"], row["latitude"] = location
    return rows
