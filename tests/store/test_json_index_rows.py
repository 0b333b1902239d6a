"""The index rows of a JsonProperty's JSON, and the state the migration diffs from
(`json_reindex.as_indexed_before`): the rows the code before made."""

from __future__ import annotations

from typing import Any

from dalgu.store.indexing import IndexRow, attribute_rows, index_rows
from dalgu.store.json_reindex import as_indexed_before

NAME = "https://example.org/ns/parkingTickets"
SUB = "https://example.org/ns/rules"


def test_json_leaves_are_rows_under_their_keys_as_a_compound_value() -> None:
    instance = {"type": "JsonProperty", "json": {"value": "Overstay", "fine": {"amount": [40, 80]}}}
    assert attribute_rows(NAME, [instance]) == [
        IndexRow(NAME, "#", "#", None, "JsonProperty"),
        IndexRow(NAME, "[value]", "s", None, "Overstay"),
        IndexRow(NAME, "[fine][amount]", "n", 40.0, None),
        IndexRow(NAME, "[fine][amount]", "n", 80.0, None),
    ]
    as_property = {"type": "Property", "value": instance["json"]}
    assert attribute_rows(NAME, [as_property])[1:] == attribute_rows(NAME, [instance])[1:]


def test_json_is_not_json_ld_so_at_value_is_a_key_like_any_other() -> None:
    rows = attribute_rows(NAME, [{"type": "JsonProperty", "json": {"@value": 3, "n": 1}}])
    assert rows[1:] == [
        IndexRow(NAME, "[@value]", "n", 3.0, None),
        IndexRow(NAME, "[n]", "n", 1.0, None),
    ]
    # a Property's value object `{"@value": ...}` is its value
    assert attribute_rows(NAME, [{"type": "Property", "value": {"@value": 3}}])[1:] == [
        IndexRow(NAME, "", "n", 3.0, None)
    ]


def test_a_json_array_or_scalar_is_a_leaf_at_the_attribute() -> None:
    rows = attribute_rows(NAME, [{"type": "JsonProperty", "json": [1, "a"]}])
    assert rows[1:] == [IndexRow(NAME, "", "n", 1.0, None), IndexRow(NAME, "", "s", None, "a")]
    assert attribute_rows(NAME, [{"type": "JsonProperty", "json": True}])[1:] == [
        IndexRow(NAME, "", "b", 1.0, None)
    ]


def entity() -> dict[str, Any]:
    return {
        "id": "urn:ngsi-ld:Car:1",
        "type": ["https://example.org/ns/Car"],
        NAME: [
            {
                "type": "JsonProperty",
                "json": {"value": "Overstay"},
                "observedAt": "2026-01-01T00:00:00Z",
            }
        ],
        "https://example.org/ns/meter": [
            {"type": "Property", "value": 3, SUB: {"type": "JsonProperty", "json": {"max": 120}}}
        ],
        "https://example.org/ns/note": [{"type": "Property", "value": "JsonProperty"}],
    }


def test_as_indexed_before_leaves_out_every_json_and_nothing_else() -> None:
    original = entity()
    before = as_indexed_before(original)
    assert before is not None and original == entity()  # a copy: the entity is unchanged
    assert before[NAME] == [{"type": "JsonProperty", "observedAt": "2026-01-01T00:00:00Z"}]
    assert before["https://example.org/ns/meter"] == [
        {"type": "Property", "value": 3, SUB: {"type": "JsonProperty"}}
    ]
    assert before["https://example.org/ns/note"] is original["https://example.org/ns/note"]
    # its rows are today's without the JSON leaves: the markers and members stay
    today = index_rows(original)
    assert index_rows(before) == [r for r in today if "[" not in r.path]
    assert len(today) == len(index_rows(before)) + 2


def test_as_indexed_before_is_none_without_a_json_property() -> None:
    plain = entity()
    del plain[NAME], plain["https://example.org/ns/meter"]
    assert as_indexed_before(plain) is None
