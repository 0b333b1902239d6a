"""The CoAP southbound keeps reading its socket whatever its peers do, on the event loop
`dalgu serve` runs (uvloop, under granian), and `/health` says when it had to be restarted."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator

import aiocoap
import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.gateway import coaplistener
from dalgu.gateway.coaplistener import CoapListener
from dalgu.settings import Settings
from tests.gateway.test_coap_conformance import _raw_post, exchange, post, stored
from tests.ports import TRIES, free_port


@pytest.fixture
def uvloop_gateway(settings: Settings) -> Iterator[tuple[TestClient, int, str]]:
    """A Dalgu with its CoAP port on uvloop, and a config group for /iot/d."""
    apikey = f"k{uuid.uuid4().hex[:8]}"
    for _ in range(TRIES):
        configured = settings.model_copy(update={"coap_port": free_port(socket.SOCK_DGRAM)})
        app = build_app(configured)
        with TestClient(app, backend_options={"use_uvloop": True}) as client:
            if client.app.state.dalgu_listeners.problems:  # type: ignore[attr-defined]
                continue
            groups = [{"apikey": apikey, "entity_type": "Meter", "resource": "/iot/d"}]
            assert client.post("/iot/services", json={"services": groups}).status_code == 201
            yield client, configured.coap_port, apikey
            return
    pytest.fail(f"no free port for Dalgu in {TRIES} tries")


def _send_and_close(port: int, apikey: str, device: str, first_mid: int) -> None:
    """Three measures (CON and NON) from a socket closed at once, before any answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as gone:
        for n in range(3):
            query = [f"k={apikey}", f"i={device}"]
            datagram = _raw_post(n % 2, first_mid + n, b"\x07", query, b"e|1")
            gone.sendto(datagram, ("127.0.0.1", port))


def test_devices_that_close_their_socket_before_the_answer_do_not_stop_the_listener(
    uvloop_gateway: tuple[TestClient, int, str],
) -> None:
    """A sleepy sensor sends its readings and powers its radio down: Dalgu's answers come back
    as ICMP port unreachable. Before, that ended the listener's reading for every device."""
    client, port, apikey = uvloop_gateway
    for attempt in range(5):
        _send_and_close(port, apikey, f"z{attempt}", 0x5000 + attempt * 8)
        time.sleep(0.3)
    uri = f"coap://127.0.0.1:{port}/iot/d?k={apikey}&i=alive"
    assert exchange(post(uri, b"e|5"), wait=5).code == aiocoap.CHANGED
    assert stored(client, "alive")
    assert client.get("/health").json()["checks"]["coap:listener"][0]["status"] == "pass"


@pytest.mark.slow
def test_a_listener_that_stops_reading_is_restarted_and_health_says_so(
    uvloop_gateway: tuple[TestClient, int, str],
) -> None:
    client, port, apikey = uvloop_gateway
    listener: CoapListener = client.app.state.dalgu_listeners.coap  # type: ignore[attr-defined]
    sock = listener.context.request_interfaces[0].token_interface.message_interface.transport

    async def stop_reading() -> None:  # as libuv does on the poll of a socket flagged in error
        asyncio.get_running_loop().remove_reader(sock.get_extra_info("socket").fileno())

    client.portal.call(stop_reading)  # type: ignore[union-attr]
    uri = f"coap://127.0.0.1:{port}/iot/d?k={apikey}&i=after"
    answer = exchange(post(uri, b"e|5"), wait=20)  # retransmitted until the listener is back
    assert answer.code == aiocoap.CHANGED
    assert stored(client, "after")
    check = client.get("/health").json()["checks"]["coap:listener"][0]
    assert check["status"] == "warn"
    assert "stopped reading" in check["output"]


class _Done(Exception):
    """The watch's looks are over."""


async def test_a_look_after_the_loop_was_held_restarts_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After a callback held the loop past the interval, datagrams wait and none was read,
    but only because nothing could run: restarting would drop them with the socket."""
    listener = CoapListener(lambda: asyncio.sleep(0), "127.0.0.1", 0)
    looks = [(0, 1), (0, 1), (0, 1)]  # datagrams waiting, none read, at each look

    def look() -> tuple[int, int]:
        if not looks:
            raise _Done
        return looks.pop()

    monkeypatch.setattr(listener, "_look", look)
    restarts: list[bool] = []

    async def restart() -> None:
        restarts.append(True)

    monkeypatch.setattr(listener, "_restart", restart)
    monkeypatch.setattr(coaplistener, "CHECK_INTERVAL", 0.05)
    sleep = asyncio.sleep

    async def held(seconds: float) -> None:
        # `asyncio.sleep` is patched for every task of this loop: only the watch's own looks
        # are held (a long sleep of another test's task, held 3x with the thread, stalled
        # this worker for 600 s in a CI run)
        if seconds != coaplistener.CHECK_INTERVAL:
            await sleep(seconds)
            return
        time.sleep(seconds * 3)  # noqa: ASYNC251 -- the loop held, by a slow callback
        await sleep(0)

    monkeypatch.setattr(coaplistener.asyncio, "sleep", held)
    with pytest.raises(_Done):
        await listener._watching()
    assert restarts == []
