"""Context Source Registration Subscriptions (clauses 5.11, 5.3.2): the API, and
notifications to a real HTTP receiver, on every store backend."""

from __future__ import annotations

import functools
import queue
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.receiver import Receiver
from tests.registrations.common import R, hosted_link, problem_type, registration

S = "/ngsi-ld/v1/csourceSubscriptions"


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


def test_crud(client: TestClient) -> None:
    created = client.post(S, json=subscription("http://127.0.0.1:9/x", watchedAttributes=["speed"]))
    assert created.status_code == 201
    url = created.headers["location"]
    sub_id = url.removeprefix(S + "/")
    assert sub_id.startswith("urn:ngsi-ld:Subscription:")
    got = client.get(url).json()
    assert got["id"] == sub_id and got["watchedAttributes"] == ["speed"]
    assert got["status"] == "active" and got["entities"] == [{"type": "Vehicle"}]
    assert [s["id"] for s in client.get(S).json()] == [sub_id]
    assert client.patch(url, json={"isActive": False}).status_code == 204
    assert client.get(url).json()["status"] == "paused"
    assert client.delete(url).status_code == 204
    missing = client.get(url)
    assert missing.status_code == 404 and problem_type(missing) == "ResourceNotFound"
    assert client.delete(url).status_code == 404


def test_csource_subscriptions_are_not_entity_subscriptions(client: TestClient) -> None:
    created = client.post(S, json=subscription("http://127.0.0.1:9/x"))
    url = created.headers["location"]
    sub_id = url.removeprefix(S + "/")
    assert client.get(f"/ngsi-ld/v1/subscriptions/{sub_id}").status_code == 404
    assert client.get("/ngsi-ld/v1/subscriptions").json() == []


@pytest.mark.parametrize(
    "body",
    [
        {"type": "Subscription", "notification": {"endpoint": {"uri": "http://a/b"}}},
        {"type": "Subscription", "entities": [{"type": "V"}]},
        subscription("ftp://x/y"),
        subscription("http://a/b", type="Registration"),
        subscription("http://a/b", id="not a uri"),
        subscription("http://a/b", temporalQ={"timerel": "before"}),
        subscription("http://a/b", temporalQ={"timerel": "before", "timeAt": "x"}),
        subscription("http://a/b", csf="a=="),
        subscription("http://a/b", expiresAt="2018-01-01T00:00:00Z"),
    ],
)
def test_invalid_subscription_is_400_bad_request_data(client: TestClient, body: Any) -> None:
    response = client.post(S, json=body)
    assert response.status_code == 400, body
    assert problem_type(response) == "BadRequestData"


def test_create_twice_is_409_and_tenants_are_apart(client: TestClient) -> None:
    body = subscription("http://127.0.0.1:9/x", id="urn:ngsi-ld:Subscription:s1")
    assert client.post(S, json=body).status_code == 201
    again = client.post(S, json=body)
    assert again.status_code == 409 and problem_type(again) == "AlreadyExists"
    assert client.post(S, json=body, headers={"NGSILD-Tenant": "t1"}).status_code == 201
    assert (
        client.get(S + "/urn:ngsi-ld:Subscription:s1", headers={"NGSILD-Tenant": "t2"}).status_code
        == 404
    )


def test_initial_notification_lists_matching_registrations(
    client: TestClient, receiver: Receiver
) -> None:
    assert client.post(R, json=registration(1)).status_code == 201
    other = registration(2)
    other["information"] = [{"entities": [{"type": "Tram"}]}]
    assert client.post(R, json=other).status_code == 201
    created = client.post(S, json=subscription(receiver.url))
    headers, note = receiver.next()
    assert note["type"] == "ContextSourceNotification"
    assert note["triggerReason"] == "newlyMatching"
    assert note["id"].startswith("urn:ngsi-ld:Notification:") and "notifiedAt" in note
    assert note["subscriptionId"] == created.headers["location"].removeprefix(S + "/")
    [data] = note["data"]
    assert data["id"] == "urn:ngsi-ld:ContextSourceRegistration:1"
    assert data["information"] == [registration()["information"][0]]  # only what matches
    assert headers["content-type"] == "application/json"


def test_changes_of_matching_registrations_are_notified_with_trigger_reasons(
    client: TestClient, receiver: Receiver
) -> None:
    notification = {"endpoint": {"uri": receiver.url}, "attributes": ["speed"]}
    watching = subscription(receiver.url, watchedAttributes=["speed"], notification=notification)
    assert client.post(S, json=watching).status_code == 201
    assert client.post(R, json=registration(1)).status_code == 201
    _, created = receiver.next()
    assert created["triggerReason"] == "newlyMatching"
    assert created["data"][0]["id"] == "urn:ngsi-ld:ContextSourceRegistration:1"
    url = f"{R}/urn:ngsi-ld:ContextSourceRegistration:1"
    assert client.patch(url, json={"endpoint": "http://other.example.org"}).status_code == 204
    _, updated = receiver.next()
    assert updated["triggerReason"] == "updated"
    assert updated["data"][0]["endpoint"] == "http://other.example.org"
    no_speed = [{"entities": [{"type": "Vehicle"}], "propertyNames": ["fuel"]}]
    assert client.patch(url, json={"information": no_speed}).status_code == 204
    _, gone = receiver.next()
    assert gone["triggerReason"] == "noLongerMatching"
    back = [{"entities": [{"type": "Vehicle"}], "propertyNames": ["speed"]}]
    assert client.patch(url, json={"information": back}).status_code == 204
    _, again = receiver.next()
    assert again["triggerReason"] == "newlyMatching"
    assert client.delete(url).status_code == 204
    _, deleted = receiver.next()
    assert deleted["triggerReason"] == "noLongerMatching"
    assert deleted["data"][0]["id"] == "urn:ngsi-ld:ContextSourceRegistration:1"


def test_watched_attributes_alone_do_not_restrict_the_match(
    client: TestClient, receiver: Receiver
) -> None:
    """Clause 5.12: without notification attributes the match is made as if no attribute
    were given; a `color` registration went unnotified to a subscription watching `speed`."""
    assert client.post(S, json=subscription(receiver.url, watchedAttributes=["speed"])).is_success
    colour = registration(2)
    colour["information"] = [{"entities": [{"type": "Vehicle"}], "propertyNames": ["color"]}]
    assert client.post(R, json=colour).status_code == 201
    _, note = receiver.next()
    assert note["triggerReason"] == "newlyMatching"
    assert note["data"][0]["id"] == "urn:ngsi-ld:ContextSourceRegistration:2"


def test_unmatched_registrations_and_paused_subscriptions_are_not_notified(
    client: TestClient, receiver: Receiver
) -> None:
    created = client.post(S, json=subscription(receiver.url))
    tram = registration(2)
    tram["information"] = [{"entities": [{"type": "Tram"}]}]
    assert client.post(R, json=tram).status_code == 201
    assert client.patch(created.headers["location"], json={"isActive": False}).status_code == 204
    assert client.post(R, json=registration(1)).status_code == 201
    with pytest.raises(queue.Empty):
        receiver.next(timeout=1.0)


def test_status_records_the_notifications_sent(client: TestClient, receiver: Receiver) -> None:
    created = client.post(S, json=subscription(receiver.url))
    assert client.post(R, json=registration(1)).status_code == 201
    receiver.next()
    for _ in range(50):
        notification = client.get(created.headers["location"]).json()["notification"]
        if "lastSuccess" in notification:
            break
        time.sleep(0.1)
    assert notification["timesSent"] == 1 and notification["status"] == "ok"
    assert "lastSuccess" in notification


def test_notifications_are_compacted_with_the_subscription_context(
    client: TestClient, receiver: Receiver
) -> None:
    link = hosted_link(client)
    assert client.post(S, json=subscription(receiver.url), headers=link).status_code == 201
    assert client.post(R, json=registration(1), headers=link).status_code == 201
    headers, note = receiver.next()
    info = note["data"][0]["information"]
    assert info[0]["entities"][0]["type"] == "Vehicle"
    assert info[0]["propertyNames"] == ["brandName", "speed"]
    assert "jsonldContexts" in headers["link"]


def test_temporal_q_matches_intervals(client: TestClient, receiver: Receiver) -> None:
    temporal = {"timerel": "before", "timeAt": "2021-08-01T22:00:00Z"}
    assert client.post(S, json=subscription(receiver.url, temporalQ=temporal)).status_code == 201
    assert client.post(R, json=registration(1)).status_code == 201  # latest information only
    observed = registration(2, observationInterval={"startAt": "2020-08-01T22:07:00Z"})
    assert client.post(R, json=observed).status_code == 201
    _, note = receiver.next()
    assert [d["id"][-1] for d in note["data"]] == ["2"]


def test_time_interval_sends_the_matching_registrations_periodically(
    client: TestClient, receiver: Receiver
) -> None:
    assert client.post(R, json=registration(1)).status_code == 201
    assert client.post(S, json=subscription(receiver.url, timeInterval=1)).status_code == 201
    _, first = receiver.next()
    first_at = time.monotonic()
    _, second = receiver.next()
    assert first["triggerReason"] == second["triggerReason"] == "timeInterval"
    assert [d["id"][-1] for d in second["data"]] == ["1"]
    assert time.monotonic() - first_at >= 0.8  # one interval between them
    # a change is not notified on its own: the next periodic notifications include it
    assert client.post(R, json=registration(2)).status_code == 201
    for _ in range(3):
        _, later = receiver.next()
        assert later["triggerReason"] == "timeInterval"
        if len(later["data"]) == 2:
            break
    assert sorted(d["id"][-1] for d in later["data"]) == ["1", "2"]


def test_update_notifies_all_currently_matching_registrations(
    client: TestClient, receiver: Receiver
) -> None:
    tram = registration(2)
    tram["information"] = [{"entities": [{"type": "Tram"}]}]
    assert client.post(R, json=tram).status_code == 201
    assert client.post(R, json=registration(1)).status_code == 201
    created = client.post(S, json=subscription(receiver.url))
    _, first = receiver.next()
    assert [d["id"][-1] for d in first["data"]] == ["1"]
    both = {"entities": [{"type": "Vehicle"}, {"type": "Tram"}]}
    assert client.patch(created.headers["location"], json=both).status_code == 204
    _, after = receiver.next()
    assert after["triggerReason"] == "newlyMatching"
    assert sorted(d["id"][-1] for d in after["data"]) == ["1", "2"]


def test_a_subscription_that_cannot_be_evaluated_does_not_fail_registrations(
    client: TestClient, receiver: Receiver
) -> None:
    # a stored subscription whose csf no longer parses (written through the store, as an
    # older version might have accepted it): the registration is still written and answered,
    # and the other subscriptions are still notified
    bad = {
        "id": "urn:ngsi-ld:Subscription:bad",
        "type": "Subscription",
        "entities": [{"type": "https://uri.etsi.org/ngsi-ld/default-context/Vehicle"}],
        "csf": "a==",
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/x"}},
        "tenant": "",
    }
    store = client.app.state.dalgu.store  # type: ignore[attr-defined]
    put = functools.partial(store.put_csource_subscription, "", bad["id"], bad, create=True)
    client.portal.call(put)  # type: ignore[union-attr]
    assert client.post(S, json=subscription(receiver.url)).status_code == 201
    assert client.post(R, json=registration(1)).status_code == 201
    _, note = receiver.next()
    assert note["data"][0]["id"] == "urn:ngsi-ld:ContextSourceRegistration:1"


def test_an_expired_registration_is_not_notified(client: TestClient, receiver: Receiver) -> None:
    """A subscription made after a registration expired was sent it as newlyMatching."""
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat(timespec="milliseconds")
    expiring = registration(1, expiresAt=soon.replace("+00:00", "Z"))
    assert client.post(R, json=expiring).status_code == 201
    assert client.post(R, json=registration(2)).status_code == 201
    time.sleep(1.2)
    assert client.post(S, json=subscription(receiver.url)).status_code == 201
    _, note = receiver.next()
    assert [d["id"] for d in note["data"]] == ["urn:ngsi-ld:ContextSourceRegistration:2"]


def test_a_registration_that_expires_is_no_longer_matching(
    client: TestClient, receiver: Receiver
) -> None:
    """Clause 5.2.9: an expired registration is invalid; its subscribers were never told."""
    assert client.post(S, json=subscription(receiver.url)).status_code == 201
    soon = (datetime.now(UTC) + timedelta(seconds=1.5)).isoformat(timespec="milliseconds")
    expiring = registration(1, expiresAt=soon.replace("+00:00", "Z"))
    assert client.post(R, json=expiring).status_code == 201
    _, created = receiver.next()
    assert created["triggerReason"] == "newlyMatching"
    _, expired = receiver.next(timeout=10)
    assert expired["triggerReason"] == "noLongerMatching"
    assert [d["id"] for d in expired["data"]] == ["urn:ngsi-ld:ContextSourceRegistration:1"]
    assert client.post(R, json=registration(2)).status_code == 201  # nothing more of 1
    _, later = receiver.next()
    assert later["triggerReason"] == "newlyMatching"
    assert [d["id"] for d in later["data"]] == ["urn:ngsi-ld:ContextSourceRegistration:2"]


@pytest.mark.parametrize(
    ("csf", "status", "kind"),
    [
        ("endpoint==", 400, "BadRequestData"),
        (42, 400, "BadRequestData"),
        ('owner{name}=="x"', 422, "OperationNotSupported"),
    ],
)
def test_a_csf_that_cannot_filter_is_refused_at_creation(
    client: TestClient, csf: Any, status: int, kind: str
) -> None:
    """A `csf` is a q over registrations' properties (clause 4.9): one that does not parse,
    or follows a link a registration cannot have, was stored and failed at each match."""
    refused = client.post(S, json=subscription("http://127.0.0.1:9/x", csf=csf))
    assert refused.status_code == status, refused.text
    assert problem_type(refused) == kind
    kept = client.post(S, json=subscription("http://127.0.0.1:9/x", csf='mode=="inclusive"'))
    assert kept.status_code == 201, kept.text
