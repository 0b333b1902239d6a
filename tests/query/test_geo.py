"""geoQ (clause 4.10) and GeoJSON geometries (clause 4.7): parsed and validated, or refused."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dalgu.errors import BadRequestData, DalguError
from dalgu.query.geo import parse_geoquery, shape_from_geojson, validate_geometry

SQUARE = [[[100.0, 0.0], [101.0, 0.0], [101.0, 1.0], [100.0, 1.0], [100.0, 0.0]]]


@pytest.mark.parametrize(
    ("georel", "relation", "max_distance", "min_distance"),
    [
        ("near;maxDistance==2000", "near", 2000.0, None),
        ("near;minDistance==5", "near", None, 5.0),
        ("near;maxDistance==0.5", "near", 0.5, None),
        ("near;maxDistance==1e3", "near", 1000.0, None),
        ("near;minDistance==2.5E+2", "near", None, 250.0),
        ("within", "within", None, None),
        ("contains", "contains", None, None),
        ("intersects", "intersects", None, None),
        ("equals", "equals", None, None),
        ("disjoint", "disjoint", None, None),
        ("overlaps", "overlaps", None, None),
    ],
)
def test_georel(
    georel: str, relation: str, max_distance: float | None, min_distance: float | None
) -> None:
    query = parse_geoquery(georel, "Point", "[8,40]", None)
    assert (query.georel, query.max_distance, query.min_distance) == (
        relation,
        max_distance,
        min_distance,
    )


BAD_GEORELS = [
    ("", 0, "expected a relation"),
    ("nearby", 4, "expected ';'"),
    ("Near;maxDistance==1", 0, "expected a relation"),
    ("near", 4, "end of input at position 4; expected ';'"),
    ("near;", 5, "expected maxDistance or minDistance"),
    ("near;distance==5", 5, "expected maxDistance or minDistance"),
    ("near;maxDistance=5", 16, "expected '=='"),
    ("near;maxDistance==", 18, "expected a distance in metres"),
    ("near;maxDistance==-5", 18, "unexpected '-'"),
    ("near;maxDistance==+5", 18, "unexpected '+'"),
    ("near;maxDistance==0", 18, "must be a positive number"),
    ("near;maxDistance==0.0", 18, "must be a positive number"),
    ("near;maxDistance==1e999", 18, "must be a positive number"),
    ("near;maxDistance==5m", 19, "unexpected 'm'"),
    ("near;maxDistance==5;minDistance==1", 19, "expected the end"),
    ("near ;maxDistance==5", 4, "unexpected ' '"),
    ("within;maxDistance==5", 6, "expected the end"),
    ("crosses", 0, "expected a relation"),
]


@pytest.mark.parametrize(("georel", "position", "message"), BAD_GEORELS)
def test_invalid_georel_is_bad_request_data_at_the_offending_position(
    georel: str, position: int, message: str
) -> None:
    with pytest.raises(BadRequestData) as caught:
        parse_geoquery(georel, "Point", "[8,40]", None)
    assert caught.value.detail.startswith("georel: ")
    assert f"at position {position}" in caught.value.detail
    assert message in caught.value.detail


def test_coordinates_as_json_text_and_as_list_give_the_same_query() -> None:
    from_get = parse_geoquery(
        "within", "Polygon", "[[[100,0],[101,0],[101,1],[100,1],[100,0]]]", None
    )
    from_post = parse_geoquery("within", "Polygon", SQUARE, None)
    assert from_get.shape.equals(from_post.shape)
    assert from_get.coordinates == from_post.coordinates


def test_query_keeps_geometry_type_coordinates_and_shape() -> None:
    query = parse_geoquery("near;maxDistance==10", "Point", [128.6, 35.87], None)
    assert query.geometry == "Point"
    assert query.coordinates == [128.6, 35.87]
    assert (query.shape.x, query.shape.y) == (128.6, 35.87)


def test_geoproperty_defaults_to_location() -> None:
    assert parse_geoquery("within", "Polygon", SQUARE, None).geoproperty == "location"


def test_geoproperty_is_kept_as_given() -> None:
    assert parse_geoquery("within", "Polygon", SQUARE, "observationSpace").geoproperty == (
        "observationSpace"
    )


@pytest.mark.parametrize("geoproperty", ["", "a b", "a\nb", 'a"b', 7])
def test_geoproperty_that_is_not_a_name_is_refused(geoproperty: Any) -> None:
    with pytest.raises(BadRequestData, match="geoproperty"):
        parse_geoquery("within", "Polygon", SQUARE, geoproperty)


@pytest.mark.parametrize("geometry", ["point", "Circle", "GeometryCollection", "Feature", "", None])
def test_unsupported_geometry_type_is_refused(geometry: Any) -> None:
    with pytest.raises(BadRequestData, match=r"geometry: .* is not supported"):
        parse_geoquery("within", geometry, "[8,40]", None)


@pytest.mark.parametrize("coordinates", ["8,40", "[8,40", "", "[1e400, 0]x", "{}"])
def test_coordinates_that_are_not_a_json_array_are_refused(coordinates: str) -> None:
    with pytest.raises(BadRequestData, match="coordinates"):
        parse_geoquery("within", "Point", coordinates, None)


def test_coordinates_that_do_not_fit_the_geometry_type_are_refused() -> None:
    with pytest.raises(BadRequestData, match=r"coordinates: .*nested"):
        parse_geoquery("within", "Polygon", "[8,40]", None)


VALID = [
    ({"type": "Point", "coordinates": [8, 40]}, "Point"),
    ({"type": "Point", "coordinates": [-180, -90, 12.5]}, "Point"),
    ({"type": "Point", "coordinates": [180.0, 90.0]}, "Point"),
    ({"type": "MultiPoint", "coordinates": [[8, 40], [9, 41]]}, "MultiPoint"),
    ({"type": "LineString", "coordinates": [[8, 40], [9, 41]]}, "LineString"),
    (
        {"type": "MultiLineString", "coordinates": [[[8, 40], [9, 41]], [[1, 1], [2, 2]]]},
        "MultiLineString",
    ),
    ({"type": "Polygon", "coordinates": SQUARE}, "Polygon"),
    (
        {
            "type": "Polygon",
            "coordinates": [
                [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
                [[2, 2], [2, 4], [4, 4], [4, 2], [2, 2]],
            ],
        },
        "Polygon",
    ),
    (
        {
            "type": "MultiPolygon",
            "coordinates": [SQUARE, [[[0, 0], [1, 0], [1, 1], [0, 0]]]],
        },
        "MultiPolygon",
    ),
    ({"type": "Point", "coordinates": [8, 40], "bbox": [8, 40, 8, 40]}, "Point"),
]


@pytest.mark.parametrize(("geometry", "kind"), VALID, ids=[k for _, k in VALID])
def test_valid_geometry_becomes_its_shape(geometry: dict[str, Any], kind: str) -> None:
    assert shape_from_geojson(geometry).geom_type == kind


INVALID = [
    ("not an object", [8, 40], "a JSON object"),
    ("a JSON string", '{"type": "Point", "coordinates": [8, 40]}', "a JSON object"),
    ("no type", {"coordinates": [8, 40]}, "not a supported GeoJSON geometry type"),
    ("unhashable type", {"type": ["Point"], "coordinates": [8, 40]}, "not a supported"),
    (
        "GeometryCollection",
        {"type": "GeometryCollection", "geometries": []},
        "not a supported GeoJSON geometry type",
    ),
    ("Feature", {"type": "Feature", "geometry": None}, "not a supported"),
    ("no coordinates", {"type": "Point"}, "a position is an array of 2 or 3 numbers"),
    ("one number", {"type": "Point", "coordinates": [8]}, "2 or 3 numbers"),
    ("four numbers", {"type": "Point", "coordinates": [8, 40, 1, 2]}, "2 or 3 numbers"),
    ("string number", {"type": "Point", "coordinates": ["8", 40]}, "must be numbers"),
    ("boolean", {"type": "Point", "coordinates": [True, 40]}, "must be numbers"),
    ("null", {"type": "Point", "coordinates": [None, 40]}, "must be numbers"),
    ("NaN", {"type": "Point", "coordinates": [float("nan"), 40]}, "finite"),
    ("infinity", {"type": "Point", "coordinates": [float("inf"), 40]}, "finite"),
    ("longitude", {"type": "Point", "coordinates": [180.5, 40]}, "outside WGS 84"),
    ("latitude", {"type": "Point", "coordinates": [8, -90.1]}, "outside WGS 84"),
    ("swapped", {"type": "Point", "coordinates": [40, 128.6]}, "outside WGS 84"),
    ("empty MultiPoint", {"type": "MultiPoint", "coordinates": []}, "nested"),
    ("flat LineString", {"type": "LineString", "coordinates": [8, 40]}, "a position is an array"),
    ("short LineString", {"type": "LineString", "coordinates": [[8, 40]]}, "at least 2 positions"),
    (
        "short line in MultiLineString",
        {"type": "MultiLineString", "coordinates": [[[8, 40], [9, 41]], [[1, 1]]]},
        "at least 2 positions",
    ),
    (
        "open ring",
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]},
        "must be closed",
    ),
    (
        "three-position ring",
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]},
        "at least 4",
    ),
    (
        "self-intersecting polygon",
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
        "Self-intersection",
    ),
    (
        "open ring in MultiPolygon",
        {"type": "MultiPolygon", "coordinates": [SQUARE, [[[0, 0], [1, 0], [1, 1], [0, 1]]]]},
        "must be closed",
    ),
    ("too deep", {"type": "Point", "coordinates": [[8, 40]]}, "a position is an array"),
    ("nested numbers", {"type": "Point", "coordinates": [[8], [40]]}, "must be numbers"),
]


@pytest.mark.parametrize(("case", "geometry", "message"), INVALID, ids=[c for c, _, _ in INVALID])
def test_invalid_geometry_is_bad_request_data(case: str, geometry: Any, message: str) -> None:
    with pytest.raises(BadRequestData, match=message):
        shape_from_geojson(geometry)


def test_error_names_where_the_geometry_was() -> None:
    with pytest.raises(BadRequestData, match=r"^location: "):
        shape_from_geojson({"type": "Point", "coordinates": [500, 0]}, "location")


def test_validate_geometry_accepts_a_valid_polygon() -> None:
    validate_geometry({"type": "Polygon", "coordinates": SQUARE})


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": [200, 0]},
        {"type": "Point", "coordinates": "8,40"},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]},
    ],
)
def test_validate_geometry_refuses_what_shape_from_geojson_refuses(geometry: Any) -> None:
    with pytest.raises(BadRequestData):
        validate_geometry(geometry)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=20,
)


@given(
    st.sampled_from(
        ["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"]
    ),
    json_values,
)
@settings(max_examples=500, deadline=None)
def test_any_coordinates_yield_a_shape_or_a_dalgu_error(kind: str, coordinates: Any) -> None:
    with contextlib.suppress(DalguError):
        shape_from_geojson({"type": kind, "coordinates": coordinates})


@given(json_values)
@settings(max_examples=300, deadline=None)
def test_any_json_value_yields_a_shape_or_a_dalgu_error(value: Any) -> None:
    with contextlib.suppress(DalguError):
        shape_from_geojson(value)


@given(
    st.text(max_size=40),
    st.text(max_size=20),
    st.text(max_size=60),
    st.none() | st.text(max_size=10),
)
@settings(max_examples=500, deadline=None)
def test_any_geoquery_text_yields_a_query_or_a_dalgu_error(
    georel: str, geometry: str, coordinates: str, geoproperty: str | None
) -> None:
    with contextlib.suppress(DalguError):
        parse_geoquery(georel, geometry, coordinates, geoproperty)
