"""The gateway's registry (IoT Agent config groups and devices) in the PostgreSQL store."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from dalgu.errors import AlreadyExists
from dalgu.store.base import (
    DeviceRecord,
    DeviceRegistry,
    ReportArchive,
    SandboxKey,
    SandboxRegistry,
)

_GROUP_COLUMNS = "tenant, service_path, apikey, resource, doc::text"
_DEVICE_COLUMNS = "tenant, service_path, apikey, device_id, doc::text"
_KEY_COLUMNS = "tenant, id, digest, created, revoked"
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


class PostgresDevices(DeviceRegistry, ReportArchive, SandboxRegistry):
    """Mixed into `PostgresEntityStore`: shares its pool."""

    @property
    def pool(self) -> Any:  # provided by the entity store
        raise NotImplementedError

    async def put_group(self, record: DeviceRecord, *, replace: bool = False) -> None:
        conflict = (
            "ON CONFLICT (apikey, resource) DO UPDATE SET tenant = excluded.tenant, "
            "service_path = excluded.service_path, doc = excluded.doc"
            if replace
            else ""
        )
        try:
            await self.pool.execute(
                "INSERT INTO iot_groups (apikey, resource, tenant, service_path, doc) "
                f"VALUES ($1, $2, $3, $4, $5::jsonb) {conflict}",
                record.apikey,
                record.key,
                record.tenant,
                record.service_path,
                _doc(record),
            )
        except asyncpg.UniqueViolationError:
            raise AlreadyExists(
                f"a config group with apikey {record.apikey!r} and resource {record.key!r} "
                "already exists"
            ) from None

    async def groups(self, tenant: str, service_path: str | None) -> list[DeviceRecord]:
        rows = await self.pool.fetch(
            f"SELECT {_GROUP_COLUMNS} FROM iot_groups WHERE tenant = $1 "
            "AND ($2::text IS NULL OR service_path = $2) ORDER BY apikey, resource",
            tenant,
            service_path,
        )
        return [_record(row) for row in rows]

    async def group_for(self, apikey: str, resource: str | None) -> DeviceRecord | None:
        row = await self.pool.fetchrow(
            f"SELECT {_GROUP_COLUMNS} FROM iot_groups WHERE apikey = $1 "
            "AND ($2::text IS NULL OR resource IN ($2, '')) ORDER BY resource DESC LIMIT 1",
            apikey,
            resource,
        )
        return None if row is None else _record(row)

    async def delete_group(
        self, tenant: str, service_path: str, apikey: str, resource: str
    ) -> bool:
        status = await self.pool.execute(
            "DELETE FROM iot_groups WHERE tenant = $1 AND service_path = $2 AND apikey = $3 "
            "AND resource = $4",
            tenant,
            service_path,
            apikey,
            resource,
        )
        return bool(status != "DELETE 0")

    async def put_device(self, record: DeviceRecord, *, replace: bool = False) -> None:
        conflict = (
            "ON CONFLICT (tenant, service_path, device_id, apikey) DO UPDATE SET doc = excluded.doc"
            if replace
            else ""
        )
        try:
            await self.pool.execute(
                "INSERT INTO iot_devices (tenant, service_path, device_id, apikey, doc) "
                f"VALUES ($1, $2, $3, $4, $5::jsonb) {conflict}",
                record.tenant,
                record.service_path,
                record.key,
                record.apikey,
                _doc(record),
            )
        except asyncpg.UniqueViolationError:
            raise AlreadyExists(f"device {record.key!r} is already provisioned") from None

    async def devices(
        self, tenant: str, service_path: str | None, limit: int, offset: int
    ) -> tuple[list[DeviceRecord], int]:
        where = "tenant = $1 AND ($2::text IS NULL OR service_path = $2)"
        async with self.pool.acquire() as conn:
            count = await conn.fetchval(
                f"SELECT count(*) FROM iot_devices WHERE {where}", tenant, service_path
            )
            rows = await conn.fetch(
                f"SELECT {_DEVICE_COLUMNS} FROM iot_devices WHERE {where} "
                "ORDER BY device_id, apikey LIMIT $3 OFFSET $4",
                tenant,
                service_path,
                limit,
                offset,
            )
        return [_record(row) for row in rows], int(count)

    async def device(
        self, tenant: str, service_path: str | None, device_id: str
    ) -> DeviceRecord | None:
        row = await self.pool.fetchrow(
            f"SELECT {_DEVICE_COLUMNS} FROM iot_devices WHERE tenant = $1 "
            "AND ($2::text IS NULL OR service_path = $2) AND device_id = $3 "
            "ORDER BY apikey LIMIT 1",
            tenant,
            service_path,
            device_id,
        )
        return None if row is None else _record(row)

    async def device_for(
        self, apikey: str, device_id: str, tenant: str | None = None
    ) -> DeviceRecord | None:
        row = await self.pool.fetchrow(
            f"SELECT {_DEVICE_COLUMNS} FROM iot_devices WHERE apikey = $1 AND device_id = $2 "
            "AND ($3::text IS NULL OR tenant = $3) ORDER BY tenant, service_path LIMIT 1",
            apikey,
            device_id,
            tenant,
        )
        return None if row is None else _record(row)

    async def apikey_services(self, apikey: str) -> tuple[list[str], list[str]]:
        rows = await self.pool.fetch(
            "SELECT DISTINCT true, tenant FROM iot_groups WHERE apikey = $1 "
            "UNION SELECT DISTINCT false, tenant FROM iot_devices WHERE apikey = $1 "
            "ORDER BY 2",
            apikey,
        )
        groups = [str(tenant) for is_group, tenant in rows if is_group]
        devices = [str(tenant) for is_group, tenant in rows if not is_group]
        return groups, devices

    async def delete_device(self, tenant: str, service_path: str | None, device_id: str) -> bool:
        status = await self.pool.execute(
            "DELETE FROM iot_devices WHERE tenant = $1 AND ($2::text IS NULL OR service_path = $2) "
            "AND device_id = $3",
            tenant,
            service_path,
            device_id,
        )
        return bool(status != "DELETE 0")

    async def put_report(
        self, tenant: str, report_id: str, created_at: str, doc: dict[str, Any]
    ) -> None:
        await self.pool.execute(
            "INSERT INTO testbed_reports (tenant, id, created_at, doc) "
            "VALUES ($1, $2, $3, $4::jsonb) "
            "ON CONFLICT (tenant, id) DO UPDATE SET created_at = excluded.created_at, "
            "doc = excluded.doc",
            tenant,
            report_id,
            created_at,
            orjson.dumps(doc).decode(),
        )

    async def reports(self, tenant: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT doc::text FROM testbed_reports WHERE tenant = $1 ORDER BY created_at DESC, id",
            tenant,
        )
        return [orjson.loads(doc) for (doc,) in rows]

    async def report(self, tenant: str, report_id: str) -> dict[str, Any] | None:
        doc = await self.pool.fetchval(
            "SELECT doc::text FROM testbed_reports WHERE tenant = $1 AND id = $2",
            tenant,
            report_id,
        )
        return None if doc is None else orjson.loads(doc)

    async def put_sandbox(self, tenant: str, doc: dict[str, Any], *, create: bool) -> None:
        conflict = "" if create else "ON CONFLICT (tenant) DO UPDATE SET doc = excluded.doc"
        try:
            await self.pool.execute(
                f"INSERT INTO sandboxes (tenant, doc) VALUES ($1, $2::jsonb) {conflict}",
                tenant,
                orjson.dumps(doc).decode(),
            )
        except asyncpg.UniqueViolationError:
            raise AlreadyExists(f"sandbox {tenant!r} already exists") from None

    async def sandbox(self, tenant: str) -> dict[str, Any] | None:
        doc = await self.pool.fetchval("SELECT doc::text FROM sandboxes WHERE tenant = $1", tenant)
        return None if doc is None else orjson.loads(doc)

    async def sandboxes(self) -> list[dict[str, Any]]:
        rows = await self.pool.fetch("SELECT doc::text FROM sandboxes ORDER BY tenant")
        return [orjson.loads(doc) for (doc,) in rows]

    async def delete_sandbox(self, tenant: str) -> bool:
        status = await self.pool.execute("DELETE FROM sandboxes WHERE tenant = $1", tenant)
        return bool(status != "DELETE 0")

    async def wipe_testbed(self, tenant: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            for table in WIPED:
                await conn.execute(f"DELETE FROM {table} WHERE tenant = $1", tenant)

    async def stored_items(self, tenant: str) -> int:
        count = await self.pool.fetchval(
            "SELECT (SELECT count(*) FROM entities WHERE tenant = $1) "
            "+ (SELECT count(*) FROM instances WHERE tenant = $1)",
            tenant,
        )
        return int(count)

    async def put_key(self, key: SandboxKey) -> None:
        await self.pool.execute(
            "INSERT INTO sandbox_keys (digest, tenant, id, created, revoked) "
            "VALUES ($1, $2, $3, $4, $5)",
            key.digest,
            key.tenant,
            key.id,
            key.created,
            key.revoked,
        )

    async def keys(self, tenant: str) -> list[SandboxKey]:
        rows = await self.pool.fetch(
            f"SELECT {_KEY_COLUMNS} FROM sandbox_keys WHERE tenant = $1 ORDER BY created, id",
            tenant,
        )
        return [SandboxKey(*row) for row in rows]

    async def key_by_digest(self, digest: str) -> SandboxKey | None:
        row = await self.pool.fetchrow(
            f"SELECT {_KEY_COLUMNS} FROM sandbox_keys WHERE digest = $1", digest
        )
        return None if row is None else SandboxKey(*row)

    async def revoke_key(self, tenant: str, key_id: str, at: str) -> bool:
        status = await self.pool.execute(
            "UPDATE sandbox_keys SET revoked = $1 WHERE tenant = $2 AND id = $3 "
            "AND revoked IS NULL",
            at,
            tenant,
            key_id,
        )
        return bool(status != "UPDATE 0")

    async def delete_keys(self, tenant: str) -> None:
        await self.pool.execute("DELETE FROM sandbox_keys WHERE tenant = $1", tenant)


def _doc(record: DeviceRecord) -> str:
    return orjson.dumps(record.doc).decode()


def _record(row: Any) -> DeviceRecord:
    tenant, service_path, apikey, key, doc = row
    return DeviceRecord(tenant, service_path, apikey, key, orjson.loads(doc))
