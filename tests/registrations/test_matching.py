"""The matching rules of clause 5.12 and the interval and geometry rules of 5.10.2.4, as pure
functions."""

from __future__ import annotations

from typing import Any

import pytest

from dalgu.query.ast import TypeName, TypeOr
from dalgu.query.geo import parse_geoquery
from dalgu.registrations.discovery import (
    RegistrationQuery,
    TemporalFilter,
    discover,
    entity_info_matches,
    information_matches,
)

V = "urn:ngsi-ld:Vehicle:A456"


def expand(name: str) -> str:
    return "https://uri.etsi.org/ngsi-ld/" + name


@pytest.mark.parametrize(
    ("info", "query", "matches"),
    [
        ({"type": "T"}, RegistrationQuery(types=TypeName("T")), True),
        ({"type": "T"}, RegistrationQuery(types=TypeName("U")), False),
        ({"type": "T"}, RegistrationQuery(types=TypeOr((TypeName("U"), TypeName("T")))), True),
        ({"type": "T"}, RegistrationQuery(types=TypeName("T"), ids=(V,)), True),
        ({"type": "T", "id": V}, RegistrationQuery(types=TypeName("T"), ids=(V,)), True),
        ({"type": "T", "id": V}, RegistrationQuery(types=TypeName("T"), ids=("urn:x:1",)), False),
        ({"type": "T", "idPattern": "A4"}, RegistrationQuery(ids=(V,)), True),
        ({"type": "T", "idPattern": "^B"}, RegistrationQuery(ids=(V,)), False),
        ({"type": "T", "id": V}, RegistrationQuery(id_pattern="456$"), True),
        ({"type": "T", "id": V}, RegistrationQuery(id_pattern="^B"), False),
        ({"type": "T", "idPattern": "^B"}, RegistrationQuery(id_pattern="^C"), True),
    ],
)
def test_entity_info_matching(
    info: dict[str, str], query: RegistrationQuery, matches: bool
) -> None:
    assert entity_info_matches(query, info) is matches


@pytest.mark.parametrize(
    ("info", "attrs", "matches"),
    [
        ({"entities": [{"type": "T"}]}, ("speed",), True),  # no names registered
        ({"propertyNames": ["speed"]}, ("speed", "fuel"), True),
        ({"relationshipNames": ["owner"]}, ("owner",), True),
        ({"propertyNames": ["speed"]}, ("fuel",), False),
        ({"propertyNames": ["speed"]}, (), True),  # none asked: all
    ],
)
def test_attribute_matching(info: dict[str, Any], attrs: tuple[str, ...], matches: bool) -> None:
    assert information_matches(RegistrationQuery(attrs=attrs), info) is matches


def registration(**extra: Any) -> dict[str, Any]:
    return {
        "id": "urn:r:1",
        "type": "ContextSourceRegistration",
        "information": [{"entities": [{"type": "T"}]}],
        "endpoint": "http://x",
        **extra,
    }


INTERVAL = {"startAt": "2020-01-01T00:00:00Z", "endAt": "2020-12-31T00:00:00Z"}


@pytest.mark.parametrize(
    ("temporal", "matches"),
    [
        (TemporalFilter("before", "2020-06-01T00:00:00Z"), True),
        (TemporalFilter("before", "2020-01-01T00:00:00Z"), True),  # an endpoint
        (TemporalFilter("before", "2019-06-01T00:00:00Z"), False),
        (TemporalFilter("after", "2020-12-31T00:00:00Z"), True),
        (TemporalFilter("after", "2020-12-31T01:00:00+01:00"), True),  # the end, in UTC
        (TemporalFilter("after", "2021-02-01T00:00:00Z"), False),
        (TemporalFilter("between", "2019-01-01T00:00:00Z", "2020-02-01T00:00:00Z"), True),
        (TemporalFilter("between", "2021-01-01T00:00:00Z", "2021-02-01T00:00:00Z"), False),
    ],
)
def test_observation_interval_matching(temporal: TemporalFilter, matches: bool) -> None:
    query = RegistrationQuery(types=TypeName("T"), temporal=temporal)
    found = discover(query, registration(observationInterval=INTERVAL), expand)
    assert (found is not None) is matches


def test_after_matches_an_interval_without_end() -> None:
    query = RegistrationQuery(temporal=TemporalFilter("after", "2030-01-01T00:00:00Z"))
    reg = registration(observationInterval={"startAt": "2020-01-01T00:00:00Z"})
    assert discover(query, reg, expand) is not None


def test_without_temporal_query_only_latest_information_registrations() -> None:
    query = RegistrationQuery(types=TypeName("T"))
    assert discover(query, registration(), expand) is not None
    assert discover(query, registration(managementInterval=INTERVAL), expand) is None


def geo(georel: str, geometry: str, coordinates: str, prop: str = "location") -> RegistrationQuery:
    parsed = parse_geoquery(georel, geometry, coordinates, None)
    from dataclasses import replace

    return RegistrationQuery(geo=replace(parsed, geoproperty=expand(prop)))


AREA = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        # the registered area may hold a location inside the query's polygon
        (geo("within", "Polygon", "[[[0.5,0.5],[2,0.5],[2,2],[0.5,2],[0.5,0.5]]]"), True),
        (geo("within", "Polygon", "[[[5,5],[6,5],[6,6],[5,6],[5,5]]]"), False),
        (geo("intersects", "Point", "[0.5,0.5]"), True),
        (geo("near;maxDistance==1000", "Point", "[1.005,0.5]"), True),
        (geo("near;maxDistance==100", "Point", "[1.005,0.5]"), False),
        (geo("near;minDistance==1000", "Point", "[0.5,0.5]"), True),  # corners are far
        (geo("disjoint", "Point", "[0.5,0.5]"), True),  # parts of the area are elsewhere
        # the area may hold a location that contains the point; not one far away
        (geo("contains", "Point", "[0.5,0.5]"), True),
        (geo("contains", "Point", "[5,5]"), False),
        (geo("contains", "Polygon", "[[[0.2,0.2],[0.8,0.2],[0.8,0.8],[0.2,0.8],[0.2,0.2]]]"), True),
        (
            geo(
                "within",
                "Polygon",
                "[[[0.5,0.5],[2,0.5],[2,2],[0.5,2],[0.5,0.5]]]",
                "operationSpace",
            ),
            False,
        ),
    ],
)
def test_geoquery_matches_areas_that_may_hold_matches(
    query: RegistrationQuery, matches: bool
) -> None:
    assert (discover(query, registration(location=AREA), expand) is not None) is matches


def test_csf_is_evaluated_on_context_source_properties_and_members() -> None:
    from dalgu.query.q import parse_q

    reg = registration(**{"urn:p:colour": "red", "mode": "exclusive"})
    colour = RegistrationQuery(csf=parse_q('urn:p:colour=="red"'))
    assert discover(colour, reg, expand) is not None
    mode = RegistrationQuery(csf=parse_q('mode=="inclusive"'))
    from dalgu.query.ast import map_names

    mode = RegistrationQuery(csf=map_names(mode.csf, expand))  # type: ignore[arg-type]
    assert discover(mode, reg, expand) is None
