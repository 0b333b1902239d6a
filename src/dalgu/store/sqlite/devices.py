"""The gateway's registry (IoT Agent config groups and devices) in the SQLite store."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from dalgu.errors import AlreadyExists
from dalgu.store.base import (
    DeviceRecord,
    DeviceRegistry,
    ReportArchive,
    SandboxKey,
    SandboxRegistry,
)
from dalgu.store.sqlite.lock import transaction

# what resetting a sandbox removes besides its entities and subscriptions
WIPED = (
    "iot_groups",
    "iot_devices",
    "iot_commands",
    "testbed_reports",
    "testbed_runs",
    "testbed_run_events",
    "instances",
    "temporal_entities",
)
_KEY_COLUMNS = "tenant, id, digest, created, revoked"


class SqliteDevices(DeviceRegistry, ReportArchive, SandboxRegistry):
    """Mixed into `SqliteEntityStore`: shares its connection."""

    @property
    def db(self) -> sqlite3.Connection:  # provided by the entity store
        raise NotImplementedError

    async def put_group(self, record: DeviceRecord, *, replace: bool = False) -> None:
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        try:
            self.db.execute(
                f"{verb} INTO iot_groups (apikey, resource, tenant, service_path, doc) "
                "VALUES (?, ?, ?, ?, ?)",
                (record.apikey, record.key, record.tenant, record.service_path, _doc(record)),
            )
        except sqlite3.IntegrityError:
            raise AlreadyExists(
                f"a config group with apikey {record.apikey!r} and resource {record.key!r} "
                "already exists"
            ) from None

    async def groups(self, tenant: str, service_path: str | None) -> list[DeviceRecord]:
        sql = "SELECT tenant, service_path, apikey, resource, doc FROM iot_groups WHERE tenant = ?"
        args: tuple[str, ...] = (tenant,)
        if service_path is not None:
            sql, args = sql + " AND service_path = ?", (tenant, service_path)
        return [_record(row) for row in self.db.execute(sql + " ORDER BY apikey, resource", args)]

    async def group_for(self, apikey: str, resource: str | None) -> DeviceRecord | None:
        sql = "SELECT tenant, service_path, apikey, resource, doc FROM iot_groups WHERE apikey = ?"
        args: tuple[str, ...] = (apikey,)
        if resource is not None:
            sql, args = sql + " AND resource IN (?, '')", (apikey, resource)
        row = self.db.execute(sql + " ORDER BY resource DESC LIMIT 1", args).fetchone()
        return None if row is None else _record(row)

    async def delete_group(
        self, tenant: str, service_path: str, apikey: str, resource: str
    ) -> bool:
        cursor = self.db.execute(
            "DELETE FROM iot_groups WHERE tenant = ? AND service_path = ? AND apikey = ? "
            "AND resource = ?",
            (tenant, service_path, apikey, resource),
        )
        return cursor.rowcount > 0

    async def put_device(self, record: DeviceRecord, *, replace: bool = False) -> None:
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        try:
            self.db.execute(
                f"{verb} INTO iot_devices (tenant, service_path, device_id, apikey, doc) "
                "VALUES (?, ?, ?, ?, ?)",
                (record.tenant, record.service_path, record.key, record.apikey, _doc(record)),
            )
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"device {record.key!r} is already provisioned") from None

    async def devices(
        self, tenant: str, service_path: str | None, limit: int, offset: int
    ) -> tuple[list[DeviceRecord], int]:
        where, args = _where(tenant, service_path)
        (count,) = self.db.execute(
            f"SELECT count(*) FROM iot_devices WHERE {where}", args
        ).fetchone()
        rows = self.db.execute(
            "SELECT tenant, service_path, apikey, device_id, doc FROM iot_devices "
            f"WHERE {where} ORDER BY device_id, apikey LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )
        return [_record(row) for row in rows], count

    async def device(
        self, tenant: str, service_path: str | None, device_id: str
    ) -> DeviceRecord | None:
        where, args = _where(tenant, service_path)
        row = self.db.execute(
            "SELECT tenant, service_path, apikey, device_id, doc FROM iot_devices "
            f"WHERE {where} AND device_id = ? ORDER BY apikey LIMIT 1",
            (*args, device_id),
        ).fetchone()
        return None if row is None else _record(row)

    async def device_for(
        self, apikey: str, device_id: str, tenant: str | None = None
    ) -> DeviceRecord | None:
        sql = (
            "SELECT tenant, service_path, apikey, device_id, doc FROM iot_devices "
            "WHERE apikey = ? AND device_id = ?"
        )
        args: tuple[str, ...] = (apikey, device_id)
        if tenant is not None:
            sql, args = sql + " AND tenant = ?", (*args, tenant)
        row = self.db.execute(sql + " ORDER BY tenant, service_path LIMIT 1", args).fetchone()
        return None if row is None else _record(row)

    async def apikey_services(self, apikey: str) -> tuple[list[str], list[str]]:
        found: list[list[str]] = []
        for table in ("iot_groups", "iot_devices"):
            rows = self.db.execute(
                f"SELECT DISTINCT tenant FROM {table} WHERE apikey = ? ORDER BY tenant", (apikey,)
            )
            found.append([tenant for (tenant,) in rows])
        return found[0], found[1]

    async def delete_device(self, tenant: str, service_path: str | None, device_id: str) -> bool:
        where, args = _where(tenant, service_path)
        cursor = self.db.execute(
            f"DELETE FROM iot_devices WHERE {where} AND device_id = ?", (*args, device_id)
        )
        return cursor.rowcount > 0

    async def put_report(
        self, tenant: str, report_id: str, created_at: str, doc: dict[str, Any]
    ) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO testbed_reports (tenant, id, created_at, doc) "
            "VALUES (?, ?, ?, ?)",
            (tenant, report_id, created_at, orjson.dumps(doc)),
        )

    async def reports(self, tenant: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT doc FROM testbed_reports WHERE tenant = ? ORDER BY created_at DESC, id",
            (tenant,),
        )
        return [orjson.loads(doc) for (doc,) in rows]

    async def report(self, tenant: str, report_id: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT doc FROM testbed_reports WHERE tenant = ? AND id = ?", (tenant, report_id)
        ).fetchone()
        return None if row is None else orjson.loads(row[0])

    async def put_sandbox(self, tenant: str, doc: dict[str, Any], *, create: bool) -> None:
        try:
            self.db.execute(
                f"{'INSERT' if create else 'INSERT OR REPLACE'} INTO sandboxes (tenant, doc) "
                "VALUES (?, ?)",
                (tenant, orjson.dumps(doc)),
            )
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"sandbox {tenant!r} already exists") from None

    async def sandbox(self, tenant: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT doc FROM sandboxes WHERE tenant = ?", (tenant,)).fetchone()
        return None if row is None else orjson.loads(row[0])

    async def sandboxes(self) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT doc FROM sandboxes ORDER BY tenant")
        return [orjson.loads(doc) for (doc,) in rows]

    async def delete_sandbox(self, tenant: str) -> bool:
        cursor = self.db.execute("DELETE FROM sandboxes WHERE tenant = ?", (tenant,))
        return cursor.rowcount > 0

    async def wipe_testbed(self, tenant: str) -> None:
        db = self.db
        async with transaction(db):
            for table in WIPED:
                db.execute(f"DELETE FROM {table} WHERE tenant = ?", (tenant,))

    async def stored_items(self, tenant: str) -> int:
        (entities,) = self.db.execute(
            "SELECT count(*) FROM entities WHERE tenant = ?", (tenant,)
        ).fetchone()
        (instances,) = self.db.execute(
            "SELECT count(*) FROM instances WHERE tenant = ?", (tenant,)
        ).fetchone()
        return int(entities) + int(instances)

    async def put_key(self, key: SandboxKey) -> None:
        self.db.execute(
            "INSERT INTO sandbox_keys (digest, tenant, id, created, revoked) "
            "VALUES (?, ?, ?, ?, ?)",
            (key.digest, key.tenant, key.id, key.created, key.revoked),
        )

    async def keys(self, tenant: str) -> list[SandboxKey]:
        rows = self.db.execute(
            f"SELECT {_KEY_COLUMNS} FROM sandbox_keys WHERE tenant = ? ORDER BY created, id",
            (tenant,),
        )
        return [SandboxKey(*row) for row in rows]

    async def key_by_digest(self, digest: str) -> SandboxKey | None:
        row = self.db.execute(
            f"SELECT {_KEY_COLUMNS} FROM sandbox_keys WHERE digest = ?", (digest,)
        ).fetchone()
        return None if row is None else SandboxKey(*row)

    async def revoke_key(self, tenant: str, key_id: str, at: str) -> bool:
        cursor = self.db.execute(
            "UPDATE sandbox_keys SET revoked = ? WHERE tenant = ? AND id = ? AND revoked IS NULL",
            (at, tenant, key_id),
        )
        return cursor.rowcount > 0

    async def delete_keys(self, tenant: str) -> None:
        self.db.execute("DELETE FROM sandbox_keys WHERE tenant = ?", (tenant,))


def _where(tenant: str, service_path: str | None) -> tuple[str, tuple[str, ...]]:
    if service_path is None:
        return "tenant = ?", (tenant,)
    return "tenant = ? AND service_path = ?", (tenant, service_path)


def _doc(record: DeviceRecord) -> bytes:
    return orjson.dumps(record.doc)


def _record(row: tuple[str, str, str, str, bytes]) -> DeviceRecord:
    tenant, service_path, apikey, key, doc = row
    return DeviceRecord(tenant, service_path, apikey, key, orjson.loads(doc))
