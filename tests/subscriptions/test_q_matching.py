"""A subscription's `q`, matched in the notifier against a changed entity's index rows, holds
for the same values as the stores' queries do (the same q must select the same entities)."""

from __future__ import annotations

import pytest

from dalgu.query.ast import map_names
from dalgu.query.q import parse_q
from dalgu.store.indexing import IndexRow
from dalgu.subscriptions.matching import q_ok

VALUES = {"date": "2025-01-01", "time": "10:00:00", "stamp": "2025-01-01T10:00:00.500000Z"}


@pytest.mark.parametrize(
    ("q", "holding"),
    [
        ("t<23:59:59", ["time"]),
        ("t>09:00:00", ["time"]),
        ("t<2025-01-01T10:00:00.600Z", ["stamp"]),
        ("t>2024-12-31", ["date"]),
        ("t==2024-12-01..2025-02-01", ["date"]),
        ("t==2025-01-01", ["date"]),
    ],
)
def test_dates_times_and_date_times_are_ordered_only_among_their_own_kind(
    q: str, holding: list[str]
) -> None:
    """Clause 4.9: an ordering matches no value of another data type (a Date was after
    09:00:00 and before 23:59:59)."""
    expr = parse_q(q)
    found = [
        name
        for name, text in VALUES.items()
        if q_ok(expr, {}, {("t", ""): [IndexRow("t", "", "s", None, text)]})
    ]
    assert found == holding


REL = "http://example.org/rel"
V = "http://example.org/v"


def _holds(q: str, instance: dict[str, object], name: str = REL) -> bool:
    expr = map_names(parse_q(q), lambda n: f"http://example.org/{n}")
    return q_ok(expr, {"id": "urn:x:1", "type": ["T"], name: [instance]})


@pytest.mark.parametrize("q", ['rel>"urn:a"', 'rel<="urn:z"', 'rel~=".*"', 'rel!~="nothing"'])
def test_relationship_takes_equal_and_unequal_only(q: str) -> None:
    """Clause 4.9, as the stores' queries (tests/api/test_q_operator_types.py): a Relationship
    with another operator is not matching; a Property holding the same text is compared."""
    assert not _holds(q, {"type": "Relationship", "object": "urn:b"})
    assert not _holds(q, {"type": "ListRelationship", "objectList": [{"object": "urn:b"}]})
    assert _holds(q, {"type": "Property", "value": "urn:b"})
    assert _holds('rel=="urn:b"', {"type": "Relationship", "object": "urn:b"})
    assert _holds('rel!="urn:c"', {"type": "Relationship", "object": "urn:b"})


def test_not_pattern_matches_strings_only() -> None:
    for value in (20, 25.5, True, {"a": "b"}):
        assert not _holds('v!~="x"', {"type": "Property", "value": value}, V)
    for value in ("20", ["red", 5]):
        assert _holds('v!~="x"', {"type": "Property", "value": value}, V)
    assert not _holds('v!~="x"', {"type": "Property", "value": ["x", 5]}, V)


def test_unequal_holds_for_a_json_object_or_an_empty_array() -> None:
    """As the stores' queries (tests/api/test_entities.py): the target element is there and no
    value equals; the matcher looked for value rows at the path, which an object has none of."""
    address = {"type": "Property", "value": {"city": "Seoul", "geo": {"lvl": 2}}}
    assert _holds('v!="Madrid"', address, V)
    assert _holds("v[geo]!=1", address, V)
    assert not _holds('v[city]!="Seoul"', address, V)
    assert not _holds("v[zip]!=5", address, V)
    assert _holds("v!=5", {"type": "Property", "value": []}, V)
    assert not _holds("w!=5", address, V)
