"""Commands queued for polling devices, in the PostgreSQL store."""

from __future__ import annotations

from typing import Any

import orjson

from dalgu.store.base import CommandQueue, QueuedCommand

_COLUMNS = "tenant, entity_id, apikey, device_id, name, value::text, queued, expires"


class PostgresCommandQueue(CommandQueue):
    """Mixed into `PostgresEntityStore`: shares its pool."""

    @property
    def pool(self) -> Any:  # provided by the entity store
        raise NotImplementedError

    async def queue_command(self, command: QueuedCommand) -> None:
        await self.pool.execute(
            "INSERT INTO iot_commands (tenant, entity_id, apikey, device_id, name, value, "
            "queued, expires) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8) "
            "ON CONFLICT (apikey, device_id, name) DO UPDATE SET tenant = excluded.tenant, "
            "entity_id = excluded.entity_id, value = excluded.value, "
            "queued = excluded.queued, expires = excluded.expires",
            command.tenant,
            command.entity_id,
            command.apikey,
            command.device_id,
            command.name,
            orjson.dumps(command.value).decode(),
            command.queued,
            command.expires,
        )

    async def take_commands(self, apikey: str, device_id: str, now: float) -> list[QueuedCommand]:
        rows = await self.pool.fetch(
            "DELETE FROM iot_commands WHERE apikey = $1 AND device_id = $2 AND expires > $3 "
            f"RETURNING {_COLUMNS}",
            apikey,
            device_id,
            now,
        )
        return sorted((_command(row) for row in rows), key=lambda c: c.queued)

    async def expire_commands(self, now: float) -> list[QueuedCommand]:
        rows = await self.pool.fetch(
            f"DELETE FROM iot_commands WHERE expires <= $1 RETURNING {_COLUMNS}", now
        )
        return [_command(row) for row in rows]


def _command(row: Any) -> QueuedCommand:
    tenant, entity_id, apikey, device_id, name, value, queued, expires = row
    return QueuedCommand(
        tenant, entity_id, apikey, device_id, name, orjson.loads(value), queued, expires
    )
