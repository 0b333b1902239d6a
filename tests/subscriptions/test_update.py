"""Update Subscription (clause 5.8.2): members merged one by one, removed by NGSI-LD Null."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.receiver import Receiver

S = "/ngsi-ld/v1/subscriptions"
E = "/ngsi-ld/v1/entities"
NULL = "urn:ngsi-ld:null"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _create(client: TestClient, **members: Any) -> str:
    body = {
        "type": "Subscription",
        "entities": [{"type": "Meter"}],
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/x"}},
        **members,
    }
    created = client.post(S, json=body)
    assert created.status_code == 201, created.text
    return str(created.headers["location"])


@pytest.mark.parametrize("null", [NULL, None])
def test_a_removed_q_no_longer_filters(client: TestClient, receiver: Receiver, null: Any) -> None:
    """Clause 5.5.8 (which 5.8.2.4 applies): a Null member of the fragment removes it. Stored
    as a query, `urn:ngsi-ld:null` silenced the subscription for good."""
    url = _create(client, q="power>100", notification={"endpoint": {"uri": receiver.url}})
    assert client.patch(url, json={"q": null}).status_code == 204
    got = client.get(url).json()
    assert "q" not in got
    client.post(E, json={"id": "urn:ngsi-ld:Meter:1", "type": "Meter", "power": 5})
    _, body = receiver.next()
    assert body["data"][0]["id"] == "urn:ngsi-ld:Meter:1"


def test_optional_members_are_removed_and_defaults_come_back(client: TestClient) -> None:
    url = _create(
        client,
        watchedAttributes=["power"],
        geoQ={"georel": "near;maxDistance==10", "geometry": "Point", "coordinates": [1, 2]},
        expiresAt="2999-01-01T00:00:00Z",
        throttling=5,
        isActive=False,
        notificationTrigger=["attributeDeleted"],
        description="meters",
    )
    fragment = {
        "geoQ": NULL,
        "expiresAt": NULL,
        "throttling": NULL,
        "isActive": NULL,
        "notificationTrigger": NULL,
        "description": NULL,
    }
    assert client.patch(url, json=fragment).status_code == 204
    got = client.get(url).json()
    for member in ("geoQ", "expiresAt", "throttling", "description"):
        assert member not in got, member
    assert "isActive" not in got and got["status"] == "active"  # true by default
    assert got["notificationTrigger"] == ["attributeCreated", "attributeUpdated"]
    assert got["watchedAttributes"] == ["power"]


def test_a_mandatory_member_cannot_be_removed(client: TestClient) -> None:
    url = _create(client)
    for fragment in ({"notification": NULL}, {"entities": NULL}, {"type": NULL}):
        response = client.patch(url, json=fragment)
        assert response.status_code == 400, (fragment, response.text)
    # the endpoint is mandatory inside the notification too
    response = client.patch(url, json={"notification": {"endpoint": NULL}})
    assert response.status_code == 400
    assert client.get(url).json()["entities"] == [{"type": "Meter"}]


def test_notification_members_are_merged_one_by_one(client: TestClient) -> None:
    url = _create(
        client,
        notification={
            "endpoint": {"uri": "http://127.0.0.1:9/x", "accept": "application/ld+json"},
            "attributes": ["power"],
            "format": "concise",
            "sysAttrs": True,
        },
    )
    # the endpoint is mandatory in an update's notification too (ETSI 029_03_01)
    assert client.patch(url, json={"notification": {"format": "keyValues"}}).status_code == 400
    endpoint = {"uri": "http://127.0.0.1:9/x", "accept": "application/ld+json"}
    fragment = {"notification": {"endpoint": endpoint, "format": "keyValues"}}
    assert client.patch(url, json=fragment).status_code == 204
    notification = client.get(url).json()["notification"]
    assert notification["endpoint"]["uri"] == "http://127.0.0.1:9/x"
    assert notification["endpoint"]["accept"] == "application/ld+json"
    assert notification["attributes"] == ["power"] and notification["sysAttrs"] is True
    assert notification["format"] == "keyValues"
    fragment = {
        "notification": {
            "endpoint": endpoint,
            "attributes": NULL,
            "format": NULL,
            "pick": ["power"],
        }
    }
    assert client.patch(url, json=fragment).status_code == 204
    notification = client.get(url).json()["notification"]
    assert "attributes" not in notification
    assert notification["format"] == "normalized" and notification["pick"] == ["power"]
    # what cannot go together is judged on the merged notification
    clash = client.patch(url, json={"notification": {"endpoint": endpoint, "omit": ["power"]}})
    assert clash.status_code == 400, clash.text
    assert client.get(url).json()["notification"]["pick"] == ["power"]


def test_split_entities_and_ngsild_conformance_are_members(client: TestClient) -> None:
    """Table 5.2.12-1 lists both; they were refused as unknown members."""
    url = _create(client, splitEntities=False, ngsildConformance="1.9")
    got = client.get(url).json()
    assert got["splitEntities"] is False and got["ngsildConformance"] == "1.9"
    bad = client.post(
        S,
        json={
            "type": "Subscription",
            "entities": [{"type": "Meter"}],
            "notification": {"endpoint": {"uri": "http://127.0.0.1:9/x"}},
            "splitEntities": "yes",
        },
    )
    assert bad.status_code == 400
    # amending notifications for an earlier version (clause 4.3.6.8) is not built: said so
    older = client.patch(url, json={"ngsildConformance": "1.6"})
    assert older.status_code == 422, older.text
    assert older.json()["type"].endswith("OperationNotSupported")
    assert client.patch(url, json={"ngsildConformance": "one"}).status_code == 400


def test_a_paused_subscription_resumed_by_removing_is_active(
    client: TestClient, receiver: Receiver
) -> None:
    url = _create(client, isActive=False, notification={"endpoint": {"uri": receiver.url}})
    client.post(E, json={"id": "urn:ngsi-ld:Meter:2", "type": "Meter", "power": 1})
    with pytest.raises(queue.Empty):
        receiver.next(timeout=1.0)
    assert client.patch(url, json={"isActive": NULL}).status_code == 204
    client.patch(f"{E}/urn:ngsi-ld:Meter:2/attrs/power", json={"value": 2})
    _, body = receiver.next()
    assert body["data"][0]["power"]["value"] == 2


def _notified(receiver: Receiver, timeout: float = 1.5) -> list[Any]:
    bodies = []
    while True:
        try:
            bodies.append(receiver.next(timeout=timeout)[1])
        except queue.Empty:
            return bodies


def test_writing_the_same_value_again_is_not_a_change(
    client: TestClient, receiver: Receiver
) -> None:
    """Clause 5.8.6: an attribute changes when a member gets a value different from the
    existing one; a device resending its reading flooded subscribers."""
    _create(client, notification={"endpoint": {"uri": receiver.url}})
    client.post(E, json={"id": "urn:ngsi-ld:Meter:3", "type": "Meter", "power": 21})
    assert len(_notified(receiver)) == 1  # attributeCreated
    for _ in range(3):
        response = client.patch(f"{E}/urn:ngsi-ld:Meter:3/attrs/power", json={"value": 21})
        assert response.status_code == 204
    assert _notified(receiver) == []
    client.patch(f"{E}/urn:ngsi-ld:Meter:3/attrs/power", json={"value": 22})
    # a new observedAt is a change too, the value being the same
    at = {"value": 22, "observedAt": "2026-12-07T00:00:00Z"}
    client.patch(f"{E}/urn:ngsi-ld:Meter:3/attrs/power", json=at)
    bodies = _notified(receiver)
    assert [b["data"][0]["power"]["value"] for b in bodies] == [22, 22]
    assert bodies[1]["data"][0]["power"]["observedAt"] == "2026-12-07T00:00:00Z"


def test_show_changes_pairs_each_instance_with_its_own_dataset(
    client: TestClient, receiver: Receiver
) -> None:
    """Clause 5.2.14.1 with multi-attributes (4.5.5): the previous value of an instance is its
    own, not the first instance's."""
    _create(
        client,
        notificationTrigger=["attributeUpdated", "attributeDeleted"],
        notification={"endpoint": {"uri": receiver.url}, "showChanges": True},
    )
    entity = "urn:ngsi-ld:Meter:4"
    a = "urn:ngsi-ld:Dataset:a"
    power = [
        {"type": "Property", "value": 1, "datasetId": a},
        {"type": "Property", "value": 2},
    ]
    client.post(E, json={"id": entity, "type": "Meter", "power": power})
    client.patch(f"{E}/{entity}/attrs", json={"power": {"value": 5, "datasetId": a}})
    client.patch(f"{E}/{entity}/attrs", json={"power": {"type": "Property", "value": 7}})
    client.delete(f"{E}/{entity}/attrs/power", params={"datasetId": a})
    bodies = _notified(receiver)
    assert len(bodies) == 3
    by_dataset = [{i.get("datasetId"): i for i in body["data"][0]["power"]} for body in bodies]
    assert by_dataset[0][a]["previousValue"] == 1 and "previousValue" not in by_dataset[0][None]
    assert by_dataset[1][None]["previousValue"] == 2 and "previousValue" not in by_dataset[1][a]
    deleted = by_dataset[2]
    assert deleted[a]["value"] == NULL and deleted[a]["previousValue"] == 5
    assert deleted[None]["value"] == 7 and "previousValue" not in deleted[None]


def test_a_replace_that_drops_an_attribute_shows_it_deleted(
    client: TestClient, receiver: Receiver
) -> None:
    """One change created `b` and deleted `a`: a subscriber of both triggers sees both."""
    _create(
        client,
        notificationTrigger=["attributeCreated", "attributeDeleted"],
        notification={"endpoint": {"uri": receiver.url}, "format": "keyValues"},
    )
    entity = "urn:ngsi-ld:Meter:5"
    client.post(f"{E}/{entity}/attrs", json={})  # not there yet: 404, nothing sent
    client.post(E, json={"id": entity, "type": "Meter", "a": 1})
    assert len(_notified(receiver)) == 1
    replaced = client.put(f"{E}/{entity}", json={"type": "Meter", "b": 2})
    assert replaced.status_code == 204, replaced.text
    (body,) = _notified(receiver)
    assert body["data"][0]["b"] == 2 and body["data"][0]["a"] == NULL
