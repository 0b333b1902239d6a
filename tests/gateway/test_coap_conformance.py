"""The CoAP southbound answers as RFC 7252, 7959 and 8516 ask where aiocoap leaves it to the
server: a real aiocoap client (or, for what no client sends, raw UDP) against a gateway on a
free loopback port. Whatever is refused is not stored."""

from __future__ import annotations

import asyncio
import socket
import struct
import uuid
from collections.abc import Iterator
from typing import Any

import aiocoap
import orjson
import pytest
from aiocoap.numbers import OptionNumber
from aiocoap.optiontypes import BlockOption, OpaqueOption
from starlette.testclient import TestClient

from dalgu.gateway.coapwire import empty_payload_after_marker
from dalgu.settings import Settings
from tests.ports import free_port, serving

E = "/ngsi-ld/v1/entities"
LIMIT = 65536  # the southbound's payload limit, as HTTP's


@pytest.fixture
def coap_gateway(settings: Settings) -> Iterator[tuple[TestClient, int, str]]:
    """A Dalgu with its CoAP port, and a config group (of a fresh API key) for /iot/d."""

    def ports() -> dict[str, int]:
        return {"coap_port": free_port(socket.SOCK_DGRAM)}

    apikey = f"k{uuid.uuid4().hex[:8]}"
    with serving(settings, ports) as (client, configured):
        groups = [
            {"apikey": apikey, "entity_type": "Meter", "resource": "/iot/d"},
            {"apikey": f"{apikey}j", "entity_type": "Meter", "resource": "/iot/json"},
        ]
        assert client.post("/iot/services", json={"services": groups}).status_code == 201
        yield client, configured.coap_port, apikey


def exchange(request: aiocoap.Message, blockwise: bool = True, wait: float = 10) -> Any:
    """The response to `request` from a fresh aiocoap client (TimeoutError if none comes)."""

    async def run() -> aiocoap.Message:
        context = await aiocoap.Context.create_client_context()
        try:
            pending = context.request(request, handle_blockwise=blockwise)
            response: aiocoap.Message = await asyncio.wait_for(pending.response, wait)
            return response
        finally:
            await context.shutdown()

    return asyncio.run(run())


def post(uri: str, payload: bytes, **fields: Any) -> aiocoap.Message:
    return aiocoap.Message(code=aiocoap.POST, uri=uri, payload=payload, **fields)


def stored(client: TestClient, device: str) -> bool:
    return client.get(f"{E}/urn:ngsi-ld:Meter:{device}").status_code == 200


# --- RFC 7252 §5.4.1: critical options ------------------------------------------------------


def test_an_unrecognised_critical_option_is_4_02_and_not_processed(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    client, port, apikey = coap_gateway
    request = post(f"coap://127.0.0.1:{port}/iot/d?k={apikey}&i=c1", b"e|5")
    request.opt.add_option(OpaqueOption(OptionNumber(2049), b"x"))  # odd: critical
    answer = exchange(request)
    assert answer.code == aiocoap.BAD_OPTION
    assert b"2049" in answer.payload  # the diagnostic names the option
    assert not stored(client, "c1")


def test_an_unrecognised_elective_option_is_ignored(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    client, port, apikey = coap_gateway
    request = post(f"coap://127.0.0.1:{port}/iot/d?k={apikey}&i=c2", b"e|5")
    request.opt.add_option(OpaqueOption(OptionNumber(2048), b"x"))  # even: elective
    assert exchange(request).code == aiocoap.CHANGED
    assert stored(client, "c2")


def test_a_non_confirmable_request_with_an_unrecognised_critical_option_is_ignored(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    client, port, apikey = coap_gateway
    request = post(
        f"coap://127.0.0.1:{port}/iot/d?k={apikey}&i=c3",
        b"e|5",
        transport_tuning=aiocoap.Unreliable,
    )
    request.opt.add_option(OpaqueOption(OptionNumber(2049), b"x"))
    with pytest.raises(TimeoutError):
        exchange(request, wait=2)
    assert not stored(client, "c3")


# --- RFC 7252 §3: token length ----------------------------------------------------------------


def _raw_post(mtype: int, mid: int, token: bytes, query: list[str], payload: bytes) -> bytes:
    """A CoAP POST to /iot/d, its token length field set to len(token) whatever that is."""
    header = bytes([(1 << 6) | (mtype << 4) | len(token), 2]) + struct.pack("!H", mid) + token
    options = b""
    last = 0
    for number, value in [(11, b"iot"), (11, b"d"), *((15, q.encode()) for q in query)]:
        assert number - last < 13 and len(value) < 13
        options += bytes([((number - last) << 4) | len(value)]) + value
        last = number
    return header + options + b"\xff" + payload


def _udp_answer(port: int, datagram: bytes, wait: float) -> bytes | None:
    """The answer to `datagram`: past an empty ACK (a busy server answers separately, in a
    Confirmable response, which is acknowledged)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(wait)
        sock.sendto(datagram, ("127.0.0.1", port))
        while True:
            try:
                answer = sock.recv(2048)
            except TimeoutError:
                return None
            kind, code = (answer[0] >> 4) & 3, answer[1]
            if kind == 2 and code == 0:  # empty ACK: the response follows
                continue
            if kind == 0:  # CON
                sock.sendto(bytes([(1 << 6) | (2 << 4), 0]) + answer[2:4], ("127.0.0.1", port))
            return answer


def test_a_confirmable_message_with_a_reserved_token_length_is_reset_and_not_processed(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    client, port, apikey = coap_gateway
    datagram = _raw_post(0, 0x4242, b"\x01" * 9, [f"k={apikey}", "i=t1"], b"e|5")
    answer = _udp_answer(port, datagram, 5)
    assert answer is not None
    assert answer == bytes([(1 << 6) | (3 << 4), 0]) + struct.pack("!H", 0x4242)  # empty RST
    assert not stored(client, "t1")
    # the same request with a token of 8 bytes is taken
    datagram = _raw_post(0, 0x4243, b"\x01" * 8, [f"k={apikey}", "i=t1"], b"e|5")
    answer = _udp_answer(port, datagram, 5)
    assert answer is not None and answer[1] == 0x44  # 2.04
    assert stored(client, "t1")


def test_a_non_confirmable_message_with_a_reserved_token_length_is_ignored(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    client, port, apikey = coap_gateway
    datagram = _raw_post(1, 0x4244, b"\x02" * 15, [f"k={apikey}", "i=t2"], b"e|5")
    assert _udp_answer(port, datagram, 2) is None
    assert not stored(client, "t2")


# --- RFC 7252 §5.9.2.9, RFC 7959 §4: payload size ---------------------------------------------


def test_an_oversized_upload_is_4_13_with_size1_giving_the_limit(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    client, port, apikey = coap_gateway
    uri = f"coap://127.0.0.1:{port}/iot/d?k={apikey}&i=b1"
    answer = exchange(post(uri, b"e|" + b"1" * 70_000))  # aiocoap uploads it block-wise
    assert answer.code == aiocoap.REQUEST_ENTITY_TOO_LARGE
    assert answer.opt.size1 == LIMIT
    assert "65536" in orjson.loads(answer.payload)["detail"]
    assert not stored(client, "b1")


def test_an_upload_announced_too_large_is_4_13_at_its_first_block(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    _, port, apikey = coap_gateway
    first = post(f"coap://127.0.0.1:{port}/iot/d?k={apikey}&i=b2", b"e|" + b"1" * 1022)
    first.opt.block1 = BlockOption.BlockwiseTuple(0, True, 6)
    first.opt.size1 = 70_000
    answer = exchange(first, blockwise=False)  # not 2.31 Continue for 68 more blocks
    assert answer.code == aiocoap.REQUEST_ENTITY_TOO_LARGE
    assert answer.opt.size1 == LIMIT


def test_the_block_that_takes_an_upload_over_the_limit_is_4_13(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    _, port, apikey = coap_gateway
    block = post(f"coap://127.0.0.1:{port}/iot/d?k={apikey}&i=b3", b"1" * 1024)
    block.opt.block1 = BlockOption.BlockwiseTuple(64, True, 6)  # bytes 65536..66559
    answer = exchange(block, blockwise=False)
    assert answer.code == aiocoap.REQUEST_ENTITY_TOO_LARGE
    assert answer.opt.size1 == LIMIT


def test_an_upload_within_the_limit_is_taken_block_wise(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    client, port, apikey = coap_gateway
    text = "e|" + "7" * 3000  # about three blocks
    answer = exchange(post(f"coap://127.0.0.1:{port}/iot/d?k={apikey}&i=b4", text.encode()))
    assert answer.code == aiocoap.CHANGED
    assert client.get(f"{E}/urn:ngsi-ld:Meter:b4?options=keyValues").json()["e"] == text[2:]


# --- RFC 7252 §5.10.3: Content-Format ----------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "payload", "content_format"),
    [
        ("/iot/d", b"e|5", 60),  # CBOR
        ("/iot/d", b"e|5", 42),  # octet-stream
        ("/iot/d", b"e|5", 11542),
        ("/iot/json", b'{"e": 5}', 60),
        ("/iot/json", b'{"e": 5}', 0),
    ],
)
def test_a_content_format_the_resource_does_not_take_is_4_15(
    coap_gateway: tuple[TestClient, int, str], resource: str, payload: bytes, content_format: int
) -> None:
    client, port, apikey = coap_gateway
    key = apikey if resource == "/iot/d" else f"{apikey}j"
    uri = f"coap://127.0.0.1:{port}{resource}?k={key}&i=f1"
    answer = exchange(post(uri, payload, content_format=content_format))
    assert answer.code == aiocoap.UNSUPPORTED_CONTENT_FORMAT
    assert str(content_format) in orjson.loads(answer.payload)["detail"]
    assert not stored(client, "f1")


@pytest.mark.parametrize(
    ("resource", "payload", "content_format"),
    [
        ("/iot/d", b"e|5", 0),
        ("/iot/d", b"e|5", None),
        ("/iot/json", b'{"e": 5}', 50),
        ("/iot/json", b'{"e": 5}', None),
    ],
)
def test_the_resources_own_content_format_or_none_is_taken(
    coap_gateway: tuple[TestClient, int, str],
    resource: str,
    payload: bytes,
    content_format: int | None,
) -> None:
    client, port, apikey = coap_gateway
    key = apikey if resource == "/iot/d" else f"{apikey}j"
    fields = {} if content_format is None else {"content_format": content_format}
    uri = f"coap://127.0.0.1:{port}{resource}?k={key}&i=f2"
    assert exchange(post(uri, payload, **fields)).code == aiocoap.CHANGED
    assert stored(client, "f2")


# --- RFC 8516: 4.29 Too Many Requests -----------------------------------------------------------


def test_a_quota_refusal_says_when_to_send_again(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    """4.29 with Max-Age over CoAP (else a device would wait Max-Age's default, 60 s), 429 with
    Retry-After over HTTP."""
    client, port, _ = coap_gateway
    created = client.post(
        "/testbed/sandboxes", json={"name": "firmq", "quotas": {"messages_per_second": 1}}
    )
    assert created.status_code == 201, created.text
    key = created.json()["apiKeys"][0]["key"]
    body = {"services": [{"apikey": key, "entity_type": "Meter", "resource": "/iot/d"}]}
    firm = {"fiware-service": "firmq"}
    assert client.post("/iot/services", json=body, headers=firm).status_code == 201
    uri = f"coap://127.0.0.1:{port}/iot/d?k={key}&i=q1"
    codes = []
    for _ in range(5):
        answer = exchange(post(uri, b"e|1"))
        codes.append(answer.code)
        if answer.code == aiocoap.TOO_MANY_REQUESTS:
            assert answer.opt.max_age == 1
            break
    assert aiocoap.TOO_MANY_REQUESTS in codes, codes
    refused = client.post(f"/iot/d?k={key}&i=q1", content=b"e|1")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"


def test_a_get_asking_for_commands_says_they_are_not_fetched_over_coap(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    _, port, apikey = coap_gateway
    request = aiocoap.Message(
        code=aiocoap.GET, uri=f"coap://127.0.0.1:{port}/iot/d?k={apikey}&i=g1&getCmd=1"
    )
    answer = exchange(request)
    assert answer.code == aiocoap.BAD_REQUEST
    assert "not fetched over CoAP" in orjson.loads(answer.payload)["detail"]


# --- RFC 7252 §3: a payload marker with no payload -------------------------------------------


def test_a_confirmable_message_with_an_empty_payload_after_its_marker_is_reset(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    client, port, apikey = coap_gateway
    datagram = _raw_post(0, 0x4250, b"\x03", [f"k={apikey}", "i=m1"], b"")
    assert datagram.endswith(b"\xff")
    answer = _udp_answer(port, datagram, 5)
    assert answer == bytes([(1 << 6) | (3 << 4), 0]) + struct.pack("!H", 0x4250)  # empty RST
    assert not stored(client, "m1")


def test_a_non_confirmable_message_with_an_empty_payload_after_its_marker_is_ignored(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    client, port, apikey = coap_gateway
    datagram = _raw_post(1, 0x4251, b"\x03", [f"k={apikey}", "i=m2"], b"")
    assert _udp_answer(port, datagram, 2) is None
    assert not stored(client, "m2")


@pytest.mark.parametrize(
    ("datagram", "empty"),
    [
        (bytes([0x40, 2, 0, 1]) + b"\xff", True),
        (bytes([0x41, 2, 0, 1, 0xFF]) + b"\xff", True),  # the token is 0xFF, the marker follows
        (bytes([0x41, 2, 0, 1, 0xFF]), False),  # only a token of 0xFF
        (bytes([0x40, 2, 0, 1, 0xB1]) + b"\xff", False),  # Uri-Path "\xff", no marker
        (bytes([0x40, 2, 0, 1, 0xB1]) + b"\xff\xff", True),
        (bytes([0x40, 2, 0, 1, 0xBD, 2]) + b"x" * 15 + b"\xff", True),  # extended length
        (bytes([0x40, 2, 0, 1, 0xBD, 2]) + b"\xff" * 15, False),  # a 15-byte value of 0xFF
        (bytes([0x40, 2, 0, 1, 0xB1]) + b"d\xffe|1", False),
    ],
)
def test_an_empty_payload_after_the_marker_is_told_from_option_bytes(
    datagram: bytes, empty: bool
) -> None:
    assert empty_payload_after_marker(datagram) is empty


# --- RFC 7252 §5.7.2, §5.10.2: no proxy ---------------------------------------------------------


@pytest.mark.parametrize("option", ["proxy_uri", "proxy_scheme"])
def test_a_request_for_a_proxy_is_5_05(
    coap_gateway: tuple[TestClient, int, str], option: str
) -> None:
    client, port, apikey = coap_gateway
    request = post(f"coap://127.0.0.1:{port}/iot/d?k={apikey}&i=p1", b"e|5")
    value = "coap" if option == "proxy_scheme" else f"coap://example.org/iot/d?k={apikey}&i=p1"
    setattr(request.opt, option, value)
    answer = exchange(request)
    assert answer.code == aiocoap.PROXYING_NOT_SUPPORTED
    assert not stored(client, "p1")


def test_the_resources_are_discovered_at_well_known_core(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    """RFC 7252 §7.2: link-format discovery, each measure resource with its Content-Format."""
    _, port, _ = coap_gateway
    request = aiocoap.Message(code=aiocoap.GET, uri=f"coap://127.0.0.1:{port}/.well-known/core")
    answer = exchange(request)
    assert answer.code == aiocoap.CONTENT
    assert answer.opt.content_format == 40  # application/link-format
    links = answer.payload.decode()
    assert '</iot/d>;ct="0"' in links
    assert '</iot/json>;ct="50"' in links


# --- refusals of the site itself carry a ProblemDetails too ---------------------------------------


def test_an_unknown_path_is_4_04_saying_which_resources_there_are(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    _, port, apikey = coap_gateway
    answer = exchange(post(f"coap://127.0.0.1:{port}/iot/x?k={apikey}&i=n1", b"e|1"))
    assert answer.code == aiocoap.NOT_FOUND
    assert answer.opt.content_format == 50
    assert "/iot/d" in orjson.loads(answer.payload)["detail"]


def test_a_method_a_resource_does_not_take_is_4_05_saying_which_it_takes(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    client, port, apikey = coap_gateway
    uri = f"coap://127.0.0.1:{port}/iot/d?k={apikey}&i=n2"
    answer = exchange(aiocoap.Message(code=aiocoap.PUT, uri=uri, payload=b"e|1"))
    assert answer.code == aiocoap.METHOD_NOT_ALLOWED
    assert "GET or POST" in orjson.loads(answer.payload)["detail"]
    assert not stored(client, "n2")
