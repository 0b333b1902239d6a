"""Merge Entity's `options` takes `simplified` or `keyValues` only (Table 6.5.3.4-1). A merge
always overwrites (clause 5.6.17.3 gives it no overwrite flag), so `noOverwrite` is refused
as any other value, not ignored while the attributes were overwritten with a 204."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
ID = "urn:ngsi-ld:T:merge-options"
ENTITY = {"id": ID, "type": "T", "b": {"type": "Property", "value": "keep"}}


@pytest.mark.parametrize("options", ["noOverwrite", "bogus", "keyValues,noOverwrite", "sysAttrs"])
def test_merge_refuses_options_it_does_not_define(client: TestClient, options: str) -> None:
    assert client.post(E, json=ENTITY).status_code == 201
    fragment = {"b": {"type": "Property", "value": "changed"}}
    answer = client.patch(f"{E}/{ID}", params={"options": options}, json=fragment)
    assert answer.status_code == 400, answer.text
    assert answer.json()["type"].endswith("InvalidRequest")
    assert client.get(f"{E}/{ID}").json() == ENTITY


def test_merge_takes_the_simplified_options(client: TestClient) -> None:
    assert client.post(E, json=ENTITY).status_code == 201
    for options in ("keyValues", "simplified"):
        answer = client.patch(f"{E}/{ID}", params={"options": options}, json={"b": options})
        assert answer.status_code == 204, answer.text
        assert client.get(f"{E}/{ID}").json()["b"]["value"] == options
