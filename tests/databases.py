"""PostgreSQL databases for the tests: each test gets one that is as a fresh migrated one.

A database is copied from a migrated template (`CREATE DATABASE ... TEMPLATE`) the first time;
copying writes the whole template (16 MB with PostGIS) to the WAL and dropping it again costs as
much: ~0.3 s each on an idle machine, near a second each under the suite's load. A test's
database is therefore given back to its worker's pool instead: its sessions are ended, the
tables a test made (history partitions) dropped, every table emptied and refilled with the
template's own rows (the schema version, the generations), the sequences set back, and the
catalogue compared with the template's. A database that differs in any way is dropped, never
reused.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg

HOST = "postgresql://postgres@127.0.0.1:5432"
ADMIN_DSN = f"{HOST}/postgres"
KEPT = 4  # databases a worker keeps for its next tests
BULK = 10_000  # rows of a table past which it is truncated, not deleted from

# the relations of the schemas a migration made (not PostgreSQL's own, not PostGIS's)
_RELATIONS = """
SELECT n.nspname, c.relname, c.relkind::text FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%'
AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""
# the catalogue's shape: relations, columns, indexes, functions, schemas, extensions
_FINGERPRINT = """
SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
  SELECT n.nspname || '.' || c.relname || ':' || c.relkind::text AS x FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%'
  UNION ALL
  SELECT a.attrelid::regclass::text || '.' || a.attname || ':' || format_type(a.atttypid, NULL)
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE a.attnum > 0 AND NOT a.attisdropped AND n.nspname = 'public'
  UNION ALL
  SELECT p.oid::regprocedure::text FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT IN ('pg_catalog',
  'information_schema')
  UNION ALL SELECT 'schema:' || nspname FROM pg_namespace
  UNION ALL SELECT 'ext:' || extname || extversion FROM pg_extension
) AS catalogue
"""


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass
class Template:
    """What a fresh copy of the template holds: its relations, rows, sequences and shape."""

    name: str
    tables: list[tuple[str, str]] = field(default_factory=list)  # (schema, name)
    rows: dict[tuple[str, str], list[asyncpg.Record]] = field(default_factory=dict)
    sequences: dict[str, tuple[int, bool]] = field(default_factory=dict)  # qualified
    relations: set[tuple[str, str]] = field(default_factory=set)
    fingerprint: str = ""

    async def read(self) -> None:
        conn = await asyncpg.connect(f"{HOST}/{self.name}")
        try:
            for schema, name, kind in await conn.fetch(_RELATIONS):
                self.relations.add((schema, name))
                qualified = _quoted(schema, name)
                if kind in ("r", "p"):
                    self.tables.append((schema, name))
                    rows = await conn.fetch(f"SELECT * FROM {qualified}")
                    if rows:
                        self.rows[(schema, name)] = rows
                elif kind == "S":
                    value, called = await conn.fetchrow(
                        f"SELECT last_value, is_called FROM {qualified}"
                    )
                    self.sequences[qualified] = (value, called)
            self.fingerprint = await conn.fetchval(_FINGERPRINT)
        finally:
            await conn.close()


class DatabasePool:
    """One worker's databases: taken fresh, given back reset to the template's state."""

    def __init__(self, template: Template) -> None:
        self.template = template
        self.free: list[str] = []

    def take(self) -> str:
        if self.free:
            return self.free.pop()
        name = f"dalgu_test_{uuid.uuid4().hex[:12]}"
        asyncio.run(admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template.name}"'))
        return name

    def give_back(self, name: str) -> None:
        reset = len(self.free) < KEPT and asyncio.run(self._reset(name))
        if reset:
            self.free.append(name)
        else:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        for name in self.free:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.free.clear()

    async def _reset(self, name: str) -> bool:
        """Bring `name` back to the template's state; False if it cannot be."""
        try:
            if not await _end_sessions(name):
                return False
            conn = await asyncpg.connect(f"{HOST}/{name}")
            try:
                await conn.execute("SET lock_timeout = '5s'")
                async with conn.transaction():
                    await self._refill(conn)
                return bool(await conn.fetchval(_FINGERPRINT) == self.template.fingerprint)
            finally:
                await conn.close()
        except (asyncpg.PostgresError, OSError):
            return False

    async def _refill(self, conn: Any) -> None:
        template = self.template
        for schema, relation, kind in await conn.fetch(_RELATIONS):
            if (schema, relation) not in template.relations and kind in ("r", "p"):
                # a table a test made (a month's history partition): not in a fresh copy
                await conn.execute(f"DROP TABLE IF EXISTS {_quoted(schema, relation)} CASCADE")
        for table in (_quoted(*t) for t in template.tables):
            # DELETE: a TRUNCATE makes new files for the table and each of its indexes (~0.8 s
            # for all of them); a test's few rows go faster by DELETE, a bulk test's by TRUNCATE
            held = await conn.fetchval(
                f"SELECT count(*) FROM (SELECT FROM {table} LIMIT {BULK}) AS held"
            )
            if held >= BULK:
                await conn.execute(f"TRUNCATE {table} CASCADE")
            elif held:
                await conn.execute(f"DELETE FROM {table}")
        for (schema, table), rows in template.rows.items():
            await conn.copy_records_to_table(
                table,
                schema_name=schema,
                records=[tuple(row) for row in rows],
                columns=list(rows[0].keys()),
            )
        for sequence, (value, called) in template.sequences.items():
            await conn.execute("SELECT setval($1, $2, $3)", sequence, value, called)
        # planner statistics of the last test's rows: a fresh copy has none
        await conn.execute(
            "DELETE FROM pg_statistic WHERE starelid IN (SELECT c.oid FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public')"
        )


def _quoted(schema: str, name: str) -> str:
    return f'"{schema}"."{name}"'


async def _end_sessions(name: str) -> bool:
    """End every session on `name` (a killed server's workers may linger a moment)."""
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        deadline = time.monotonic() + 5
        while True:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
            left = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", name
            )
            if not left:
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
    finally:
        await conn.close()
