"""`replaced_rows` and `changed_in_place`: a plain reading's index rows compared member by
member give exactly what comparing its attribute's whole row sets gives (the general paths of
`postgres/batch.py` and `sqlite/rows.py`)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from dalgu.store.indexing import IndexRow, attribute_rows, changed_in_place, replaced_rows

NAME = "https://example.org/ns/temperature"
VALUES: list[Any] = [
    1,
    1.0,
    2,
    True,
    False,
    0,
    None,
    "a",
    "b",
    "2026-01-01T10:00:00Z",
    "2026-01-01T10:00:00.000Z",
    "2026-01-01T11:00:00+01:00",
    float("nan"),
    [1, 1],
    [1, 2],
    {"x": 1},
    {"@value": 3},
]
TIMES = ["2026-01-01T10:00:00Z", "2026-01-01T10:00:00.000Z", "2026-01-01T10:01:00Z"]


def general(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> tuple[Any, Any]:
    old_rows, new_rows = attribute_rows(NAME, old), attribute_rows(NAME, new)
    return (
        sorted(map(repr, (r for r in old_rows if r not in set(new_rows)))),
        sorted(map(repr, (r for r in new_rows if r not in set(old_rows)))),
    )


def instance(rng: random.Random) -> dict[str, Any]:
    made: dict[str, Any] = {}
    if rng.random() < 0.9:
        made["type"] = rng.choice(["Property", "Property", "Property", "Relationship"])
    if made.get("type") == "Relationship":
        made["object"] = rng.choice(["urn:a", "urn:b"])
    elif rng.random() < 0.95:
        made["value"] = rng.choice(VALUES)
    for member, choices in (
        ("observedAt", TIMES),
        ("unitCode", ["CEL", "FAH"]),
        ("datasetId", ["urn:d:1", "urn:d:2"]),
        ("createdAt", TIMES),
        ("modifiedAt", TIMES),
    ):
        if rng.random() < 0.6:
            made[member] = rng.choice(choices)
    if rng.random() < 0.1:
        made["https://example.org/ns/accuracy"] = {"type": "Property", "value": 0.5}
    return made


def test_a_new_reading_changes_its_value_and_observed_at_rows_only() -> None:
    old = [{"type": "Property", "value": 20, "observedAt": "2026-01-01T10:00:00Z"}]
    new = [{"type": "Property", "value": 21.5, "observedAt": "2026-01-01T10:01:00Z"}]
    assert replaced_rows(NAME, old, new) == (
        [
            IndexRow(NAME, "", "n", 20.0, None),
            IndexRow(NAME, ".observedAt", "s", None, "2026-01-01T10:00:00.000000Z"),
        ],
        [
            IndexRow(NAME, "", "n", 21.5, None),
            IndexRow(NAME, ".observedAt", "s", None, "2026-01-01T10:01:00.000000Z"),
        ],
    )


def test_two_spellings_of_one_time_change_no_row() -> None:
    old = [{"type": "Property", "value": 1, "observedAt": "2026-01-01T10:00:00Z"}]
    new = [{"type": "Property", "value": 1, "observedAt": "2026-01-01T10:00:00.000Z"}]
    assert replaced_rows(NAME, old, new) == ([], [])


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ([{"type": "Property", "value": 1}], [{"type": "Property", "value": 1}] * 2),
        ([{"type": "Property", "value": 1}], [{"type": "Relationship", "object": "urn:a"}]),
        ([{"type": "Property", "value": 1}], [{"type": "Property", "valueList": [1]}]),
        ([{"type": "Property", "value": 1}], [{"type": "Property", "value": [1, 1]}]),
        ([{"value": 1}], [{"value": 2, "https://example.org/ns/sub": {"value": 1}}]),
        ([{"type": "JsonProperty", "json": {"a": 1}}], [{"type": "JsonProperty", "json": [2]}]),
        ([{"type": "Property", "value": 1}], [{"type": "JsonProperty", "json": {"a": 1}}]),
        (
            [{"type": "JsonProperty", "json": {"a": 1}, "value": 1}],
            [{"type": "JsonProperty", "json": {"a": 2}, "value": 1}],
        ),
    ],
)
def test_anything_but_a_plain_reading_takes_the_general_path(
    old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> None:
    assert replaced_rows(NAME, old, new) is None
    assert changed_in_place(NAME, old, new) is None


@pytest.mark.parametrize("seed", range(20))
def test_plain_readings_give_the_rows_the_whole_sets_give(seed: int) -> None:
    rng = random.Random(seed)
    compared = 0
    for _ in range(2000):
        old, new = [instance(rng)], [instance(rng)]
        plain = replaced_rows(NAME, old, new)
        if plain is None:
            continue
        compared += 1
        removed, added = plain
        assert (sorted(map(repr, removed)), sorted(map(repr, added))) == general(old, new)
    assert compared > 300


def place_by_place(
    old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> list[tuple[int, IndexRow]] | None:
    """What the SQLite store's general path writes when an attribute's rows keep their paths
    and places: each new row that differs from the old one in its place."""
    old_rows, new_rows = attribute_rows(NAME, old), attribute_rows(NAME, new)
    if [(r.path, r.kind == "#") for r in old_rows] != [(r.path, r.kind == "#") for r in new_rows]:
        return None
    return [(seq, b) for seq, (a, b) in enumerate(zip(old_rows, new_rows, strict=True)) if a != b]


def test_a_new_reading_rewrites_its_value_and_observed_at_rows_in_their_places() -> None:
    old = [{"type": "Property", "value": 20, "unitCode": "CEL"}]
    old[0]["observedAt"] = "2026-01-01T10:00:00Z"
    new = [{**old[0], "value": 21.5, "observedAt": "2026-01-01T10:01:00Z"}]
    assert changed_in_place(NAME, old, new) == [
        (1, IndexRow(NAME, "", "n", 21.5, None)),
        (2, IndexRow(NAME, ".observedAt", "s", None, "2026-01-01T10:01:00.000000Z")),
    ]
    respelled = [{**old[0], "observedAt": "2026-01-01T10:00:00.000Z"}]
    assert changed_in_place(NAME, old, respelled) == []
    # a member that comes or goes moves the rows after it: the general path
    assert changed_in_place(NAME, old, [{"type": "Property", "value": 20}]) is None


@pytest.mark.parametrize("seed", range(20))
def test_plain_readings_rewrite_the_rows_a_place_by_place_comparison_does(seed: int) -> None:
    rng = random.Random(seed)
    compared = 0
    for _ in range(2000):
        old, new = [instance(rng)], [instance(rng)]
        if rng.random() < 0.5:  # the usual update: the same members, some values new
            new = [{k: (instance(rng).get(k, v) if k != "type" else v) for k, v in old[0].items()}]
        fast = changed_in_place(NAME, old, new)
        if fast is None:
            continue
        compared += 1
        assert repr(fast) == repr(place_by_place(old, new))
    assert compared > 300
