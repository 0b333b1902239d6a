"""Block-wise uploads (RFC 7959 Block1) that do not follow the rules are refused as the RFC
says, 4.00 or 4.08, never 5.00; nothing of them is stored."""

from __future__ import annotations

import asyncio
import logging

import aiocoap
import orjson
import pytest
from aiocoap.optiontypes import BlockOption
from starlette.testclient import TestClient

from tests.gateway.test_coap_conformance import coap_gateway, post, stored

__all__ = ["coap_gateway"]


def _block(uri: str, payload: bytes, number: int, more: bool, szx: int) -> aiocoap.Message:
    request = post(uri, payload)
    request.opt.block1 = BlockOption.BlockwiseTuple(number, more, szx)
    return request


def _answers(requests: list[aiocoap.Message]) -> list[aiocoap.Message]:
    """The answers to `requests`, sent one after the other from one client endpoint (the
    blocks of one upload come from one address)."""

    async def run() -> list[aiocoap.Message]:
        context = await aiocoap.Context.create_client_context()
        try:
            out = []
            for request in requests:
                pending = context.request(request, handle_blockwise=False)
                out.append(await asyncio.wait_for(pending.response, 10))
            return out
        finally:
            await context.shutdown()

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("second", "case"),
    [
        ((b"C" * 16, 2, False, 0), "a gap: block 0 then block 2"),
        ((b"-tail", 4, False, 1), "block 0 of 64 bytes, then block 4 of 32: bytes 128.."),
    ],
)
def test_a_block_that_does_not_follow_the_blocks_received_is_4_08(
    coap_gateway: tuple[TestClient, int, str], second: tuple[bytes, int, bool, int], case: str
) -> None:
    client, port, apikey = coap_gateway
    uri = f"coap://127.0.0.1:{port}/iot/d?k={apikey}&i=gap"
    first = _block(uri, b"e|" + b"A" * 62, 0, True, 2)  # bytes 0..63
    answers = _answers([first, _block(uri, *second)])
    assert answers[0].code == aiocoap.CONTINUE, case
    assert answers[1].code == aiocoap.REQUEST_ENTITY_INCOMPLETE, case
    assert b"block 0" in answers[1].payload
    assert not stored(client, "gap")


def test_a_smaller_block_size_mid_upload_is_taken(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    """RFC 7959 §2.3: the client may go on with a smaller size, numbering blocks in it."""
    client, port, apikey = coap_gateway
    uri = f"coap://127.0.0.1:{port}/iot/d?k={apikey}&i=shrink"
    first = b"e|" + b"A" * 62
    answers = _answers([_block(uri, first, 0, True, 2), _block(uri, b"B", 2, False, 1)])
    assert [a.code for a in answers] == [aiocoap.CONTINUE, aiocoap.CHANGED]
    value = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Meter:shrink?options=keyValues")
    assert value.json()["e"] == "A" * 62 + "B"


def test_a_short_block_that_is_not_the_last_is_4_00(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    client, port, apikey = coap_gateway
    uri = f"coap://127.0.0.1:{port}/iot/d?k={apikey}&i=short"
    (answer,) = _answers([_block(uri, b"e|short", 0, True, 2)])
    assert answer.code == aiocoap.BAD_REQUEST
    assert "exactly its size" in orjson.loads(answer.payload)["detail"]
    assert not stored(client, "short")


def test_block_size_exponent_7_is_4_00_over_udp(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    client, port, apikey = coap_gateway
    uri = f"coap://127.0.0.1:{port}/iot/d?k={apikey}&i=bert"
    (answer,) = _answers([_block(uri, b"e|" + b"1" * 1022, 0, True, 7)])
    assert answer.code == aiocoap.BAD_REQUEST
    assert "SZX 7" in orjson.loads(answer.payload)["detail"]
    assert not stored(client, "bert")


def test_each_continue_of_an_upload_is_not_a_log_line(
    coap_gateway: tuple[TestClient, int, str], caplog: pytest.LogCaptureFixture
) -> None:
    client, port, apikey = coap_gateway
    caplog.set_level(logging.INFO, logger="coap-server")
    uri = f"coap://127.0.0.1:{port}/iot/d?k={apikey}&i=quiet"
    blocks = [_block(uri, b"e|" + b"A" * 14, 0, True, 0)]
    blocks += [_block(uri, b"B" * 16, n, True, 0) for n in range(1, 8)]
    blocks.append(_block(uri, b"C", 8, False, 0))
    assert _answers(blocks)[-1].code == aiocoap.CHANGED
    assert stored(client, "quiet")
    assert "ContinueException" not in caplog.text


def test_an_upload_that_names_no_device_is_refused_at_its_first_block(
    coap_gateway: tuple[TestClient, int, str],
) -> None:
    """Not 2.31 Continue: nothing is kept for an upload that could never be stored."""
    _, port, _ = coap_gateway
    uri = f"coap://127.0.0.1:{port}/iot/d"
    (answer,) = _answers([_block(uri, b"e|" + b"A" * 62, 0, True, 2)])
    assert answer.code == aiocoap.BAD_REQUEST
    assert "k and i" in orjson.loads(answer.payload)["detail"]
