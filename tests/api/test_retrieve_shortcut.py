"""The plain Retrieve Entity answered before routing (`dalgu.api.retrieve`) is byte for byte
what the full handler answers; every other form still reaches the full handler."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from dalgu.api.retrieve import EntityRetrieval

E = "/ngsi-ld/v1/entities"
RICH: dict[str, Any] = {
    "id": "urn:ngsi-ld:Shop:ü-1",
    "type": ["Shop", "https://example.org/Place"],
    "scope": ["/Daegu/Jung"],
    "name": {"type": "LanguageProperty", "languageMap": {"ko": "가게", "en": "shop"}},
    "category": {"type": "VocabProperty", "vocab": "retail"},
    "speed": {
        "type": "Property",
        "value": 1.5,
        "unitCode": "KMH",
        "observedAt": "2026-11-25T04:00:00Z",
        "accuracy": {"type": "Property", "value": 0.9},
    },
    "owner": [
        {"type": "Relationship", "object": "urn:ngsi-ld:Person:1"},
        {"type": "Relationship", "object": "urn:ngsi-ld:Person:2", "datasetId": "urn:x:b"},
    ],
    "tags": {"type": "ListProperty", "valueList": [1, "a", None]},
    "raw": {"type": "JsonProperty", "json": {"a": [1, {"b": None}]}},
    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [128.6, 35.87]}},
}
PLAIN_ACCEPTS = [None, "application/json", "*/*", "application/*", "application/ld+json"]


def _get(client: TestClient, url: str, accept: str | None, tenant: str | None) -> Any:
    headers = {}
    if accept is not None:
        headers["Accept"] = accept
    if tenant is not None:
        headers["NGSILD-Tenant"] = tenant
    return client.get(url, headers=headers)


@pytest.mark.parametrize("accept", PLAIN_ACCEPTS)
@pytest.mark.parametrize("tenant", [None, "city-1"])
def test_plain_retrieve_answers_as_the_full_handler(
    client: TestClient, accept: str | None, tenant: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = client.post(E, json=RICH, headers={"NGSILD-Tenant": tenant} if tenant else {})
    assert created.status_code == 201
    url = f"{E}/urn:ngsi-ld:Shop:%C3%BC-1"
    shortcut = _get(client, url, accept, tenant)
    monkeypatch.setattr(EntityRetrieval, "_answer", _never)
    full = _get(client, url, accept, tenant)
    assert shortcut.status_code == full.status_code == 200
    assert shortcut.content == full.content
    assert list(shortcut.headers.items()) == list(full.headers.items())


async def _never(self: EntityRetrieval, scope: Any, send: Any) -> bool:
    return False


def test_plain_retrieve_is_answered_before_routing(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.post(E, json=RICH)
    answered: list[str] = []
    original = EntityRetrieval._answer

    async def spy(self: EntityRetrieval, scope: Any, send: Any) -> bool:
        done = await original(self, scope, send)
        answered.append(scope["path"] if done else "")
        return done

    monkeypatch.setattr(EntityRetrieval, "_answer", spy)
    assert client.get(f"{E}/urn:ngsi-ld:Shop:%C3%BC-1").status_code == 200
    assert client.get(f"{E}/urn:ngsi-ld:Shop:none").status_code == 404
    assert answered == [f"{E}/urn:ngsi-ld:Shop:ü-1", ""]


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/urn:ngsi-ld:Shop:none", {}, 404),
        ("/not-a-uri", {}, 400),
        ("/urn:ngsi-ld:Shop:%C3%BC-1", {"NGSILD-Tenant": "bad tenant!"}, 400),
        ("/urn:ngsi-ld:Shop:%C3%BC-1", {"Accept": "text/html"}, 406),
        ("/urn:ngsi-ld:Shop:%C3%BC-1?bogus=1", {}, 400),
    ],
)
def test_other_forms_get_the_full_handlers_answer(
    client: TestClient, path: str, headers: dict[str, str], status: int
) -> None:
    client.post(E, json=RICH)
    response = client.get(E + path, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["type"].startswith("https://uri.etsi.org/ngsi-ld/errors/")


def test_the_kept_rendering_follows_every_write(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store keeps each entity's plain rendering from its last write (`DefaultRendering`):
    after each kind of write, the shortcut still answers what the full handler renders."""
    url = f"{E}/urn:ngsi-ld:Shop:%C3%BC-1"
    writes = [
        ("post", E, RICH),
        ("patch", f"{url}/attrs", {"speed": {"type": "Property", "value": 3.0}}),
        ("post", f"{url}/attrs", {"door": {"type": "Property", "value": "open"}}),
        ("patch", f"{url}/attrs/door", {"value": "shut"}),
        ("delete", f"{url}/attrs/tags", None),
        ("delete", f"{url}/attrs/owner?datasetId=urn:x:b", None),
        ("patch", url, {"category": {"type": "VocabProperty", "vocab": "food"}}),
        ("put", url, {"type": "Shop", "name": {"type": "Property", "value": "new"}}),
        (
            "post",
            f"{E[: -len('/entities')]}/entityOperations/upsert?options=update",
            [{"id": RICH["id"], "type": "Shop", "speed": {"type": "Property", "value": 9}}],
        ),
    ]
    for method, target, body in writes:
        answer = client.request(method, target, json=body)
        assert answer.status_code in (201, 204), (method, target, answer.text)
        shortcut = client.get(url)
        with monkeypatch.context() as patched:
            patched.setattr(EntityRetrieval, "_answer", _never)
            full = client.get(url)
        assert shortcut.status_code == full.status_code == 200
        assert shortcut.content == full.content, (method, target)
    assert shortcut.json()["speed"]["value"] == 9
    assert shortcut.json()["name"]["value"] == "new"
