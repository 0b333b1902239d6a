"""What a small commit of creates writes to the SQLite log, by B-tree, and what it costs.

Single creates (`wrk -c32`) reach the embedded store as group commits of ~17 entities; each
commit appends to the write-ahead log every page it changed, once, and the checkpointer
copies those pages back. Per entity that is far more pages than a batch of 1,000 writes, and
the page writes, not the Python, set the price of a small commit: in process, a vehicle in
commits of 17 cost ~270 µs of CPU against ~160 µs in batches of 1,000.

The run, in process (no HTTP): `--entities` vehicles (`bench/vehicles.py`) loaded in batches of
1,000 (kept in `--db` for the next run), the log checkpointed and emptied, then `--commits`
batches of `--group` new vehicles. It prints the log's frames per commit and per entity, each
B-tree's share (page numbers read from the log's frame headers, named through `dbstat`), and
the CPU per entity of the small commits.

    .venv/bin/python bench/log_pages.py [--entities 50000] [--group 17] [--commits 300]
        [--db /tmp/dalgu-log-pages.db]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import sqlite3
import struct
import sys
import tempfile
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import _timed
from bench.vehicles import vehicle
from dalgu.broker.service import EntityService
from dalgu.collector import restore, settle
from dalgu.settings import Settings
from dalgu.store.factory import open_store

FIRST_NEW = 10_000_000  # vehicle numbers of the small commits, past any loaded one


def _bodies(first: int, count: int, size: int) -> list[bytes]:
    """Upsert bodies of `count` vehicles from number `first`, `size` to a body."""
    return [
        orjson.dumps([vehicle(i) for i in range(start, min(first + count, start + size))])
        for start in range(first, first + count, size)
    ]


async def _load(path: Path, count: int) -> None:
    store = open_store(Settings(sqlite_path=path))
    await store.open()
    try:
        await _timed(EntityService(store), _bodies(0, count, 1000), "replace")
    finally:
        await store.close()


async def _small_commits(path: Path, group: int, commits: int, log_copy: Path) -> float:
    """CPU seconds of `commits` commits of `group` creates; the log copied before closing."""
    settings = Settings(sqlite_path=path)
    store = open_store(settings)
    await store.open()
    collector = settle(settings.gc_young_threshold)  # as the server process
    try:
        bodies = _bodies(FIRST_NEW, group * commits, group)
        cpu, _, _ = await _timed(EntityService(store), bodies, "replace")
        shutil.copy(f"{path}-wal", log_copy)  # closing checkpoints and empties the log
        return cpu
    finally:
        restore(collector)
        await store.close()


def _frames_by_tree(db_path: Path, log: Path) -> tuple[int, collections.Counter[str]]:
    with sqlite3.connect(db_path) as db:
        names = dict(db.execute("SELECT pageno, name FROM dbstat"))
    data = log.read_bytes()
    page_size = struct.unpack(">I", data[8:12])[0]
    trees: collections.Counter[str] = collections.Counter()
    frames, offset = 0, 32  # the log's header, then (24-byte header + page) per frame
    while offset + 24 + page_size <= len(data):
        (page,) = struct.unpack(">I", data[offset : offset + 4])
        trees[names.get(page, "(freed or new)")] += 1
        frames += 1
        offset += 24 + page_size
    return frames, trees


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entities", type=int, default=50_000)
    parser.add_argument("--group", type=int, default=17)
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument(
        "--db", type=Path, default=Path(tempfile.gettempdir()) / "dalgu-log-pages.db"
    )
    args = parser.parse_args()
    loaded = args.db
    if not loaded.exists():
        print(f"loading {args.entities:,} vehicles into {loaded} …", flush=True)
        asyncio.run(_load(loaded, args.entities))
    with sqlite3.connect(loaded) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    work = Path(tempfile.mkdtemp(prefix="dalgu-log-pages-"))
    try:
        path = work / "run.db"
        shutil.copy(loaded, path)
        cpu = asyncio.run(_small_commits(path, args.group, args.commits, work / "log"))
        frames, trees = _frames_by_tree(path, work / "log")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    created = args.group * args.commits
    print(
        f"{args.commits} commits of {args.group} creates on {args.entities:,} vehicles: "
        f"{frames / args.commits:.1f} log pages per commit, {frames / created:.2f} per entity; "
        f"CPU {cpu / created * 1e6:.1f} µs per entity"
    )
    print("| B-tree | pages per commit |\n|---|---:|")
    for name, count in trees.most_common():
        print(f"| {name} | {count / args.commits:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
