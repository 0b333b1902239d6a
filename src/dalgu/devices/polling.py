"""Polling commands: HTTP devices without an endpoint fetch their commands.

As with the FIWARE IoT Agents, a command for an HTTP device that has no `endpoint` is not
pushed: it waits in the store until the device asks with `getCmd=1` (on `/iot/d` or
`/iot/json`, with or without measures), and is handed out once. `<cmd>_status` goes PENDING
(queued) → DELIVERED (fetched) → OK (the device posts its result to `/iot/d/commands` or
`/iot/json/commands`), or EXPIRED when the device does not fetch it in time. A newer command
of the same name replaces one still waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time

from dalgu.background import cancel_and_wait
from dalgu.devices.commands import DELIVERED, CommandDispatcher, DeviceCommand
from dalgu.store.base import CommandQueue, QueuedCommand
from dalgu.store.outage import OutageWatch

log = logging.getLogger(__name__)

EXPIRED = "EXPIRED"


class CommandPolling:
    """The command sink of polling devices, and what they fetch."""

    def __init__(self, queue: CommandQueue, dispatcher: CommandDispatcher, expiry: float) -> None:
        self.queue = queue
        self.dispatcher = dispatcher
        self.expiry = expiry
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, command: DeviceCommand) -> None:
        """Queue the command (a `CommandSink`: its status becomes PENDING)."""
        now = time.time()
        await self.queue.queue_command(
            QueuedCommand(
                command.tenant,
                command.entity_id,
                command.apikey,
                command.device_id,
                command.name,
                command.value,
                now,
                now + self.expiry,
            )
        )

    async def fetch(self, apikey: str, device_id: str) -> list[QueuedCommand]:
        """The device's waiting commands, handed out once (their status becomes DELIVERED)."""
        commands = await self.queue.take_commands(apikey, device_id, time.time())
        for command in commands:
            await self.dispatcher.status(
                command.tenant, command.entity_id, command.name, DELIVERED, None
            )
        return commands

    async def expire(self) -> int:
        """Mark the commands no device fetched in time as EXPIRED; how many there were."""
        expired = await self.queue.expire_commands(time.time())
        for command in expired:
            log.info("command %s for %s expired unfetched", command.name, command.device_id)
            await self.dispatcher.status(
                command.tenant,
                command.entity_id,
                command.name,
                EXPIRED,
                f"not fetched within {self.expiry:g} s",
            )
        return len(expired)

    def start(self) -> None:
        """Look for expired commands in the background (a fraction of the expiry, <= 5 s)."""
        self._task = asyncio.create_task(self._sweep(), name="command-expiry")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _sweep(self) -> None:
        interval = min(5.0, self.expiry / 4)
        watch = OutageWatch(log, "expiring queued commands")
        while True:
            await asyncio.sleep(interval)
            try:
                await self.expire()
                watch.succeeded()
            except Exception as error:  # a store hiccup must not end the sweeping
                watch.failed(self.queue, error)
