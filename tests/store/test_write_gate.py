"""`WriteGate`: batches of one process that share an entity run one after another, in the
order they arrived; those that wait together run as one write; others run side by side.

The write here records its calls (the gate is the unit under test; the PostgreSQL store's
tests run it against the real server)."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from dalgu.errors import BadRequestData
from dalgu.store.base import Change, Entity, Mutation, Outcome
from dalgu.store.postgres.gate import WriteGate

pytestmark = pytest.mark.asyncio

Items = list[tuple[str, Mutation]]


def keep(before: Entity | None) -> Entity:
    return before or {}


def items(*ids: str) -> Items:
    return [(entity_id, keep) for entity_id in ids]


class Writer:
    """Records each call's tenant and ids; a call of tenant `t` holds until `hold` of its
    first id is set;
    a call that names `poison` fails as a whole."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.hold: dict[str, asyncio.Event] = {}
        self.entered: dict[str, asyncio.Event] = {}
        self.poison = "none"

    async def write(self, tenant: str, batch: Items, history: bool) -> list[Outcome]:
        ids = [entity_id for entity_id, _ in batch]
        self.calls.append((tenant, ids))
        first = ids[0]
        if tenant == "t" and first in self.hold:
            self.entered.setdefault(first, asyncio.Event()).set()
            await self.hold[first].wait()
        if self.poison in ids:
            raise BadRequestData("a poisoned batch")
        return [Change(entity_id, None, {"id": entity_id}) for entity_id in ids]

    def blocking(self, entity_id: str) -> asyncio.Event:
        self.hold[entity_id] = asyncio.Event()
        self.entered[entity_id] = asyncio.Event()
        return self.hold[entity_id]


async def holding_1(
    writer: Writer, gate: WriteGate
) -> tuple[asyncio.Event, asyncio.Future[list[Outcome]]]:
    """A write of entity 1 of tenant t under way, held until the event is set."""
    release = writer.blocking("1")
    first = asyncio.ensure_future(gate.mutate("t", items("1"), True))
    await writer.entered["1"].wait()
    return release, first


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def ids_of(outcomes: list[Outcome]) -> list[str]:
    return [o.entity_id for o in outcomes if isinstance(o, Change)]


async def test_batches_waiting_together_run_as_one_write_in_arrival_order() -> None:
    writer = Writer()
    gate = WriteGate(writer.write)
    release = writer.blocking("1")
    first = asyncio.ensure_future(gate.mutate("t", items("1", "2"), True))
    await writer.entered["1"].wait()
    second = asyncio.ensure_future(gate.mutate("t", items("2", "3"), True))
    third = asyncio.ensure_future(gate.mutate("t", items("3", "4"), True))  # waits for second
    disjoint = asyncio.ensure_future(gate.mutate("t", items("9"), True))
    other_tenant = asyncio.ensure_future(gate.mutate("u", items("1"), True))
    assert ids_of(await disjoint) == ["9"]
    assert ids_of(await other_tenant) == ["1"]
    await settle()
    assert not second.done() and not third.done()
    release.set()
    assert ids_of(await first) == ["1", "2"]
    # each caller gets the outcomes of its own items, from one write of both batches
    assert ids_of(await second) == ["2", "3"]
    assert ids_of(await third) == ["3", "4"]
    assert writer.calls == [
        ("t", ["1", "2"]),
        ("t", ["9"]),
        ("u", ["1"]),
        ("t", ["2", "3", "3", "4"]),
    ]
    assert gate.queued == 0


async def test_a_group_is_capped_and_does_not_mix_history_settings() -> None:
    writer = Writer()
    gate = WriteGate(writer.write, group_items=4)
    release, first = await holding_1(writer, gate)
    waiting = [
        asyncio.ensure_future(gate.mutate("t", items("1", "a"), True)),
        asyncio.ensure_future(gate.mutate("t", items("1", "b"), True)),
        asyncio.ensure_future(gate.mutate("t", items("1", "c"), True)),  # over the cap
        asyncio.ensure_future(gate.mutate("t", items("1", "d"), False)),  # no history
    ]
    release.set()
    await asyncio.gather(first, *waiting)
    assert writer.calls == [
        ("t", ["1"]),
        ("t", ["1", "a", "1", "b"]),
        ("t", ["1", "c"]),
        ("t", ["1", "d"]),
    ]


async def test_a_failing_batch_fails_alone_and_the_others_are_written() -> None:
    writer = Writer()
    gate = WriteGate(writer.write)
    writer.poison = "bad"
    release, first = await holding_1(writer, gate)
    good = asyncio.ensure_future(gate.mutate("t", items("1", "2"), True))
    bad = asyncio.ensure_future(gate.mutate("t", items("1", "bad"), True))
    later = asyncio.ensure_future(gate.mutate("t", items("1", "3"), True))
    release.set()
    await first
    assert ids_of(await good) == ["1", "2"]
    with pytest.raises(BadRequestData):
        await bad
    assert ids_of(await later) == ["1", "3"]
    # the group's write failed, then its batches ran one by one, in order
    assert writer.calls[1:] == [
        ("t", ["1", "2", "1", "bad", "1", "3"]),
        ("t", ["1", "2"]),
        ("t", ["1", "bad"]),
        ("t", ["1", "3"]),
    ]
    assert gate.queued == 0


async def test_a_cancelled_caller_does_not_stop_the_others() -> None:
    writer = Writer()
    gate = WriteGate(writer.write)
    release, first = await holding_1(writer, gate)
    gone = asyncio.ensure_future(gate.mutate("t", items("1", "2"), True))
    stays = asyncio.ensure_future(gate.mutate("t", items("1", "3"), True))
    await settle()
    gone.cancel()
    first.cancel()  # the running write's caller goes too: its group ends, the next one runs
    await settle()
    release.set()
    assert ids_of(await asyncio.wait_for(stays, 1)) == ["1", "3"]
    assert writer.calls[-1] == ("t", ["1", "3"])
    assert gate.queued == 0


async def test_finished_batches_are_not_kept_alive_by_the_ones_after() -> None:
    """While batches keep coming, each group waits for the one before it; the groups and
    items already written (which hold the entities) are not kept reachable through the
    groups still waiting."""

    class Reading:
        def __call__(self, before: Entity | None) -> Entity:
            return before or {}

    entered: asyncio.Queue[None] = asyncio.Queue()
    steps: asyncio.Queue[None] = asyncio.Queue()

    async def write(tenant: str, batch: Items, history: bool) -> list[Outcome]:
        await entered.put(None)
        await steps.get()  # each write waits for its step
        return [Change(entity_id, None, {}) for entity_id, _ in batch]

    gate = WriteGate(write)
    gone: list[weakref.ref[Reading]] = []

    def submit() -> asyncio.Future[list[Outcome]]:
        reading = Reading()
        gone.append(weakref.ref(reading))
        return asyncio.ensure_future(gate.mutate("t", [("1", reading)], True))

    pending = [submit()]
    await entered.get()
    for _ in range(8):  # one group writes while the next waits for it
        pending.append(submit())
        await settle()
        steps.put_nowait(None)
        await entered.get()
    finished = [p for p in pending if p.done()]
    assert len(finished) == 8
    del finished
    gc.collect()
    assert [ref() is None for ref in gone] == [True] * 8 + [False]
    steps.put_nowait(None)
    await asyncio.gather(*pending)


async def test_a_group_whose_callers_all_left_writes_nothing() -> None:
    writer = Writer()
    gate = WriteGate(writer.write)
    release, first = await holding_1(writer, gate)
    left = [asyncio.ensure_future(gate.mutate("t", items("1", n), True)) for n in "ab"]
    await settle()
    for caller in left:
        caller.cancel()
    release.set()
    await first
    await settle()
    assert writer.calls == [("t", ["1"])]
    assert gate.queued == 0


async def test_a_batch_joins_only_a_waiting_group_of_the_same_entities() -> None:
    """Merged, batches that share nothing would hold each other's locks: they wait apart."""
    writer = Writer()
    gate = WriteGate(writer.write)
    release_1, release_2 = writer.blocking("1"), writer.blocking("2")
    running = [asyncio.ensure_future(gate.mutate("t", items(n), True)) for n in "12"]
    await writer.entered["1"].wait()
    await writer.entered["2"].wait()
    after_1 = asyncio.ensure_future(gate.mutate("t", items("1", "x"), True))
    after_2 = asyncio.ensure_future(gate.mutate("t", items("2", "y"), True))
    again_1 = asyncio.ensure_future(gate.mutate("t", items("x", "z"), True))
    await settle()
    release_2.set()
    # not held back by the batch waiting for 1
    assert ids_of(await asyncio.wait_for(after_2, 1)) == ["2", "y"]
    assert not after_1.done()
    release_1.set()
    await asyncio.gather(*running, after_1, again_1)
    assert writer.calls[2:] == [("t", ["2", "y"]), ("t", ["1", "x", "x", "z"])]
    assert gate.queued == 0


async def test_once_every_transaction_is_taken_batches_that_share_nothing_run_together() -> None:
    """Group commit: with `running` writes under way, batches of other entities wait for one to
    end and are then written as one, each caller answered with its own outcomes; a tenant's
    batches are never written with another tenant's, and a batch that fails, fails alone."""
    writer = Writer()
    gate = WriteGate(writer.write, running=1)
    release, first = await holding_1(writer, gate)
    writer.poison = "p"
    waiting = [
        asyncio.ensure_future(gate.mutate(tenant, items(*ids), True))
        for tenant, ids in (("t", "a"), ("u", "b"), ("t", "cd"), ("t", "p"), ("u", "e"))
    ]
    await settle()
    assert not any(w.done() for w in waiting)
    assert writer.calls == [("t", ["1"])]
    release.set()
    await first
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert [ids_of(r) for r in results if isinstance(r, list)] == [["a"], ["b"], ["c", "d"], ["e"]]
    assert isinstance(results[3], BadRequestData)
    assert writer.calls == [
        ("t", ["1"]),
        ("t", ["a", "c", "d", "p"]),  # failed as a whole: each batch again, alone
        ("t", ["a"]),
        ("t", ["c", "d"]),
        ("t", ["p"]),
        ("u", ["b", "e"]),
    ]
    assert gate.queued == 0


async def test_a_write_that_finds_a_transaction_free_does_not_wait() -> None:
    writer = Writer()
    gate = WriteGate(writer.write, running=2)
    release, first = await holding_1(writer, gate)
    assert ids_of(await asyncio.wait_for(gate.mutate("t", items("2"), True), 1)) == ["2"]
    release.set()
    await first
    assert writer.calls == [("t", ["1"]), ("t", ["2"])]
