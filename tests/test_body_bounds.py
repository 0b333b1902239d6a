"""Request bodies on every HTTP port of a real server: bounded in size as they arrive, and
in time (a client that trickles or stalls its body gets a 408)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from tests.ports import free_port
from tests.server import kill_server, start_server

MIB = 1 << 20


@pytest.fixture(scope="module")
def ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    api, north, south = free_port(), free_port(), free_port()
    environment = {
        "DALGU_IOT_NORTH_PORT": str(north),
        "DALGU_IOT_SOUTH_PORT": str(south),
        "DALGU_BODY_TIMEOUT": "1.5",
    }
    server = start_server(tmp_path_factory.mktemp("bodies") / "d.db", api, environment=environment)
    try:
        yield {"api": api, "north": north, "south": south}
    finally:
        kill_server(server)


def _head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(sock: socket.socket) -> bytes:
    sock.settimeout(20)
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return answer


def _status(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer.split(b" ", 2)[1])


#: (port, path, headers) of routes that read a JSON body: the NGSI-LD API (granian), the IoT
#: Agent's provisioning (uvicorn) and HTTP southbound ports, FHIR, the CKAN action API
ROUTES = [
    ("api", "/ngsi-ld/v1/entities", {"Content-Type": "application/json"}),
    ("north", "/iot/services", {"Content-Type": "application/json", "fiware-service": "b"}),
    ("south", "/iot/json?k=key&i=dev", {"Content-Type": "application/json"}),
    ("api", "/fhir/Patient", {"Content-Type": "application/fhir+json", "X-Dalgu-Role": "admin"}),
    ("api", "/opendata/api/3/action/package_search", {"Content-Type": "application/json"}),
]


@pytest.mark.parametrize(("port", "path", "headers"), ROUTES, ids=[r[1] for r in ROUTES])
def test_a_chunked_body_past_the_limit_is_refused_as_it_arrives(
    ports: dict[str, int], port: str, path: str, headers: dict[str, str]
) -> None:
    """The gateway's ports read a chunked body whole before checking its size: 400 MB sent to
    the provisioning port took 400 MB of the worker, and kept 260 MB after."""
    with socket.create_connection(("127.0.0.1", ports[port])) as sock:
        sock.sendall(_head(path, {**headers, "Transfer-Encoding": "chunked"}))
        chunk = b" " * MIB
        sent = 0
        try:
            for _ in range(64):  # far past the 1 MiB limit
                sock.sendall(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                sent += 1
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the body ended
        answer = _answer(sock)
    assert _status(answer) == 413, answer[:300]
    assert b"larger than 1048576 bytes" in answer


@pytest.mark.parametrize("port", ["api", "north", "south"])
def test_a_declared_length_past_the_limit_is_refused_before_the_body(
    ports: dict[str, int], port: str
) -> None:
    path, headers = {route[0]: (route[1], route[2]) for route in ROUTES}[port]
    with socket.create_connection(("127.0.0.1", ports[port])) as sock:
        sock.sendall(_head(path, {**headers, "Content-Length": str(512 * MIB)}))
        answer = _answer(sock)  # nothing of the body was sent
    assert _status(answer) == 413, answer[:300]


@pytest.mark.parametrize(("port", "path", "headers"), ROUTES, ids=[r[1] for r in ROUTES])
def test_a_stalled_body_is_a_408_after_the_body_timeout(
    ports: dict[str, int], port: str, path: str, headers: dict[str, str]
) -> None:
    """A client that sends part of its body and then nothing held the request (and the
    connection) open for as long as it liked."""
    with socket.create_connection(("127.0.0.1", ports[port])) as sock:
        sock.sendall(_head(path, {**headers, "Content-Length": "100"}) + b'{"id": ')
        started = time.monotonic()
        answer = _answer(sock)
        waited = time.monotonic() - started
    assert _status(answer) == 408, answer[:300]
    assert b"did not arrive within 1.5 seconds" in answer
    assert 1.0 < waited < 10


def test_a_trickled_body_is_a_408_though_each_byte_comes_in_time(ports: dict[str, int]) -> None:
    """A byte every half second never leaves the connection idle for long, but the body as a
    whole is given `body_timeout`."""
    body = b'{"id": "urn:ngsi-ld:T:trickled", "type": "T"}'
    head = _head("/ngsi-ld/v1/entities", {"Content-Type": "application/json"})
    with socket.create_connection(("127.0.0.1", ports["api"])) as sock:
        sock.sendall(head.replace(b"\r\n\r\n", f"\r\nContent-Length: {len(body)}\r\n\r\n".encode()))
        try:
            for byte in body[:8]:
                sock.sendall(bytes([byte]))
                time.sleep(0.5)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = _answer(sock)
    assert _status(answer) == 408, answer[:300]


def test_a_body_in_time_and_within_the_limit_is_served(ports: dict[str, int]) -> None:
    body = b'{"id": "urn:ngsi-ld:T:in-time", "type": "T"}'
    head = _head("/ngsi-ld/v1/entities", {"Content-Type": "application/json"})
    with socket.create_connection(("127.0.0.1", ports["api"])) as sock:
        sock.sendall(head.replace(b"\r\n\r\n", f"\r\nContent-Length: {len(body)}\r\n\r\n".encode()))
        sock.sendall(body[:10])
        time.sleep(0.5)
        sock.sendall(body[10:])
        answer = _answer(sock)
    assert _status(answer) == 201, answer[:300]
