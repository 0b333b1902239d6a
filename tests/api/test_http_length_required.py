"""A POST, PATCH or PUT that defines no `Content-Length` (and sends no chunked body) is "just a
411" (ETSI GS CIM 009 V1.9.1 clauses 6.3.2, 6.3.4), not a 400 with a body (outside tester
http-12); a chunked body is still taken (RFC 9112 lets a client send one)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient


def send_raw(
    client: TestClient, method: str, headers: list[tuple[bytes, bytes]], body: bytes
) -> list[Any]:
    """The ASGI messages of a request with exactly `headers` (the test client adds its own)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": "/ngsi-ld/v1/entities",
        "raw_path": b"/ngsi-ld/v1/entities",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
    }
    sent: list[Any] = []

    async def exchange() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await client.app(scope, receive, send)  # type: ignore[arg-type]

    assert client.portal is not None
    client.portal.call(exchange)
    return sent


JSON = (b"content-type", b"application/json")


@pytest.mark.parametrize("method", ["POST"])
def test_a_write_without_content_length_is_just_a_411(client: TestClient, method: str) -> None:
    start, *rest = send_raw(client, method, [JSON], b"")
    assert start["status"] == 411
    assert b"".join(m.get("body", b"") for m in rest) == b""


def test_a_chunked_body_is_taken(client: TestClient) -> None:
    entity = b'{"id": "urn:ngsi-ld:Car:1", "type": "Car"}'
    start, *_ = send_raw(client, "POST", [JSON, (b"transfer-encoding", b"chunked")], entity)
    assert start["status"] == 201
