"""HTTP push commands: POST the command to the device's `endpoint`; its answer is the result.

A device that has not answered within the push's timeout (5 s) fails the command, as an IoT
Agent's push does (`<cmd>_status` ERROR), with `<cmd>_info` saying how long it was given.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from dalgu.devices.commands import DeviceCommand
from dalgu.errors import DalguError
from dalgu.gateway.command_payloads import command_payload, command_results

if TYPE_CHECKING:  # httpx (and the CLI it pulls in) loads with the first push
    import httpx


class HttpCommandPush:
    """The `CommandSink` for HTTP devices."""

    def __init__(self, timeout: float = 5.0) -> None:
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, command: DeviceCommand) -> Any:
        if not command.endpoint:
            raise DalguError("the device has no endpoint to push commands to")
        media = "application/json" if command.payload == "json" else "text/plain"
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
        try:
            # the headers iotagent-ul and iotagent-json send: a gateway in front of several
            # devices routes on them
            headers = {
                "Content-Type": media,
                "fiware-service": command.tenant,
                "fiware-servicepath": command.service_path,
            }
            async with asyncio.timeout(self._timeout):  # the whole exchange, not each phase
                response = await self._client.post(
                    command.endpoint, content=command_payload(command), headers=headers
                )
        except (TimeoutError, httpx.TimeoutException):
            raise DalguError(f"the device did not answer within {self._timeout:g} s") from None
        except httpx.HTTPError as exc:
            # some httpx errors have no message: name them instead of an empty reason
            raise DalguError(f"the device did not answer: {exc or type(exc).__name__}") from None
        if response.status_code >= 300:
            raise DalguError(f"the device answered HTTP {response.status_code}")
        if not response.content.strip():
            return None
        results = command_results(command.payload, response.content)
        return results.get(command.name, next(iter(results.values()), None))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
