"""Reading the change feed back: `dalgu feed tail` and the reader under it."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from typer.testing import CliRunner

from dalgu.broker.mutations import create
from dalgu.cli.app import app as cli
from dalgu.feed.reader import tail
from dalgu.feed.relay import CONSUMER
from tests.feed.stream import NATS_URL, Stream, stream
from tests.feed.test_relay import relay, store
from tests.store.test_sqlite_store import thing

__all__ = ["store", "stream"]


async def test_the_changes_come_back_in_order_filtered_by_tenant(
    store: Any, stream: Stream
) -> None:
    await store.start_consumer(CONSUMER)
    await store.mutate("", [("urn:ngsi-ld:Thing:1", create(thing(1)))])
    await store.mutate("daegu", [(f"urn:ngsi-ld:Thing:{n}", create(thing(n))) for n in (2, 3)])
    the_relay = relay(store, stream)
    try:
        await the_relay.relay_pending()
    finally:
        await the_relay.stop()
    bodies: list[bytes] = []
    subject = f"{stream.prefix}.daegu.*"
    seen = await tail(NATS_URL, stream.name, subject, bodies.append, from_start=True, idle=1)
    assert seen == 2
    assert [orjson.loads(b)["entityId"] for b in bodies] == [
        "urn:ngsi-ld:Thing:2",
        "urn:ngsi-ld:Thing:3",
    ]
    everything: list[bytes] = []
    assert (
        await tail(
            NATS_URL, stream.name, f"{stream.prefix}.>", everything.append, from_start=True, count=3
        )
        == 3
    )


def test_a_missing_stream_is_said_plainly(stream: Stream) -> None:
    result = CliRunner().invoke(
        cli,
        ["feed", "tail", "--idle", "1"],
        env={
            "DALGU_NATS_STREAM": stream.name,
            "DALGU_NATS_SUBJECT": stream.prefix,
            "COLUMNS": "200",
        },
    )
    assert result.exit_code == 1
    assert f"no stream {stream.name}" in result.output


async def test_a_tenant_followed_on_its_subjects_gets_no_other_tenants_changes(
    store: Any, stream: Stream
) -> None:
    """`a.b` and `a_b` (and `_default` and the default tenant) once shared a subject token:
    `dalgu feed tail --tenant a_b` printed the changes of `a.b` too."""
    await store.start_consumer(CONSUMER)
    for n, tenant in enumerate(["a.b", "a_b", "_default", ""]):
        await store.mutate(tenant, [(f"urn:ngsi-ld:Thing:{n}", create(thing(n)))])
    the_relay = relay(store, stream)
    try:
        await the_relay.relay_pending()
    finally:
        await the_relay.stop()
    env = {"DALGU_NATS_STREAM": stream.name, "DALGU_NATS_SUBJECT": stream.prefix}
    for tenant in ["a.b", "a_b", "_default", ""]:
        args = ["feed", "tail", "--tenant", tenant, "--from-start", "--idle", "1"]
        result = await asyncio.to_thread(CliRunner().invoke, cli, args, env=env)
        assert result.exit_code == 0, result.output
        lines = [orjson.loads(line) for line in result.stdout.splitlines()]
        assert [line["tenant"] for line in lines] == [tenant]
