"""The conformance-run journal read on from the last event seen misses nothing, while several
server processes write into it at once (the run's owner tails it this way)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from dalgu.settings import Settings
from dalgu.store.base import RunJournal
from dalgu.store.factory import open_store

WRITERS = 2  # server processes
TASKS = 6  # concurrent writes in each
ROUNDS = 40


def journal_settings(dsn: str | None, tmp_path: Path) -> Settings:
    if dsn is None:
        return Settings.load(sqlite_path=tmp_path / "dalgu.db", mqtt_broker="off")
    return Settings.load(store="postgres", postgres_dsn=dsn, mqtt_broker="off")


def test_a_tail_of_the_journal_sees_every_concurrent_write(dsn: str | None, tmp_path: Path) -> None:
    settings = journal_settings(dsn, tmp_path)

    async def run() -> tuple[list[bytes], set[bytes]]:
        stores = [open_store(settings) for _ in range(WRITERS)]
        for store in stores:
            await store.open()
        written: set[bytes] = set()
        seen: list[bytes] = []
        try:

            async def write(journal: RunJournal, w: int, t: int) -> None:
                for n in range(ROUNDS):
                    doc = f"{w}.{t}.{n}".encode()
                    await journal.add_run_events([("firm", "run", "status", doc)])
                    written.add(doc)

            async def tail(journal: RunJournal, done: asyncio.Event) -> None:
                last = 0
                while True:
                    finished = done.is_set()
                    for seq, _, doc in await journal.run_events("run", last):
                        last = seq
                        seen.append(doc)
                    if finished:
                        return
                    await asyncio.sleep(0)

            done = asyncio.Event()
            reader = asyncio.create_task(tail(stores[0], done))
            await asyncio.gather(
                *(write(s, w, t) for w, s in enumerate(stores) for t in range(TASKS))
            )
            done.set()
            await reader
        finally:
            for store in stores:
                await store.close()
        return seen, written

    seen, written = asyncio.run(run())
    assert len(written) == WRITERS * TASKS * ROUNDS
    assert len(seen) == len(set(seen))
    assert set(seen) == written, f"{len(written - set(seen))} events never seen"
