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
    return entity


ORDERS = [
    (OrderTerm(f"{NS}speed"),),
    (OrderTerm(f"{NS}speed", direction="desc"),),
    (OrderTerm(f"{NS}speed"), OrderTerm(f"{NS}name", direction="desc")),
    (OrderTerm(f"{NS}speed", direction="desc"), OrderTerm("id", direction="desc")),
    (OrderTerm(f"{NS}speed", members=(f"{NS}accuracy",)),),
    (OrderTerm(f"{NS}speed", keys=("k",), direction="desc"),),
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


def creates() -> list[tuple[str, Any]]:
    """The 600 vehicles the tests order, as the store's create mutations."""
    rng = random.Random(7)
    return [(v["id"], create(v)) for v in (vehicle(rng, n) for n in range(600))]
