"""Remote @context documents: fetched once from a real HTTP server, failures are clear 503s."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
REL = 'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


class _Contexts(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        if self.path == "/transit.jsonld":
            _Contexts.hits += 1
            body = json.dumps({"@context": {"Bus": "https://example.org/transit/Bus"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/ld+json")
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/trickle.jsonld":  # a byte every 0.25 s: 3 s in all
            body = json.dumps({"@context": {"Bus": "https://example.org/t/Bus"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/ld+json")
            self.end_headers()
            step = max(1, len(body) // 12)
            try:
                for start in range(0, len(body), step):
                    self.wfile.write(body[start : start + step])
                    self.wfile.flush()
                    time.sleep(0.25)
            except OSError:  # the broker gave up and closed the connection
                pass
        elif self.path == "/broken.jsonld":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{not json")
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def context_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Contexts)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_remote_context_is_fetched_once_and_used(client: TestClient, context_server: str) -> None:
    _Contexts.hits = 0
    link = {"Link": f"<{context_server}/transit.jsonld>; {REL}"}
    assert client.post(E, json={"id": "urn:x:1", "type": "Bus"}, headers=link).status_code == 201
    assert client.get(f"{E}/urn:x:1", headers=link).json()["type"] == "Bus"
    assert client.get(f"{E}/urn:x:1").json()["type"] == "https://example.org/transit/Bus"
    assert _Contexts.hits == 1


def test_unreachable_context_is_503(client: TestClient, context_server: str) -> None:
    link = {"Link": f"<{context_server}/missing.jsonld>; {REL}"}
    response = client.post(E, json={"id": "urn:x:1", "type": "Bus"}, headers=link)
    assert response.status_code == 503
    assert response.json()["type"].endswith("LdContextNotAvailable")


def test_invalid_context_document_is_400(client: TestClient, context_server: str) -> None:
    link = {"Link": f"<{context_server}/broken.jsonld>; {REL}"}
    response = client.post(E, json={"id": "urn:x:1", "type": "Bus"}, headers=link)
    assert response.status_code == 400


def test_a_context_url_with_an_impossible_port_is_400(client: TestClient) -> None:
    """A port past 65535 raised an ExceptionGroup out of the HTTP transport: a 500 on every
    request carrying such a Link (found by a helper testing forwarded @contexts)."""
    for url in ("http://127.0.0.1:70000/c.jsonld", "http://127.0.0.1:0/c.jsonld"):
        link = {"Link": f"<{url}>; {REL}"}
        response = client.get(E, params={"type": "Bus"}, headers=link)
        assert response.status_code == 400, response.text
        assert (
            "not a valid URL" in response.json()["detail"] or "port 0" in response.json()["detail"]
        )


def test_a_context_sent_a_byte_at_a_time_is_given_up_at_the_timeout(
    client: TestClient, context_server: str
) -> None:
    """`context_fetch_timeout` bounded each read, not the fetch: a server sending a byte a
    second held the request as long as it liked. Here the whole document takes 3 s, each read
    a quarter of a second, and the timeout is 1 s."""
    client.app.state.dalgu.resolver._timeout = 1.0  # type: ignore[attr-defined]
    link = {"Link": f"<{context_server}/trickle.jsonld>; {REL}"}
    response = client.post(E, json={"id": "urn:x:1", "type": "Bus"}, headers=link)
    assert response.status_code == 503, response.text
    assert response.json()["type"].endswith("LdContextNotAvailable")
    assert "within 1 s" in response.json()["detail"]
