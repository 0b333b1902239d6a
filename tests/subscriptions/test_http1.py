"""The notification HTTP client against real receivers on loopback."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from dalgu.subscriptions.endpoints import LONGEST_TIMEOUT, answer_within
from dalgu.subscriptions.http1 import HttpFailure, HttpPool


class _Http10(http.server.BaseHTTPRequestHandler):
    """Answers 200 with no Content-Length and closes: the end of the answer is the close."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http10() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Http10)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/notify"
    server.shutdown()
    server.server_close()


def test_an_answer_ended_by_closing_the_connection_is_a_success(http10: str) -> None:
    async def run() -> list[int]:
        pool = HttpPool(timeout=2)
        try:
            headers = {"Content-Type": "application/json"}
            return [await pool.post(http10, headers, b"{}") for _ in range(3)]
        finally:
            await pool.close()

    assert asyncio.run(run()) == [200, 200, 200]


def test_a_header_with_a_line_break_is_refused_not_sent() -> None:
    async def run() -> None:
        await HttpPool().post("http://127.0.0.1:9/x", {"X-A": "1\r\nX-B: 2"}, b"{}")

    with pytest.raises(HttpFailure, match="line break"):
        asyncio.run(run())


class _Slow(http.server.BaseHTTPRequestHandler):
    """Answers after two seconds."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        time.sleep(2)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_notification_waits_no_longer_than_its_endpoints_timeout() -> None:
    """Clause 5.2.15: `timeout` (milliseconds) is how long a notification may wait for its
    answer before it counts as failed."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/notify"

    async def run(within: float | None) -> float:
        pool = HttpPool(timeout=5)
        began = time.monotonic()
        try:
            await pool.post(url, {"Content-Type": "application/json"}, b"{}", within)
        except HttpFailure:
            pass
        finally:
            await pool.close()
        return time.monotonic() - began

    try:
        assert asyncio.run(run(answer_within({"uri": url, "timeout": 300}))) < 1.5
        assert asyncio.run(run(None)) >= 1.9  # the pool's own 5 s: the answer came
    finally:
        server.shutdown()
        server.server_close()
    assert answer_within({"uri": url}) is None
    assert answer_within({"uri": url, "timeout": 10**9}) == LONGEST_TIMEOUT


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Content-Length", "5"),
        ("host", "evil"),
        ("Transfer-Encoding", "chunked"),
        ("bad key:", "x"),
        ("X-A", "대구"),
        ("X-A", "a\x00b"),
        ("X-A", " a"),
    ],
)
def test_a_header_that_is_no_valid_field_or_frames_the_message_is_never_written(
    http10: str, name: str, value: str
) -> None:
    """The pool writes Host and Content-Length itself; a second one, or a field that is not
    one (RFC 9110 5.1, 5.5), would make the receiver read another message than the one sent."""

    async def run() -> None:
        await HttpPool(timeout=2).post(http10, {name: value}, b"{}")

    with pytest.raises(HttpFailure, match="not sent"):
        asyncio.run(run())
