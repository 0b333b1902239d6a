"""Entities whose attribute `speed` takes every shape an ordering must rank, and the
orderings and filters the tests of the ordered-page drivers ask for (both stores)."""

from __future__ import annotations

import random
from typing import Any

from dalgu.broker.mutations import create
from dalgu.query.ast import TypeName
from dalgu.query.order import OrderTerm
from dalgu.store.base import Entity, EntityQuery
from tests.store.test_sqlite_query_plan import NS, q

T0 = "2026-12-06T04:00:00.000Z"


def speed(rng: random.Random, n: int) -> list[dict[str, Any]] | None:
    """The shapes an attribute's values take: mostly one number (with many ties), and the
    ones a walk of single numbers cannot order by itself."""
    shape = rng.random()
    if shape < 0.07:
        return None  # absent: last either way
    if shape < 0.12:
        return [{"type": "Property", "value": rng.choice(["fast", "slow", "2026-12-06"])}]
    if shape < 0.15:
        return [{"type": "Property", "value": rng.random() < 0.5}]
    if shape < 0.18:
        return [{"type": "Property", "value": {"k": rng.randint(0, 30)}}]
    if shape < 0.24:  # several numbers in one value: the smallest or largest orders it
        return [{"type": "Property", "value": [rng.randint(-5, 40) for _ in range(3)]}]
    if shape < 0.28:  # two instances, each of its dataset
        return [
            {"type": "Property", "value": rng.randint(0, 30), "datasetId": "urn:d:a"},
            {"type": "Property", "value": rng.randint(0, 30), "datasetId": "urn:d:b"},
        ]
    if shape < 0.31:  # a number and a boolean under one attribute
        return [{"type": "Property", "value": [rng.randint(0, 30), True]}]
    value: Any = rng.randint(0, 30) if rng.random() < 0.8 else rng.uniform(0, 30)
    accuracy = {"type": "Property", "value": n % 7}  # a sub-attribute
    return [{"type": "Property", "value": value, f"{NS}accuracy": accuracy}]


# strings whose root collation order differs from their code points' (case, accents, width,
# punctuation, Hangul, contractions), ties among them, and random words for distinct values
WORDS = [
    "apple", "Apple", "APPLE", "äpple", "banana", "Banana", "b-anana", "b anana", "café",
    "cafe", "Cafe", "zebra", "Zürich", "대구", "대전", "서울", "ＡＢＣ", "L·lum", "llum", "",
    "  x", "{brace", "_under", "10가0001", "10가0002", "9", "a1", "a10", "a2", "ß", "ss",
    "e\u0301", "é", "Ævar", "ab\x01c", "abc",
]  # fmt: skip


def label(rng: random.Random) -> list[dict[str, Any]] | None:
    """The shapes a string attribute's values take: mostly one string, and the ones that
    rank before strings (numbers), after them (times, dates, booleans, objects), or hold
    several values."""
    shape = rng.random()
    if shape < 0.05:
        return None
    if shape < 0.08:
        return [{"type": "Property", "value": rng.randint(0, 9)}]
    if shape < 0.16:
        value = rng.choice(["2026-12-06", "10:00", "2026-12-06T04:00:00Z", "10:00:00.5"])
        return [{"type": "Property", "value": value}]
    if shape < 0.18:
        return [{"type": "Property", "value": rng.random() < 0.5}]
    if shape < 0.21:
        return [{"type": "Property", "value": {"k": rng.choice(WORDS)}}]
    if shape < 0.25:
        return [
            {"type": "Property", "value": rng.choice(WORDS), "datasetId": "urn:d:a"},
            {"type": "Property", "value": rng.choice(WORDS), "datasetId": "urn:d:b"},
        ]
    if shape < 0.28:
        return [{"type": "Property", "value": [rng.choice(WORDS), rng.choice(WORDS)]}]
    if shape < 0.65:
        return [{"type": "Property", "value": rng.choice(WORDS)}]
    letters = "abcdeéèzZÅåøßıİ가나다 -_"
    word = "".join(rng.choice(letters) for _ in range(rng.randint(1, 6)))
    return [{"type": "Property", "value": word}]


def vehicle(rng: random.Random, n: int) -> Entity:
    entity: Entity = {
        "id": f"urn:ngsi-ld:Vehicle:{rng.randrange(10**6):06d}-{n}",  # ids out of creation order
        "type": [f"{NS}Car" if n % 4 else f"{NS}Bus"],
        "createdAt": T0,
        "modifiedAt": T0,
        f"{NS}name": [{"type": "Property", "value": f"v{rng.randint(0, 9)}"}],
    }
    values = speed(rng, n)
    if values is not None:
        entity[f"{NS}speed"] = values
    labels = label(rng)
    if labels is not None:
        entity[f"{NS}label"] = labels
    return entity


ORDERS = [
    (OrderTerm(f"{NS}speed"),),
    (OrderTerm(f"{NS}speed", direction="desc"),),
    (OrderTerm(f"{NS}speed"), OrderTerm(f"{NS}name", direction="desc")),
    (OrderTerm(f"{NS}speed", direction="desc"), OrderTerm("id", direction="desc")),
    (OrderTerm(f"{NS}speed", members=(f"{NS}accuracy",)),),
    (OrderTerm(f"{NS}speed", keys=("k",), direction="desc"),),
]
TEXT_ORDERS = [
    (OrderTerm(f"{NS}label"),),
    (OrderTerm(f"{NS}label", direction="desc"),),
    (OrderTerm(f"{NS}label"), OrderTerm("id", direction="desc")),
    (OrderTerm(f"{NS}label", direction="desc"), OrderTerm(f"{NS}speed")),
    (OrderTerm(f"{NS}label", keys=("k",)),),
]
FILTERS: list[dict[str, Any]] = [
    {},
    {"types": TypeName(f"{NS}Car")},
    {"q": q('name=="v3"|name=="v4"')},
    {"q": q("speed<20")},
]


def cases(order: tuple[OrderTerm, ...]) -> list[EntityQuery]:
    """The pages asked for with `order`: under each filter, the first of one and of seven,
    two in the middle, and one that reaches past the 600 entities' numbers (the fifth)."""
    return [
        EntityQuery(order=order, limit=limit, offset=offset, **where)
        for where in FILTERS
        for limit, offset in [(1, 0), (7, 0), (20, 13), (50, 100), (100, 480)]
    ]


def entities() -> list[Entity]:
    """The 600 vehicles the tests order."""
    rng = random.Random(7)
    return [vehicle(rng, n) for n in range(600)]


def creates() -> list[tuple[str, Any]]:
    """The 600 vehicles the tests order, as the store's create mutations."""
    return [(v["id"], create(v)) for v in entities()]
