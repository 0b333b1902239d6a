"""A page of entities in the default rendering (core context only, normalized, no options) is
sent from the renderings the store keeps: byte for byte what rendering the documents gives,
for GET and POST queries, with paging and counts, and with entities that have none kept."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from starlette.testclient import TestClient

from dalgu.api import batch, entities
from dalgu.api.respond import link_header
from dalgu.ldcontext import CORE_CONTEXT_URL
from dalgu.store.base import EntityQuery
from tests.api.test_retrieve_shortcut import RICH

E = "/ngsi-ld/v1/entities"
QUERY = "/ngsi-ld/v1/entityOperations/query"
LINK = link_header(CORE_CONTEXT_URL)  # the core context named: the same default view


def shops() -> list[dict[str, Any]]:
    made = []
    for n in range(7):
        shop = {**RICH, "id": f"urn:ngsi-ld:Shop:{n}"}
        shop["speed"] = {**RICH["speed"], "value": n}
        made.append(shop)
    return made


def _rendering_documents(query: EntityQuery, *_: Any) -> EntityQuery:
    return query


def both_ways(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, method: str, url: str, **kw: Any
) -> tuple[Any, Any]:
    kept = client.request(method, url, **kw)
    with monkeypatch.context() as patched:  # the page rendered from the documents
        patched.setattr(entities, "kept_renderings", _rendering_documents)
        patched.setattr(batch, "kept_renderings", _rendering_documents)
        rendered = client.request(method, url, **kw)
    return kept, rendered


ASKED = [
    ("GET", f"{E}?type=Shop&limit=3&offset=2&count=true", {}),
    ("GET", f"{E}?type=Shop&q=speed>2&orderBy=speed;desc", {}),
    ("GET", f"{E}?type=Shop&limit=4", {"headers": {"Accept": "application/ld+json"}}),
    ("POST", QUERY, {"json": {"type": "Query", "entities": [{"type": "Shop"}]}}),
    ("GET", f"{E}?type=Shop&options=keyValues", {}),  # not the default: rendered as asked
    ("GET", f"{E}?type=Shop&attrs=speed", {}),
]


@pytest.mark.parametrize("method,url,kw", ASKED)
def test_a_page_from_kept_renderings_is_the_rendered_page(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, method: str, url: str, kw: Any
) -> None:
    created = client.post(f"{E[: -len('/entities')]}/entityOperations/create", json=shops())
    assert created.status_code == 201
    kept, rendered = both_ways(client, monkeypatch, method, url, **kw)
    assert kept.status_code == rendered.status_code == 200
    assert kept.content == rendered.content
    assert kept.headers.get("NGSILD-Results-Count") == rendered.headers.get("NGSILD-Results-Count")
    assert kept.json()  # the page is not empty


def test_a_page_mixing_kept_and_missing_renderings(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = client.app.state.dalgu.store  # type: ignore[attr-defined]
    if not hasattr(store, "db"):
        pytest.skip("the embedded store's file is changed by hand here")
    client.post(f"{E[: -len('/entities')]}/entityOperations/create", json=shops())
    db: sqlite3.Connection = store.db
    db.execute(  # as an entity written before renderings were kept
        "UPDATE entities SET rendered = NULL WHERE id IN (?, ?)",
        ("urn:ngsi-ld:Shop:1", "urn:ngsi-ld:Shop:4"),
    )
    kept, rendered = both_ways(client, monkeypatch, "GET", f"{E}?type=Shop")
    assert kept.content == rendered.content
    assert [e["id"] for e in kept.json()] == [f"urn:ngsi-ld:Shop:{n}" for n in range(7)]
    assert kept.json()[4]["speed"]["value"] == 4
    with_link = client.get(f"{E}?type=Shop", headers={"Link": LINK})
    assert with_link.content == kept.content
