"""The gateway's own ports, as the FIWARE IoT Agents have them: provisioning (north, 4041),
HTTP southbound (7896) and CoAP southbound (5683/udp).

They run inside the server process next to the NGSI-LD API and share its runtime (store,
services), so a measure is written in process. The HTTP ports are small Starlette apps served
by uvicorn in the same event loop; several server workers share each port (SO_REUSEPORT).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from dalgu.api.bodylimit import BoundedBody
from dalgu.api.edge import Runtime
from dalgu.api.outage import OutageAnswer
from dalgu.api.problem import dalgu_error_handler, http_error_handler, unexpected_error_handler
from dalgu.errors import DalguError
from dalgu.gateway.push import HttpCommandPush
from dalgu.settings import Settings

log = logging.getLogger(__name__)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside another server's process: the host process owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class TrailingSlash:
    """`/iot/services/` is `/iot/services`, as the IoT Agents' Express routing takes it (not
    strict): the FIWARE tutorials write `DELETE /iot/services/?resource=…`, which a redirect
    (307) left undone for a client that follows none."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                trimmed = path.rstrip("/") or "/"
                scope = {**scope, "path": trimmed, "raw_path": trimmed.encode()}
        await self.app(scope, receive, send)


def port_app(routes: list[Route], runtime: Runtime) -> Starlette:
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(TrailingSlash),
            Middleware(BoundedBody, runtime.settings.max_body_bytes, runtime.settings.body_timeout),
            Middleware(OutageAnswer),
        ],
        exception_handlers={
            DalguError: dalgu_error_handler,
            HTTPException: http_error_handler,
            Exception: unexpected_error_handler,
        },
    )
    app.state.dalgu = runtime
    return app


def shared_socket(host: str, port: int, kind: int = socket.SOCK_STREAM) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if kind == socket.SOCK_STREAM:
        sock.listen(1024)
    sock.setblocking(False)
    return sock


@dataclass
class HttpListener:
    name: str
    server: _EmbeddedServer
    task: asyncio.Task[None]


@dataclass
class GatewayListeners:
    http: list[HttpListener] = field(default_factory=list)
    coap: Any = None
    push: HttpCommandPush | None = None
    problems: list[str] = field(default_factory=list)

    async def start_http(self, name: str, app: Starlette, host: str, port: int) -> None:
        try:
            sock = shared_socket(host, port)
        except OSError as exc:
            message = f"{name} could not listen on {host}:{port}: {exc}"
            log.error(message)
            self.problems.append(message)
            return
        config = uvicorn.Config(
            app, lifespan="off", log_level="warning", access_log=False, loop="none"
        )
        server = _EmbeddedServer(config)
        # the socket already listens: connections wait in its backlog until uvicorn serves
        task = asyncio.create_task(server.serve(sockets=[sock]), name=f"gateway-{name}")
        self.http.append(HttpListener(name, server, task))
        log.info("%s listening on %s:%d", name, host, port)

    async def stop(self) -> None:
        for listener in self.http:
            listener.server.should_exit = True
        for listener in self.http:
            with contextlib.suppress(asyncio.CancelledError):
                await listener.task
        self.http.clear()
        if self.coap is not None:
            await self.coap.shutdown()
            self.coap = None
        if self.push is not None:
            await self.push.close()
            self.push = None


async def start_listeners(settings: Settings, runtime: Runtime) -> GatewayListeners:
    """The IoT Agent ports the settings ask for (a port of 0 is not opened)."""
    from dalgu.gateway import http as gateway_http
    from dalgu.gateway import north_commands, testbed_http

    listeners = GatewayListeners()
    if runtime.devices is None:
        return listeners
    listeners.push = HttpCommandPush()
    runtime.devices.commands.sinks["HTTP"] = listeners.push
    host = settings.host
    if settings.iot_north_port:
        app = port_app(
            gateway_http.provisioning_routes() + north_commands.routes() + testbed_http.routes(),
            runtime,
        )
        await listeners.start_http("IoT Agent provisioning API", app, host, settings.iot_north_port)
    if settings.iot_south_port:
        app = port_app(gateway_http.southbound_routes(), runtime)
        await listeners.start_http("HTTP southbound", app, host, settings.iot_south_port)
    if settings.coap_port:
        from dalgu.gateway.coap import start_coap

        try:
            listeners.coap = await start_coap(
                runtime.devices, host, settings.coap_port, runtime.device_auth
            )
        except OSError as exc:
            message = f"CoAP southbound could not listen on {host}:{settings.coap_port}: {exc}"
            log.error(message)
            listeners.problems.append(message)
    return listeners
