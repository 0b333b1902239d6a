"""Writes of one process that touch the same entities queue here, before their transaction;
those that wait together run together.

Two `mutate` batches with an entity in common are serialized by PostgreSQL anyway (the second
one's `SELECT … FOR UPDATE` waits for the first to commit). Waiting inside PostgreSQL costs it
work the rest of the server pays for: the waiting statement's snapshot keeps the rows the first
batch replaces from being pruned, so both batches' updates (of the entities, of the hourly
rollups) find longer chains of row versions and more of them leave their page (a new entry in
every index of the table); and the waiter fetches each row again once it is free. Queued here
first, the second batch starts its transaction after the first committed.

A batch that has to wait joins the latest group it waits for, if that group is still waiting
(the same history setting, room left), and the group runs as one transaction, its batches'
items in arrival order: a sensor's readings from several requests become one update
of its entity, one lock, one commit, which is what a stream of readings for the same sensors
needs (a batch that waits costs no more latency for it). If the group's transaction fails as a
whole, its batches run again one by one, so one bad batch fails alone.

At most `running` transactions of the gate run at a time (group commit). A batch that shares
nothing with the running and waiting ones starts at once while one of them is free; when none
is, it joins the latest group that waits for nothing but one (same tenant and history setting,
room left), else it opens such a group. Single-entity writes from many clients at once thus
become a few transactions of several entities each: one set of round trips, one lock of the
hourly rollup rows they all update, and one commit for all, instead of one each queued behind
the others' commits on those rows. A write that finds a transaction free waits for nothing.

This is an optimization, not the guarantee: the row locks still decide (other processes,
other writers). Groups wait only for earlier groups they overlap, in arrival order, so none
waits for a later one (no cycle) and none is overtaken forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from dalgu.store.base import Mutation, Outcome

Items = Sequence[tuple[str, Mutation]]
Write = Callable[[str, Items, bool], Awaitable[list[Outcome]]]
# a group's items at most: one transaction should stay short enough to keep its locks briefly
GROUP_ITEMS = 4000
# transactions of the gate running at a time; more writes than that wait and run together
RUNNING = 4


@dataclass(eq=False)
class _Member:
    items: Items
    result: asyncio.Future[list[Outcome]]


@dataclass(eq=False)
class _Group:
    tenant: str
    history: bool
    ids: set[str]
    ahead: list[_Group]
    members: list[_Member] = field(default_factory=list)
    size: int = 0
    started: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)


class WriteGate:
    """`mutate` batches through `write`: overlapping ones one after another, in arrival order;
    those that wait together, in one call of `write`; others side by side."""

    def __init__(
        self, write: Write, group_items: int = GROUP_ITEMS, running: int = RUNNING
    ) -> None:
        self._write = write
        self._group_items = group_items
        self._slots = asyncio.Semaphore(running)  # FIFO; waiters make it `locked()`
        self._groups: list[_Group] = []  # running or waiting, in arrival order
        self._drivers: set[asyncio.Future[None]] = set()  # the waiting groups' tasks, held

    async def mutate(self, tenant: str, items: Items, history: bool) -> list[Outcome]:
        ids = {entity_id for entity_id, _ in items}
        ahead = [g for g in self._groups if g.tenant == tenant and not g.ids.isdisjoint(ids)]
        if not ahead and not self._slots.locked():  # nothing to wait for: run now, here
            await self._slots.acquire()  # free: returns at once, no other task runs before
            group = _Group(tenant, history, ids, [], started=True)
            self._groups.append(group)
            try:
                return await self._write(tenant, items, history)
            finally:
                self._slots.release()
                self._finish(group)
        if not ahead:  # every transaction is taken: join the writes waiting only for one
            group = self._waiting_for_a_slot(tenant, history, len(items)) or self._open(
                tenant, history, set(), []
            )
            group.ids |= ids
            return await self._join(group, items)
        latest = ahead[-1]  # every other group it waits for came before this one
        if (
            not latest.started
            and latest.history == history
            and latest.size + len(items) <= self._group_items
        ):
            # join the group of the same entities still waiting: written once for both; a
            # group of batches that share nothing would only hold more locks for longer
            group = latest
            group.ids |= ids
            group.ahead.extend(g for g in ahead if g is not group and g not in group.ahead)
        else:
            group = self._open(tenant, history, ids, ahead)
        return await self._join(group, items)

    def _waiting_for_a_slot(self, tenant: str, history: bool, size: int) -> _Group | None:
        """The latest group not started that waits for nothing but a transaction, if a batch
        of `size` items fits in it (the batch shares no entity with any group: it may join an
        earlier one than the latest)."""
        for group in reversed(self._groups):
            if (
                not group.started
                and group.tenant == tenant
                and group.history == history
                and group.size + size <= self._group_items
                and all(g.done.is_set() for g in group.ahead)
            ):
                return group
        return None

    def _open(self, tenant: str, history: bool, ids: set[str], ahead: list[_Group]) -> _Group:
        group = _Group(tenant, history, ids, ahead)
        self._groups.append(group)
        driver = asyncio.ensure_future(self._drive(group))
        self._drivers.add(driver)
        driver.add_done_callback(self._drivers.discard)
        return group

    async def _join(self, group: _Group, items: Items) -> list[Outcome]:
        member = _Member(items, asyncio.get_running_loop().create_future())
        group.members.append(member)
        group.size += len(items)
        return await member.result

    @property
    def queued(self) -> int:
        """Groups running or waiting."""
        return len(self._groups)

    async def _drive(self, group: _Group) -> None:
        try:
            while pending := [g for g in group.ahead if not g.done.is_set()]:
                await pending[0].done.wait()
            async with self._slots:
                group.started = True  # no await since the slot: nothing joins from here on
                group.ahead.clear()  # finished groups are not kept alive by the ones after
                await self._write_members(group)
        finally:
            for member in group.members:
                if not member.result.done():
                    member.result.cancel()
            self._finish(group)

    async def _write_members(self, group: _Group) -> None:
        members = [m for m in group.members if not m.result.done()]
        if not members:  # every caller gave up waiting: nothing to write
            return
        if len(members) == 1:
            await self._run(group, members[0])
            return
        items = [item for m in members for item in m.items]
        try:
            outcomes = await self._write(group.tenant, items, group.history)
        except Exception:
            for member in members:  # one by one: a batch that fails, fails alone
                await self._run(group, member)
            return
        start = 0
        for member in members:
            end = start + len(member.items)
            if not member.result.done():
                member.result.set_result(outcomes[start:end])
            start = end

    async def _run(self, group: _Group, member: _Member) -> None:
        try:
            outcomes = await self._write(group.tenant, member.items, group.history)
        except Exception as error:
            if not member.result.done():
                member.result.set_exception(error)
            return
        if not member.result.done():
            member.result.set_result(outcomes)

    def _finish(self, group: _Group) -> None:
        self._groups.remove(group)
        group.members.clear()
        group.done.set()
