"""A client that goes away while sending its body is logged as such, not as a server error."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from starlette.testclient import TestClient


async def _post_and_disconnect(app: Any) -> list[dict[str, Any]]:
    """POST /fhir/Patient whose client sends part of the body, then disconnects."""
    messages = [
        {"type": "http.request", "body": b'{"resourceType":', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [
        (b"host", b"testserver"),
        (b"content-type", b"application/fhir+json"),
        (b"content-length", b"1000"),
        (b"x-dalgu-role", b"admin"),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/fhir/Patient",
        "raw_path": b"/fhir/Patient",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    return sent


def test_a_client_disconnect_is_logged_as_one_not_as_an_unexpected_error(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    assert client.portal is not None
    with caplog.at_level(logging.INFO, logger="dalgu.fhir"):
        client.portal.call(_post_and_disconnect, client.app)
    fhir = [r for r in caplog.records if r.name == "dalgu.fhir"]
    assert not [r for r in fhir if r.levelno >= logging.ERROR]
    assert any("client disconnected" in r.getMessage() for r in fhir)
    assert client.get("/fhir/Patient", headers={"X-Dalgu-Role": "admin"}).json()["total"] == 0
