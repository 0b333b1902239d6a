"""Random entities and changes to them, for tests that a store's kept counts stay true."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Any

from dalgu.broker.mutations import create, delete
from dalgu.store.base import Entity

NS = "https://example.org/"
T0 = "2026-12-06T04:00:00.000Z"
TYPES = [f"{NS}{t}" for t in ("Car", "Bus", "Tram")]
NAMES = [f"{NS}{n}" for n in ("speed", "owner", "where", "label")]


def instance(rng: random.Random, n: int) -> dict[str, Any]:
    kind = rng.choice(["Property", "Property", "Relationship", "GeoProperty", "LanguageProperty"])
    body: dict[str, Any] = {"type": kind, "createdAt": T0, "modifiedAt": T0}
    if kind == "Property":
        body["value"] = rng.randint(0, 100)
    elif kind == "Relationship":
        body["object"] = f"urn:ngsi-ld:Thing:{rng.randint(0, 9)}"
    elif kind == "GeoProperty":
        body["value"] = {"type": "Point", "coordinates": [128.5 + n / 1000, 35.8]}
    else:
        body["languageMap"] = {"en": f"thing {n}", "ko": f"물건 {n}"}
    return body


def entity(rng: random.Random, n: int) -> Entity:
    doc: Entity = {
        "id": f"urn:ngsi-ld:Thing:{n}",
        "type": rng.sample(TYPES, rng.choice([1, 1, 1, 2])),
        "createdAt": T0,
        "modifiedAt": T0,
    }
    for name in rng.sample(NAMES, rng.randint(0, len(NAMES))):
        instances = [instance(rng, n)]
        if rng.random() < 0.2:  # a second instance of the attribute, by datasetId
            instances.append({**instance(rng, n), "datasetId": f"urn:ngsi-ld:Dataset:{n}"})
        doc[name] = instances
    return doc


def changed(rng: random.Random, old: Entity) -> Entity:
    """`old` with one change: a value, an attribute added or gone, its kind, the types."""
    new = {
        k: ([dict(i) for i in v] if isinstance(v, list) and k.startswith(NS) else v)
        for k, v in old.items()
    }
    move = rng.choice(["value", "value", "add", "drop", "kind", "types"])
    names = [k for k in new if k.startswith(NS)]
    if move == "value" and names:
        first = new[rng.choice(names)][0]
        if first["type"] == "Property":
            first["value"] = rng.randint(0, 100)
    elif move == "add":
        new[rng.choice(NAMES)] = [instance(rng, 1)]
    elif move == "drop" and names:
        del new[rng.choice(names)]
    elif move == "kind" and names:
        new[rng.choice(names)] = [instance(rng, 2)]
    elif move == "types":
        new["type"] = rng.sample(TYPES, rng.choice([1, 2, 3]))
    return new


def put(doc: Entity) -> Any:
    return lambda _: doc


def batches(rng: random.Random, tenants: list[str], steps: int) -> list[tuple[str, list[Any]]]:
    """`steps` batches of creates, replaces and deletes, each in one of `tenants` and
    touching an entity once, as (tenant, items for `mutate`)."""
    live: dict[tuple[str, int], Entity] = {}
    out: list[tuple[str, list[Any]]] = []
    for _ in range(steps):
        tenant = rng.choice(tenants)
        batch: list[tuple[str, Any]] = []
        for n in rng.sample(range(30), rng.randint(1, 6)):
            key = (tenant, n)
            old = live.get(key)
            doc_id = f"urn:ngsi-ld:Thing:{n}"
            if old is None:
                live[key] = entity(rng, n)
                batch.append((doc_id, create(live[key])))
            elif rng.random() < 0.2:
                del live[key]
                batch.append((doc_id, delete(doc_id)))
            else:
                live[key] = changed(rng, old)
                batch.append((doc_id, put(live[key])))
        out.append((tenant, batch))
    return out


TENANTS = ["", "other"]


async def write_mixed(
    store: Any, seed: int, steps: int, check: Callable[[list[str]], Awaitable[None]]
) -> None:
    """`steps` batches of `batches` in `TENANTS` written to `store`, `check(TENANTS)` after
    every ten and at the end."""
    for step, (tenant, batch) in enumerate(batches(random.Random(seed), TENANTS, steps)):
        await store.mutate(tenant, batch)
        if step % 10 == 9:
            await check(TENANTS)
    await check(TENANTS)
