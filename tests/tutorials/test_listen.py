"""`dalgu listen`: a notification endpoint that prints each body as one line."""

from __future__ import annotations

import threading

import httpx
import pytest

from dalgu.cli.listen import Listener, address_of
from tests.ports import free_port


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("9090", ("127.0.0.1", 9090)),
        ("127.0.0.1:9090", ("127.0.0.1", 9090)),
        ("localhost:9090", ("127.0.0.1", 9090)),
        ("http://127.0.0.1:9090/notify", ("127.0.0.1", 9090)),
        ("[::1]:9090", ("::1", 9090)),
    ],
)
def test_where_to_listen(text: str, address: tuple[str, int]) -> None:
    assert address_of(text) == address


@pytest.mark.parametrize(("text", "problem"), [("0.0.0.0:9090", "loopback"), ("127.0.0.1", "port")])
def test_only_loopback_with_a_port(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        address_of(text)


def test_each_notification_is_one_line_and_it_stops_after_count(
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = free_port()
    server = Listener(("127.0.0.1", port), count=2)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/notify"
    notification = {"type": "Notification", "data": [{"id": "urn:x:1", "name": "대구"}]}
    assert httpx.post(url, json=notification).status_code == 204
    assert httpx.post(url, content=b"not json\n").status_code == 204
    thread.join(5)
    server.server_close()
    assert not thread.is_alive()
    assert capsys.readouterr().out.splitlines() == [
        '{"type":"Notification","data":[{"id":"urn:x:1","name":"대구"}]}',
        "not json",
    ]


def test_a_body_without_a_length_is_refused() -> None:
    port = free_port()
    server = Listener(("127.0.0.1", port))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        chunked = httpx.post(f"http://127.0.0.1:{port}/", content=iter([b"{}"]))
        assert chunked.status_code == 411
    finally:
        server.shutdown()
        server.server_close()
