"""Whether a Dalgu server answers at the configured address: its `GET /health`, briefly."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from dalgu.settings import Settings

#: seconds the server has to answer (a healthy one answers in milliseconds)
HEALTH_TIMEOUT = 1.0


@dataclass(frozen=True)
class ServerHealth:
    """The server's answer to `GET /health`: `status` is `pass`, `warn` or `fail` (IETF
    health+json), or None when nothing answered (`problem` says why)."""

    url: str
    status: str | None = None
    http_status: int | None = None
    checks: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None


def health_url(settings: Settings) -> str:
    """Where the server of these settings answers `/health`: a wildcard bind address is
    reached on loopback."""
    host = settings.host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"http://{host}:{settings.port}/health"
    if address.is_unspecified:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    shown = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{shown}:{settings.port}/health"


async def server_health(settings: Settings) -> ServerHealth:
    url, timeout = health_url(settings), HEALTH_TIMEOUT
    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            answer = await client.get(url)
    except httpx.TimeoutException:
        return ServerHealth(url, problem=f"no answer within {timeout:g} s")
    except httpx.ConnectError:
        return ServerHealth(url, problem="no server answers (connection refused)")
    except httpx.HTTPError as exc:
        return ServerHealth(url, problem=f"no answer: {type(exc).__name__}: {exc}"[:300])
    try:
        body = orjson.loads(answer.content)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict) or body.get("status") not in ("pass", "warn", "fail"):
        return ServerHealth(
            url,
            http_status=answer.status_code,
            problem=f"answered {answer.status_code} without a health+json body: not Dalgu?",
        )
    checks = body.get("checks")
    return ServerHealth(
        url,
        status=body["status"],
        http_status=answer.status_code,
        checks=checks if isinstance(checks, dict) else {},
        problem=body.get("output") if isinstance(body.get("output"), str) else None,
    )
