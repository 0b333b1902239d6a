"""Commands queued for polling devices, in the SQLite store."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from dalgu.store.base import CommandQueue, QueuedCommand

_COLUMNS = "tenant, entity_id, apikey, device_id, name, value, queued, expires"


class SqliteCommandQueue(CommandQueue):
    """Mixed into `SqliteEntityStore`: shares its connection."""

    @property
    def db(self) -> sqlite3.Connection:  # provided by the entity store
        raise NotImplementedError

    async def queue_command(self, command: QueuedCommand) -> None:
        self.db.execute(
            f"INSERT OR REPLACE INTO iot_commands ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                command.tenant,
                command.entity_id,
                command.apikey,
                command.device_id,
                command.name,
                orjson.dumps(command.value),
                command.queued,
                command.expires,
            ),
        )

    async def take_commands(self, apikey: str, device_id: str, now: float) -> list[QueuedCommand]:
        rows = self.db.execute(
            f"DELETE FROM iot_commands WHERE apikey = ? AND device_id = ? AND expires > ? "
            f"RETURNING {_COLUMNS}",
            (apikey, device_id, now),
        ).fetchall()
        return sorted((_command(row) for row in rows), key=lambda c: c.queued)

    async def expire_commands(self, now: float) -> list[QueuedCommand]:
        rows = self.db.execute(
            f"DELETE FROM iot_commands WHERE expires <= ? RETURNING {_COLUMNS}", (now,)
        ).fetchall()
        return [_command(row) for row in rows]


def _command(row: Any) -> QueuedCommand:
    tenant, entity_id, apikey, device_id, name, value, queued, expires = row
    return QueuedCommand(
        tenant, entity_id, apikey, device_id, name, orjson.loads(value), queued, expires
    )
