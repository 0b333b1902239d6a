"""Subscriptions: the API, matching, and delivery to a real HTTP receiver and Mosquitto."""

from __future__ import annotations

import json
import queue
import uuid
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from starlette.testclient import TestClient

from tests.receiver import Receiver

S = "/ngsi-ld/v1/subscriptions"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"
E = "/ngsi-ld/v1/entities"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def subscription(uri: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "Subscription",
        "entities": [{"type": "Vehicle"}],
        "notification": {"endpoint": {"uri": uri}},
        **extra,
    }


def vehicle(n: int, speed: float) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Vehicle:{n}",
        "type": "Vehicle",
        "speed": {"type": "Property", "value": speed},
    }


def test_subscription_crud(client: TestClient) -> None:
    created = client.post(
        S, json=subscription("http://127.0.0.1:9/x", watchedAttributes=["speed"], q="speed>10")
    )
    assert created.status_code == 201
    url = created.headers["location"]
    sub_id = url.rsplit("/", 1)[1]
    got = client.get(url).json()
    assert got["id"] == sub_id and got["watchedAttributes"] == ["speed"]
    assert got["status"] == "active" and got["entities"] == [{"type": "Vehicle"}]
    assert [s["id"] for s in client.get(S).json()] == [sub_id]
    assert client.patch(url, json={"isActive": False}).status_code == 204
    assert client.get(url).json()["status"] == "paused"
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    assert client.post(S, json={"type": "Subscription"}).status_code == 400


def test_bad_subscriptions_are_400(client: TestClient) -> None:
    bad = [
        subscription("ftp://x/y"),
        subscription("http://127.0.0.1:9/x", q="speed>>"),
        subscription("http://127.0.0.1:9/x", notificationTrigger=["sometimes"]),
        subscription("http://127.0.0.1:9/x", timeInterval=-1),
        {"type": "Subscription", "notification": {"endpoint": {"uri": "http://a/b"}}},
    ]
    for body in bad:
        assert client.post(S, json=body).status_code == 400, body


@pytest.mark.parametrize(
    "notification",
    [
        {"endpoint": {"uri": "mqtt://127.0.0.1:1883"}},  # no topic: every send fails
        {"endpoint": {"uri": "mqtt://127.0.0.1:1883/city/#"}},  # a filter, not a topic
        {"endpoint": {"uri": "mqtt://127.0.0.1:1883/city/+/speed"}},
        {"endpoint": {"uri": "http:///notify"}},  # no host
        {
            "endpoint": {
                "uri": "mqtt://127.0.0.1:1883/t",
                "notifierInfo": [{"key": "MQTT-QoS", "value": "5"}],
            }
        },
        {
            "endpoint": {
                "uri": "mqtt://127.0.0.1:1883/t",
                "notifierInfo": [{"key": "MQTT-Version", "value": "mqtt9"}],
            }
        },
        {"endpoint": {"uri": "http://127.0.0.1:9/x", "cooldown": 0}},  # "greater than 0"
        {"endpoint": {"uri": "http://127.0.0.1:9/x", "timeout": -1}},
        {"endpoint": {"uri": "http://127.0.0.1:9/x"}, "pick": []},  # empty arrays: no
        {"endpoint": {"uri": "http://127.0.0.1:9/x"}, "showChanges": True, "format": "keyValues"},
    ],
)
def test_a_subscription_that_could_never_deliver_is_400(
    client: TestClient, notification: dict[str, Any]
) -> None:
    """Clauses 5.2.14.1, 5.2.15 and 7.2: accepted, such a subscription would fail every
    notification (or, with a wildcard, report "ok" for publishes nobody receives)."""
    body = subscription("http://127.0.0.1:9/x", notification=notification)
    response = client.post(S, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("BadRequestData")


def test_an_endpoint_timeout_and_cooldown_are_kept(client: TestClient) -> None:
    endpoint = {"uri": "http://127.0.0.1:9/x", "timeout": 1500, "cooldown": 60000}
    body = subscription("http://127.0.0.1:9/x", notification={"endpoint": endpoint})
    created = client.post(S, json=body)
    assert created.status_code == 201, created.text
    got = client.get(created.headers["location"]).json()
    assert got["notification"]["endpoint"]["timeout"] == 1500
    assert got["notification"]["endpoint"]["cooldown"] == 60000


def test_matching_change_is_notified_over_http(client: TestClient, receiver: Receiver) -> None:
    client.post(
        S,
        json=subscription(
            receiver.url,
            q="speed>50",
            notification={"endpoint": {"uri": receiver.url}, "attributes": ["speed"]},
        ),
    )
    client.post(E, json=vehicle(1, 10))  # q does not match: no notification
    client.post(E, json=vehicle(2, 80))
    headers, body = receiver.next()
    assert body["type"] == "Notification" and body["data"][0]["id"] == "urn:ngsi-ld:Vehicle:2"
    assert body["data"][0]["speed"]["value"] == 80
    assert headers["content-type"] == "application/json" and "link" in headers
    client.patch(f"{E}/urn:ngsi-ld:Vehicle:2/attrs/speed", json={"value": 90})
    _, update = receiver.next()
    assert update["data"][0]["speed"]["value"] == 90
    with pytest.raises(queue.Empty):
        receiver.next(timeout=0.5)


def test_ld_json_endpoint_and_tenant_and_receiver_info(
    client: TestClient, receiver: Receiver
) -> None:
    tenant = {"NGSILD-Tenant": "firm-a"}
    sub = subscription("x")
    sub["notification"] = {
        "endpoint": {
            "uri": receiver.url,
            "accept": "application/ld+json",
            "receiverInfo": [{"key": "X-Token", "value": "t1"}],
        },
        "format": "keyValues",
    }
    client.post(S, json=sub, headers=tenant)
    client.post(E, json=vehicle(3, 5), headers={"NGSILD-Tenant": "firm-b"})  # other tenant
    client.post(E, json=vehicle(4, 5), headers=tenant)
    headers, body = receiver.next()
    assert headers["content-type"] == "application/ld+json" and "link" not in headers
    assert headers["ngsild-tenant"] == "firm-a" and headers["x-token"] == "t1"
    (entity,) = body["data"]  # each entity is a JSON-LD document with the context
    assert entity.pop("@context") == body["@context"]
    assert entity == {"id": "urn:ngsi-ld:Vehicle:4", "type": "Vehicle", "speed": 5}


@pytest.mark.parametrize("fmt", ["normalized", "keyValues"])
def test_a_geojson_endpoint_gets_a_feature_collection(
    client: TestClient, receiver: Receiver, fmt: str
) -> None:
    """Clause 5.2.15: `accept` is the MIME type of the notification's payload; for GeoJSON
    its data is a FeatureCollection whose geometries are the entities' location."""
    sub = subscription("x")
    sub["notification"] = {
        "endpoint": {"uri": receiver.url, "accept": "application/geo+json"},
        "format": fmt,
    }
    assert client.post(S, json=sub).status_code == 201
    located = {
        **vehicle(6, 7),
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [128.6, 35.87]},
        },
    }
    client.post(E, json=located)
    headers, body = receiver.next()
    assert headers["content-type"] == "application/geo+json" and "link" in headers
    assert body["type"] == "Notification"
    collection = body["data"]
    assert collection["type"] == "FeatureCollection"
    (feature,) = collection["features"]
    assert feature["type"] == "Feature" and feature["id"] == "urn:ngsi-ld:Vehicle:6"
    assert feature["geometry"] == {"type": "Point", "coordinates": [128.6, 35.87]}
    speed = feature["properties"]["speed"]
    assert (speed if fmt == "keyValues" else speed["value"]) == 7


def test_triggers_entity_deleted_and_watched_attributes(
    client: TestClient, receiver: Receiver
) -> None:
    client.post(
        S,
        json=subscription(
            receiver.url,
            watchedAttributes=["fuel"],
            notificationTrigger=["attributeUpdated", "entityDeleted"],
        ),
    )
    client.post(E, json={**vehicle(5, 1), "fuel": {"type": "Property", "value": 1}})
    client.patch(f"{E}/urn:ngsi-ld:Vehicle:5/attrs/speed", json={"value": 2})  # not watched
    client.patch(f"{E}/urn:ngsi-ld:Vehicle:5/attrs/fuel", json={"value": 0.5})
    _, updated = receiver.next()
    assert updated["triggerReason"] == "attributeUpdated"
    client.delete(f"{E}/urn:ngsi-ld:Vehicle:5")
    _, deleted = receiver.next()
    assert deleted["triggerReason"] == "entityDeleted"
    assert deleted["data"][0]["id"] == "urn:ngsi-ld:Vehicle:5" and "deletedAt" in deleted["data"][0]


def test_status_counts_sent_notifications(client: TestClient, receiver: Receiver) -> None:
    url = client.post(S, json=subscription(receiver.url)).headers["location"]
    client.post(E, json=vehicle(6, 1))
    receiver.next()
    for _ in range(50):
        notification = client.get(url).json()["notification"]
        if "lastSuccess" in notification:
            break
        import time

        time.sleep(0.05)
    assert notification["timesSent"] == 1 and notification["status"] == "ok"
    assert "lastSuccess" in notification


def test_notification_over_mqtt_reaches_mosquitto(client: TestClient) -> None:
    topic = f"dalgu/test/{uuid.uuid4().hex}"
    messages: queue.Queue[bytes] = queue.Queue()
    subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    subscriber.on_message = lambda c, u, m: messages.put(m.payload)
    subscriber.connect("127.0.0.1", 1883)
    subscriber.subscribe(topic, qos=1)
    subscriber.loop_start()
    try:
        sub = subscription("x")
        sub["notification"] = {
            "endpoint": {
                "uri": f"mqtt://127.0.0.1:1883/{topic}",
                "notifierInfo": [{"key": "MQTT-QoS", "value": "1"}],
            }
        }
        assert client.post(S, json=sub).status_code == 201
        client.post(E, json=vehicle(7, 33))
        message = json.loads(messages.get(timeout=10))
        assert message["body"]["data"][0]["speed"]["value"] == 33
        assert message["metadata"]["Content-Type"] == "application/json"
    finally:
        subscriber.loop_stop()
        subscriber.disconnect()


def test_time_interval_notifies_periodically(client: TestClient, receiver: Receiver) -> None:
    client.post(E, json=vehicle(8, 40))
    sub = {
        "type": "Subscription",
        "entities": [{"type": "Vehicle"}],
        "timeInterval": 1,
        "notification": {"endpoint": {"uri": receiver.url}, "format": "keyValues"},
    }
    assert client.post(S, json=sub).status_code == 201
    _, first = receiver.next()
    _, second = receiver.next(timeout=5)
    assert first["triggerReason"] == second["triggerReason"] == "timeInterval"
    assert second["data"] == [{"id": "urn:ngsi-ld:Vehicle:8", "type": "Vehicle", "speed": 40}]


def test_throttling_drops_notifications_within_the_period(
    client: TestClient, receiver: Receiver
) -> None:
    client.post(S, json=subscription(receiver.url, throttling=60))
    client.post(E, json=vehicle(9, 1))
    receiver.next()
    client.patch(f"{E}/urn:ngsi-ld:Vehicle:9/attrs/speed", json={"value": 2})
    with pytest.raises(queue.Empty):
        receiver.next(timeout=1)


def test_show_changes_carries_the_previous_value(client: TestClient, receiver: Receiver) -> None:
    sub = subscription(receiver.url, notificationTrigger=["attributeUpdated"])
    sub["notification"] = {"endpoint": {"uri": receiver.url}, "showChanges": True}
    client.post(S, json=sub)
    client.post(E, json=vehicle(10, 1))
    client.patch(f"{E}/urn:ngsi-ld:Vehicle:10/attrs/speed", json={"value": 2})
    _, body = receiver.next()
    assert body["data"][0]["speed"]["value"] == 2
    assert body["data"][0]["speed"]["previousValue"] == 1


def test_paused_and_expired_subscriptions_stay_silent(
    client: TestClient, receiver: Receiver
) -> None:
    url = client.post(S, json=subscription(receiver.url)).headers["location"]
    client.patch(url, json={"isActive": False})
    client.post(E, json=vehicle(11, 1))
    with pytest.raises(queue.Empty):
        receiver.next(timeout=1)
    assert client.patch(url, json={"expiresAt": "2020-01-01T00:00:00Z"}).status_code == 400


def test_subscription_is_returned_as_written(client: TestClient) -> None:
    body = subscription("http://127.0.0.1:9/x", timeInterval=5)
    url = client.post(S, json=body).headers["location"]
    got = client.get(url).json()
    assert got["timeInterval"] == 5 and isinstance(got["timeInterval"], int)
    assert "createdAt" not in got and "isActive" not in got
    assert "createdAt" in client.get(url, params={"options": "sysAttrs"}).json()
    bad = subscription("http://127.0.0.1:9/x", jsonldContext="not a uri")
    assert client.post(S, json=bad).status_code == 400


def test_an_inline_context_becomes_an_implicitly_created_one(client: TestClient) -> None:
    context = [
        {"Building": "https://example.org/Building"},
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
    ]
    body = {
        "id": "urn:ngsi-ld:Subscription:implicit",
        "type": "Subscription",
        "entities": [{"type": "Building"}],
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
        "@context": context,
    }
    created = client.post(
        S, content=json.dumps(body), headers={"Content-Type": "application/ld+json"}
    )
    assert created.status_code == 201, created.text
    sub = client.get(f"{S}/urn:ngsi-ld:Subscription:implicit").json()
    url = sub["jsonldContext"]
    local_id = url.rsplit("/", 1)[1]
    served = client.get(f"/ngsi-ld/v1/jsonldContexts/{local_id}")
    assert served.status_code == 200 and served.json() == {"@context": context}
    listed = client.get(
        "/ngsi-ld/v1/jsonldContexts", params={"kind": "ImplicitlyCreated", "details": "true"}
    ).json()
    assert [e["URL"] for e in listed] == [url]
    assert listed[0]["kind"] == "ImplicitlyCreated"


def test_deleted_attribute_is_notified_with_the_ngsi_ld_null(
    client: TestClient, receiver: Receiver
) -> None:
    sub = subscription(receiver.url, notificationTrigger=["attributeDeleted"])
    sub["notification"] = {"endpoint": {"uri": receiver.url}, "showChanges": True}
    client.post(S, json=sub)
    client.post(E, json={**vehicle(12, 1), "fuel": {"type": "Property", "value": 0.5}})
    assert client.delete(f"{E}/urn:ngsi-ld:Vehicle:12/attrs/fuel").status_code == 204
    _, body = receiver.next()
    assert body["triggerReason"] == "attributeDeleted"
    fuel = body["data"][0]["fuel"]
    assert fuel == {"type": "Property", "previousValue": 0.5, "value": "urn:ngsi-ld:null"}
    assert body["data"][0]["speed"]["value"] == 1


def test_a_deleted_list_is_notified_and_recorded_as_an_array_of_one_null(
    client: TestClient, receiver: Receiver
) -> None:
    """Clauses 4.5.21.2 and 4.5.22.3: a deleted ListProperty or ListRelationship is encoded,
    in notifications and temporal evolutions, as an array of one NGSI-LD Null; it was the Null
    alone, which breaks a consumer reading an array (an outside test, round 6)."""
    sub = subscription(receiver.url, notificationTrigger=["attributeDeleted"])
    client.post(S, json=sub)
    lists = {
        "stops": {"type": "ListProperty", "valueList": [1, 2]},
        "route": {"type": "ListRelationship", "objectList": [{"object": "urn:ngsi-ld:Stop:1"}]},
    }
    client.post(E, json={**vehicle(13, 1), **lists})
    for name, member in (("stops", "valueList"), ("route", "objectList")):
        assert client.delete(f"{E}/urn:ngsi-ld:Vehicle:13/attrs/{name}").status_code == 204
        _, body = receiver.next()
        assert body["data"][0][name][member] == ["urn:ngsi-ld:null"]
    history = client.get(
        "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:Vehicle:13",
        params={"timeproperty": "deletedAt", "timerel": "after", "timeAt": "2000-01-01T00:00:00Z"},
    ).json()
    assert history["stops"][0]["valueList"] == ["urn:ngsi-ld:null"]
    assert history["route"][0]["objectList"] == ["urn:ngsi-ld:null"]


def test_show_changes_in_a_chosen_language_gives_the_previous_text(
    client: TestClient, receiver: Receiver
) -> None:
    """A subscription's `lang` shows a LanguageProperty as a Property in one language (clause
    4.15), and a Property's earlier value is `previousValue` (clause 4.5.2.2, where
    `previousLanguageMap` "shall never be present"); it carried the whole previous
    languageMap (an outside test, round 6)."""
    sub = subscription(receiver.url, lang="fr")
    sub["notification"] = {"endpoint": {"uri": receiver.url}, "showChanges": True}
    client.post(S, json=sub)
    name = {"type": "LanguageProperty", "languageMap": {"en": "Square", "fr": "Place"}}
    client.post(E, json={**vehicle(14, 1), "name": name})
    receiver.next()
    patched = {"name": {"type": "LanguageProperty", "languageMap": {"fr": "Parvis"}}}
    assert client.patch(f"{E}/urn:ngsi-ld:Vehicle:14", json=patched).status_code == 204
    _, body = receiver.next()
    shown = body["data"][0]["name"]
    assert shown["type"] == "Property" and shown["value"] == "Parvis" and shown["lang"] == "fr"
    assert shown["previousValue"] == "Place"
    assert "previousLanguageMap" not in shown


def test_deleted_dataset_instance_is_notified_in_the_simplified_multi_attribute(
    client: TestClient, receiver: Receiver
) -> None:
    """keyValues (clause 4.5.4): the attribute's instances by datasetId, the deleted one as
    the NGSI-LD Null; deleting a plain attribute notifies the Null alone."""
    sub = subscription(receiver.url, notificationTrigger=["attributeDeleted"])
    sub["notification"] = {"endpoint": {"uri": receiver.url}, "format": "keyValues"}
    client.post(S, json=sub)
    names = [
        {"type": "Property", "value": "Daegu one"},
        {"type": "Property", "value": "대구 1", "datasetId": "urn:ngsi-ld:Dataset:ko"},
        {"type": "Property", "value": "Taikyu 1", "datasetId": "urn:ngsi-ld:Dataset:old"},
    ]
    client.post(E, json={**vehicle(15, 3), "name": names})
    url = f"{E}/urn:ngsi-ld:Vehicle:15/attrs/name"
    assert client.delete(url, params={"datasetId": "urn:ngsi-ld:Dataset:old"}).status_code == 204
    _, body = receiver.next()
    assert body["data"][0]["name"] == {
        "dataset": {
            "@none": "Daegu one",
            "urn:ngsi-ld:Dataset:ko": "대구 1",
            "urn:ngsi-ld:Dataset:old": "urn:ngsi-ld:null",
        }
    }
    assert client.delete(f"{E}/urn:ngsi-ld:Vehicle:15/attrs/speed").status_code == 204
    _, body = receiver.next()
    assert body["data"][0]["speed"] == "urn:ngsi-ld:null"


def test_several_contexts_are_hosted_as_the_subscriptions_jsonld_context(
    client: TestClient, receiver: Receiver
) -> None:
    context = [{"speed": "https://example.org/speed"}, CORE]
    body = {**subscription(receiver.url), "@context": context}
    headers = {"Content-Type": "application/ld+json"}
    url = client.post(S, content=json.dumps(body), headers=headers).headers["location"]
    hosted = client.get(url).json()["jsonldContext"]
    local_id = hosted.rsplit("/", 1)[1]
    assert client.get(f"/ngsi-ld/v1/jsonldContexts/{local_id}").json() == {"@context": context}
    listed = client.get("/ngsi-ld/v1/jsonldContexts", params={"kind": "ImplicitlyCreated"})
    assert hosted in listed.json()
    client.post(E, json=vehicle(13, 7))
    notified, _ = receiver.next()
    assert notified["link"].startswith(f"<{hosted}>")


def test_subscriptions_are_listed_in_the_order_they_were_created(client: TestClient) -> None:
    ids = [f"urn:ngsi-ld:Subscription:{n}" for n in ("c", "a", "b")]
    for sub_id in ids:
        client.post(S, json={**subscription("http://127.0.0.1:9/x"), "id": sub_id})
    assert [s["id"] for s in client.get(S).json()] == ids
    page = client.get(S, params={"limit": 1, "offset": 1})
    assert [s["id"] for s in page.json()] == ids[1:2]
    assert 'rel="prev"' in page.headers["link"] and 'rel="next"' in page.headers["link"]


def test_join_flat_notifies_the_linked_entities_too(client: TestClient, receiver: Receiver) -> None:
    client.post(E, json={"id": "urn:ngsi-ld:Garage:1", "type": "Garage", "name": "North"})
    sub = subscription(receiver.url)
    sub["notification"] = {"endpoint": {"uri": receiver.url}, "join": "flat", "joinLevel": 1}
    client.post(S, json=sub)
    parked = {"type": "Relationship", "object": "urn:ngsi-ld:Garage:1"}
    client.post(E, json={**vehicle(14, 0), "parkedIn": parked})
    _, body = receiver.next()
    assert [e["id"] for e in body["data"]] == ["urn:ngsi-ld:Vehicle:14", "urn:ngsi-ld:Garage:1"]
    assert body["data"][1]["name"]["value"] == "North"


def test_entity_selector_with_a_type_selection(client: TestClient, receiver: Receiver) -> None:
    sub = {**subscription(receiver.url), "entities": [{"type": "(Truck|Van)"}], "q": "n==%221%22"}
    url = client.post(S, json=sub).headers["location"]
    assert client.get(url).json()["entities"] == [{"type": "(Truck|Van)"}]
    client.post(E, json={"id": "urn:ngsi-ld:Bus:1", "type": "Bus", "n": "1"})
    client.post(E, json={"id": "urn:ngsi-ld:Van:1", "type": "Van", "n": "2"})
    client.post(E, json={"id": "urn:ngsi-ld:Truck:1", "type": "Truck", "n": "1"})
    _, body = receiver.next()
    assert body["data"][0]["id"] == "urn:ngsi-ld:Truck:1"  # the Bus and "2" are not selected
    with pytest.raises(queue.Empty):
        receiver.next(timeout=0.5)
