"""Values at the edges of what the stores keep, from an outside test of the production
deployment: long incompressible strings, the first and last years a DateTime can name, and
endpoints that are not URLs. Each was a 500 on one store or both."""

from __future__ import annotations

import random
import string
from typing import Any

from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
T = "/ngsi-ld/v1/temporal/entities"


def _noise(n: int, first: str = "") -> str:
    rng = random.Random(n * 31 + len(first))
    return first + "".join(rng.choice(string.ascii_letters) for _ in range(n - len(first)))


def _item(n: int, text: str) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Note:{n}", "type": "Note", "text": text}


def test_a_long_incompressible_string_is_stored_queried_and_ordered(client: TestClient) -> None:
    """A base64 payload of 3 kB broke PostgreSQL's index of strings in collation order (its
    entries hold 2,704 bytes at most): a 500, and a batch holding one lost the others."""
    long_a, long_b = _noise(3000, "Aa"), _noise(4000, "Ab")
    batch = [_item(1, long_a), _item(2, long_b)] + [_item(n, f"B{n:03d}") for n in range(3, 23)]
    created = client.post("/ngsi-ld/v1/entityOperations/create", json=batch)
    assert created.status_code == 201, created.text
    got = client.get(f"{E}/urn:ngsi-ld:Note:1", params={"format": "keyValues"}).json()
    assert got["text"] == long_a
    found = client.get(E, params={"type": "Note", "q": f'text=="{long_b}"'})
    assert [e["id"] for e in found.json()] == ["urn:ngsi-ld:Note:2"]
    # the first page of an ordering by the string holds the long ones where they sort
    page = client.get(E, params={"type": "Note", "orderBy": "text", "limit": "3"}).json()
    assert [e["id"] for e in page] == [f"urn:ngsi-ld:Note:{n}" for n in (1, 2, 3)]
    last = client.get(
        E, params={"type": "Note", "orderBy": "text;desc", "limit": "2", "offset": "20"}
    ).json()
    assert [e["id"] for e in last] == ["urn:ngsi-ld:Note:2", "urn:ngsi-ld:Note:1"]
    updated = client.patch(f"{E}/urn:ngsi-ld:Note:3/attrs/text", json={"value": _noise(5000)})
    assert updated.status_code == 204, updated.text


def test_the_first_and_last_years_are_kept_and_read_back(client: TestClient) -> None:
    for n, at in ((1, "0001-01-01T00:00:00Z"), (2, "9999-12-31T23:59:59Z")):
        body = {
            "id": f"urn:ngsi-ld:Clock:{n}",
            "type": "Clock",
            "tick": {"type": "Property", "value": n, "observedAt": at},
        }
        created = client.post(E, json=body)
        assert created.status_code == 201, (at, created.text)
        history = client.get(f"{T}/urn:ngsi-ld:Clock:{n}", params={"attrs": "tick"})
        assert history.status_code == 200, history.text
        assert history.json()["tick"][0]["observedAt"] == at
        found = client.get(E, params={"type": "Clock", "q": f"tick.observedAt=={at}"})
        assert [e["id"] for e in found.json()] == [f"urn:ngsi-ld:Clock:{n}"], at


def test_a_date_time_before_year_one_in_utc_is_400(client: TestClient) -> None:
    for at in ("0001-01-01T00:00:00+09:00", "9999-12-31T23:59:59-01:00"):
        body = {
            "id": "urn:ngsi-ld:Clock:3",
            "type": "Clock",
            "tick": {"type": "Property", "value": 1, "observedAt": at},
        }
        response = client.post(E, json=body)
        assert response.status_code == 400, (at, response.text)


def test_an_endpoint_that_is_not_a_url_is_400(client: TestClient) -> None:
    subscription = {
        "type": "Subscription",
        "entities": [{"type": "Clock"}],
        "notification": {"endpoint": {"uri": "http://[::1"}},
    }
    response = client.post("/ngsi-ld/v1/subscriptions", json=subscription)
    assert response.status_code == 400, response.text
    registration = {
        "type": "ContextSourceRegistration",
        "information": [{"entities": [{"type": "Clock"}]}],
        "endpoint": "http://[::1",
    }
    response = client.post("/ngsi-ld/v1/csourceRegistrations", json=registration)
    assert response.status_code == 400, response.text


def test_a_year_before_1000_keeps_four_digits_in_the_index() -> None:
    """strftime's %Y wrote year 1 as "1": such a time sorted after "1970-…" in `q` ranges."""
    from dalgu.store.indexing import canonical_datetime

    assert canonical_datetime("0001-01-01T00:00:00Z") == "0001-01-01T00:00:00.000000Z"
    assert canonical_datetime("0999-06-01T09:00:00+09:00") == "0999-06-01T00:00:00.000000Z"
    assert canonical_datetime("0999-06-01T00:00:00Z") < canonical_datetime("1970-01-01T00:00:00Z")


def test_integers_are_kept_exactly_to_64_bits_and_refused_beyond(client: TestClient) -> None:
    """orjson reads an integer past 64 bits as a float: 2^64 was stored as
    1.8446744073709552e+19 without a word. Up to 2^64 - 1 (and down to -2^63) integers are
    kept as sent; beyond, the request is a 400 naming the number, and nothing is written.
    Digits in strings are text."""
    exact = {
        "id": "urn:ngsi-ld:Counter:1",
        "type": "Counter",
        "high": 2**64 - 1,
        "low": -(2**63),
        "past53": 2**53 + 1,
        "serial": "123456789012345678901234567890",
    }
    assert client.post(E, json=exact).status_code == 201
    got = client.get(f"{E}/urn:ngsi-ld:Counter:1", params={"format": "keyValues"}).json()
    assert {k: got[k] for k in ("high", "low", "past53", "serial")} == {
        k: exact[k] for k in ("high", "low", "past53", "serial")
    }
    for value in ("18446744073709551616", "-9223372036854775809", "123456789012345678901234567890"):
        body = '{"id":"urn:ngsi-ld:Counter:2","type":"Counter","n":' + value + "}"
        response = client.post(E, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, response.text
        assert response.json()["type"].endswith("BadRequestData")
        assert value in response.json()["detail"]
    assert client.get(f"{E}/urn:ngsi-ld:Counter:2").status_code == 404
    # an attribute update and a batch are read the same way
    patch = '{"high": {"type": "Property", "value": 99999999999999999999}}'
    answered = client.patch(
        f"{E}/urn:ngsi-ld:Counter:1/attrs",
        content=patch,
        headers={"Content-Type": "application/json"},
    )
    assert answered.status_code == 400
    assert (
        client.get(f"{E}/urn:ngsi-ld:Counter:1", params={"format": "keyValues"}).json()["high"]
        == 2**64 - 1
    )
