"""`receiverInfo` (clause 5.2.15) becomes HTTP headers of the notification: an entry that is no
valid header, or that names one the notifier writes itself or that frames the message, is
refused at creation and update (400 naming the key), and the sender never writes one it did
not check, also for a subscription stored before that check (outside tester notif-3, notif-4).
"""

from __future__ import annotations

import queue
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

S = "/ngsi-ld/v1/subscriptions"
E = "/ngsi-ld/v1/entities"


class RawReceiver:
    """Keeps each request's head byte for byte (http.server would hide a second field) and
    answers 204 on kept-alive connections."""

    def __init__(self) -> None:
        self.heads: queue.Queue[bytes] = queue.Queue()
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/notify"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        data = b""
        with connection:
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                        break
                while len(data) < length:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                data = data[length:]
                self.heads.put(head)
                connection.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")

    def next_head(self, timeout: float = 10.0) -> list[bytes]:
        return self.heads.get(timeout=timeout).split(b"\r\n")

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def raw() -> Iterator[RawReceiver]:
    receiver = RawReceiver()
    yield receiver
    receiver.close()


def subscription(uri: str, info: list[dict[str, Any]], sub_id: str | None = None) -> Any:
    body: dict[str, Any] = {
        "type": "Subscription",
        "entities": [{"type": "Kart"}],
        "notification": {"endpoint": {"uri": uri, "receiverInfo": info}},
    }
    if sub_id is not None:
        body["id"] = sub_id
    return body


def kart(n: int) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Kart:{n}", "type": "Kart", "n": {"type": "Property", "value": n}}


def names(head: list[bytes]) -> list[bytes]:
    return [line.partition(b":")[0].lower() for line in head[1:]]


FRAMING_OR_OWN = [
    "Content-Length",
    "content-length",
    "Transfer-Encoding",
    "Host",
    "Connection",
    "Content-Type",
    "Content-Encoding",
    "Link",
    "NGSILD-Tenant",
    "Upgrade",
    "TE",
    "Trailer",
    "Keep-Alive",
    "Expect",
    "Proxy-Authorization",
    "Proxy-Connection",
]


@pytest.mark.parametrize("key", FRAMING_OR_OWN)
def test_a_key_naming_a_header_the_notifier_sets_or_that_frames_the_message_is_refused(
    client: TestClient, key: str
) -> None:
    answer = client.post(S, json=subscription("http://127.0.0.1:9/n", [{"key": key, "value": "5"}]))
    assert answer.status_code == 400, answer.text
    assert answer.json()["type"].endswith("BadRequestData")
    assert key in answer.json()["detail"]


@pytest.mark.parametrize("key", ["bad key:", "", "X(A)", "X-A:", "Ümlaut", "a\r\nb"])
def test_a_key_that_is_not_an_http_field_name_is_refused(client: TestClient, key: str) -> None:
    answer = client.post(S, json=subscription("http://127.0.0.1:9/n", [{"key": key, "value": "x"}]))
    assert answer.status_code == 400, answer.text
    assert repr(key) in answer.json()["detail"]


@pytest.mark.parametrize("value", ["a\r\nX-Evil: 1", "a\nb", "a\rb", "a\x00b", "a\x1bb", "a\x7fb"])
@pytest.mark.parametrize("uri", ["http://127.0.0.1:9/n", "mqtt://127.0.0.1:9/notif/x"])
def test_a_value_with_a_control_character_is_refused(
    client: TestClient, value: str, uri: str
) -> None:
    answer = client.post(S, json=subscription(uri, [{"key": "X-A", "value": value}]))
    assert answer.status_code == 400, answer.text
    detail = answer.json()["detail"]
    assert "X-A" in detail or "NUL" in detail  # a NUL is refused in any body, before


def test_a_non_ascii_value_is_refused_for_an_http_endpoint_not_altered(
    client: TestClient,
) -> None:
    """RFC 9110 5.5: a field value is visible ASCII (obs-text is opaque bytes a receiver need
    not read as UTF-8): it used to reach the receiver as `??`."""
    info = [{"key": "X-Desk", "value": "대구"}]
    answer = client.post(S, json=subscription("http://127.0.0.1:9/n", info))
    assert answer.status_code == 400, answer.text
    assert "X-Desk" in answer.json()["detail"] and "ASCII" in answer.json()["detail"]


def test_a_non_ascii_value_is_kept_for_an_mqtt_endpoint(client: TestClient) -> None:
    """Over MQTT the entries go into the message's JSON `metadata` (clause 7.2), which carries
    any text unaltered."""
    info = [{"key": "X-Desk", "value": "대구"}]
    answer = client.post(S, json=subscription("mqtt://127.0.0.1:9/notif/desk", info))
    assert answer.status_code == 201, answer.text
    shown = client.get(answer.headers["location"]).json()
    assert shown["notification"]["endpoint"]["receiverInfo"] == info


def test_a_value_with_surrounding_whitespace_is_refused(client: TestClient) -> None:
    """RFC 9110 5.5: a receiver strips it, so the value would not arrive as given."""
    answer = client.post(
        S, json=subscription("http://127.0.0.1:9/n", [{"key": "X-A", "value": " a "}])
    )
    assert answer.status_code == 400, answer.text


def test_a_key_given_twice_is_refused(client: TestClient) -> None:
    info = [{"key": "X-A", "value": "1"}, {"key": "x-a", "value": "2"}]
    answer = client.post(S, json=subscription("http://127.0.0.1:9/n", info))
    assert answer.status_code == 400, answer.text
    assert "x-a" in answer.json()["detail"].lower()


def test_an_update_with_a_framing_key_is_refused_and_changes_nothing(client: TestClient) -> None:
    sub_id = "urn:ngsi-ld:Subscription:ri-update"
    info = [{"key": "Authorization", "value": "Bearer t"}]
    created = client.post(S, json=subscription("http://127.0.0.1:9/n", info, sub_id))
    assert created.status_code == 201
    bad = {"uri": "http://127.0.0.1:9/n", "receiverInfo": [{"key": "Content-Length", "value": "1"}]}
    answer = client.patch(f"{S}/{sub_id}", json={"notification": {"endpoint": bad}})
    assert answer.status_code == 400, answer.text
    assert "Content-Length" in answer.json()["detail"]
    shown = client.get(f"{S}/{sub_id}").json()
    assert shown["notification"]["endpoint"]["receiverInfo"] == info


def test_valid_entries_reach_the_receiver_once_each_after_the_notifiers_own(
    client: TestClient, raw: RawReceiver
) -> None:
    info = [
        {"key": "Authorization", "value": "Bearer abc.def"},
        {"key": "X-Api-Key", "value": "k\t1 ~!"},
        {"key": "X-Empty", "value": ""},
    ]
    assert client.post(S, json=subscription(raw.url, info)).status_code == 201
    client.post(E, json=kart(1))
    head = raw.next_head()
    assert names(head).count(b"content-length") == 1 and names(head).count(b"host") == 1
    assert b"Authorization: Bearer abc.def" in head
    assert b"X-Api-Key: k\t1 ~!" in head
    assert b"X-Empty: " in head


def test_a_subscription_stored_before_the_check_is_sent_without_its_bad_entries(
    client: TestClient, raw: RawReceiver
) -> None:
    """The sender checks every entry too: one stored by an earlier Dalgu that would frame the
    message, break a line or be altered is left out (and logged), the others are sent."""
    sub_id = "urn:ngsi-ld:Subscription:ri-stored"
    good = [{"key": "X-Ok", "value": "1"}]
    assert client.post(S, json=subscription(raw.url, good, sub_id)).status_code == 201
    store = client.app.state.dalgu.store  # type: ignore[attr-defined]
    portal = client.portal  # type: ignore[attr-defined]
    doc = portal.call(store.get_subscription, "", sub_id)
    doc["notification"]["endpoint"]["receiverInfo"] = [
        {"key": "Content-Length", "value": "5"},
        {"key": "Host", "value": "evil"},
        {"key": "content-type", "value": "text/plain"},
        {"key": "bad key:", "value": "x"},
        {"key": "X-Inj", "value": "a\r\nX-Evil: 1"},
        {"key": "X-Desk", "value": "대구"},
        {"key": "X-Ok", "value": "1"},
    ]

    async def put() -> None:
        await store.put_subscription("", sub_id, doc, create=False)

    portal.call(put)
    client.post(E, json=kart(2))
    head = raw.next_head()
    assert names(head).count(b"content-length") == 1
    assert names(head).count(b"host") == 1 and b"Host: evil" not in head
    assert names(head).count(b"content-type") == 1 and b"Content-Type: application/json" in head
    assert not any(b"bad key" in line or b"Evil" in line or b"??" in line for line in head)
    assert not any(line.lower().startswith(b"x-desk") for line in head)
    assert b"X-Ok: 1" in head
