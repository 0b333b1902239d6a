"""What a hostile or broken client's body gets: a bounded answer and a quiet log."""

from __future__ import annotations

import asyncio
import gzip
import logging
from typing import Any

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"


def test_an_error_does_not_send_back_a_huge_input_whole(client: TestClient) -> None:
    """A 400 naming a 200 kB id sent the 200 kB back (a way to multiply traffic)."""
    response = client.post(E, json={"id": "x" * 200_000, "type": "T"})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert len(detail) < 1100
    assert detail.endswith("characters more)")


def test_a_compressed_body_is_a_415_naming_the_coding(client: TestClient) -> None:
    """RFC 9110 (15.5.16): a content coding the server does not take is a 415; it was a 400
    saying the body was not valid JSON."""
    body = gzip.compress(b'{"id": "urn:ngsi-ld:T:1", "type": "T"}')
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    response = client.post(E, content=body, headers=headers)
    assert response.status_code == 415, response.text
    assert "Content-Encoding gzip" in response.json()["detail"]
    assert client.get(f"{E}/urn:ngsi-ld:T:1").status_code == 404


def test_a_client_gone_before_its_body_is_not_an_error_in_the_log(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that closed its connection mid-body was logged at error level with two
    tracebacks, 6 kB a time: 500 of them wrote 3 MB of log."""
    app = client.app
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": E,
        "raw_path": E.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 1026),
        "state": {},
    }
    with caplog.at_level(logging.INFO):
        asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert "client went away" in caplog.text
    assert sent[0]["status"] == 400
