"""`Arrivals`: a message that finds a write free is written alone and at once; those that
arrive while the writes are taken are written together, each answered with its own outcome;
and through the HTTP southbound, concurrent devices' measures are all stored, a bad one
refused alone (both stores)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx
import pytest
from starlette.testclient import TestClient

from dalgu.devices.arrivals import Arrivals
from dalgu.errors import BadRequestData, DalguError, StoreUnavailable
from tests.devices.test_gateway_http import TENANT, provision_group


class Writer:
    """Records each write; message `hold` waits for `release`; `bad-*` messages are refused."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.release = asyncio.Event()
        self.entered = asyncio.Event()
        self.fail = False

    async def one(self, message: str) -> None:
        self.calls.append([message])
        if message == "hold":
            self.entered.set()
            await self.release.wait()
        if message.startswith("bad"):
            raise BadRequestData(f"{message} is refused")

    async def many(self, messages: Sequence[str]) -> list[DalguError | None]:
        self.calls.append(list(messages))
        if self.fail:
            raise StoreUnavailable("the database went away")
        return [
            BadRequestData(f"{m} is refused") if m.startswith("bad") else None for m in messages
        ]


async def _held(arrivals: Arrivals[str], writer: Writer) -> asyncio.Future[None]:
    held = asyncio.ensure_future(arrivals.receive("hold"))
    await writer.entered.wait()
    return held


async def test_messages_that_wait_are_written_together_each_with_its_outcome() -> None:
    writer = Writer()
    arrivals: Arrivals[str] = Arrivals(writer.one, writer.many, running=1)
    held = await _held(arrivals, writer)
    waiting = [asyncio.ensure_future(arrivals.receive(m)) for m in ("a", "bad-1", "b", "c")]
    for _ in range(5):
        await asyncio.sleep(0)
    assert not any(w.done() for w in waiting) and arrivals.waiting == 4
    writer.release.set()
    await held
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert outcomes[0] is None and outcomes[2] is None and outcomes[3] is None
    assert isinstance(outcomes[1], BadRequestData) and "bad-1" in outcomes[1].detail
    assert writer.calls == [["hold"], ["a", "bad-1", "b", "c"]]
    assert arrivals.waiting == 0


async def test_a_message_that_finds_a_write_free_goes_alone_and_at_once() -> None:
    writer = Writer()
    arrivals: Arrivals[str] = Arrivals(writer.one, writer.many, running=2)
    await arrivals.receive("a")
    with pytest.raises(BadRequestData):
        await arrivals.receive("bad-2")
    assert writer.calls == [["a"], ["bad-2"]]


async def test_a_write_that_fails_as_a_whole_fails_each_of_its_messages() -> None:
    writer = Writer()
    writer.fail = True
    arrivals: Arrivals[str] = Arrivals(writer.one, writer.many, running=1)
    held = await _held(arrivals, writer)
    waiting = [asyncio.ensure_future(arrivals.receive(m)) for m in ("a", "b")]
    await asyncio.sleep(0)
    writer.release.set()
    await held
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(o, StoreUnavailable) for o in outcomes)
    # the next message is written again, alone
    writer.fail = False
    await arrivals.receive("c")
    assert writer.calls[-1] == ["c"]


async def test_a_request_that_left_before_its_write_began_is_not_written() -> None:
    writer = Writer()
    arrivals: Arrivals[str] = Arrivals(writer.one, writer.many, running=1)
    held = await _held(arrivals, writer)
    gone = asyncio.ensure_future(arrivals.receive("gone"))
    kept = asyncio.ensure_future(arrivals.receive("kept"))
    await asyncio.sleep(0)
    gone.cancel()
    writer.release.set()
    await held
    await kept
    assert writer.calls == [["hold"], ["kept"]]


def test_concurrent_devices_posting_over_http_are_all_stored(client: TestClient) -> None:
    provision_group(client)
    service = client.app.state.dalgu.devices  # type: ignore[attr-defined]
    together: list[int] = []
    receive_batch = service.receive_batch

    async def counted(transport: str, messages: Sequence[object]) -> object:
        together.append(len(messages))
        return await receive_batch(transport, messages)

    service.receive_batch = counted

    async def post_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            sends = [
                http.post(f"/iot/d?k=k1&i=dev{i}", content=f"t|{i}".encode()) for i in range(40)
            ]
            sends.append(http.post("/iot/d?k=k1&i=dev-bad", content=b"\xff\xfe"))
            sends.append(http.post("/iot/d?k=unknown&i=dev-x", content=b"t|1"))
            return list(await asyncio.gather(*sends))

    answers = client.portal.call(post_all)  # type: ignore[union-attr]
    assert [a.status_code for a in answers[:40]] == [200] * 40
    assert 400 <= answers[40].status_code < 500 and 400 <= answers[41].status_code < 500
    assert together and sum(together) >= 2  # some were written together
    for i in range(40):
        entity = client.get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:Thing:dev{i}", headers=TENANT)
        assert entity.json()["temperature"]["value"] == i
