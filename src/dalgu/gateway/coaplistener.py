"""The CoAP southbound's UDP socket, kept read for as long as the server runs.

A device that closes its socket before Dalgu's answer arrives (a sleepy sensor powering its
radio down) makes the kernel send back ICMP port unreachable. aiocoap asks for those errors
(IP_RECVERR), and Linux then flags the socket with EPOLLERR; under uvloop (granian's loop)
libuv takes that flag as the end of the poll and stops watching the socket for good: every
later message of every device went unread, with nothing logged. The southbound does not use
those errors (a failed exchange with one peer is that exchange's business, RFC 7252 §4.2), so
it turns them off on its socket.

Should the socket still stop being read (another loop, another way), a watch notices it: a
socket with datagrams waiting at two checks in a row while none was read in between. The
listener is then started again and `/health` says so.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fcntl
import logging
import socket
import termios
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiocoap.util import socknumbers

log = logging.getLogger(__name__)

#: seconds between two looks at the socket
CHECK_INTERVAL = 2.0
#: seconds `/health` warns after the listener was started again
RESTART_NOTICE = 300.0
#: seconds a stopping aiocoap context is given
SHUTDOWN_TIMEOUT = 5.0


def _sockets(context: Any) -> list[socket.socket]:
    out = []
    for interface in context.request_interfaces:
        messages = getattr(getattr(interface, "token_interface", None), "message_interface", None)
        transport = getattr(messages, "transport", None)
        sock = transport.get_extra_info("socket") if transport is not None else None
        if isinstance(sock, socket.socket):
            out.append(sock)
    return out


def ignore_icmp_errors(sock: socket.socket) -> None:
    """No error queue on `sock`: an ICMP error about one peer no longer flags the socket."""
    if socknumbers.HAS_RECVERR:
        sock.setsockopt(socket.IPPROTO_IPV6, socknumbers.IPV6_RECVERR, 0)
        sock.setsockopt(socket.IPPROTO_IP, socknumbers.IP_RECVERR, 0)


def waiting(sock: socket.socket) -> int:
    """Bytes of the next datagram waiting on `sock` (0: none waits)."""
    out = array.array("i", [0])
    fcntl.ioctl(sock.fileno(), termios.FIONREAD, out)
    return out[0]


class CoapListener:
    """A CoAP server context on host:port, started again if its socket stops being read."""

    def __init__(self, start: Callable[[], Awaitable[Any]], host: str, port: int) -> None:
        self._start = start
        self.host = host
        self.port = port
        self.context: Any = None
        self.restarts = 0
        self.restarted_at: float | None = None
        self.problem: str | None = None
        self._read = 0
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen (OSError if the port cannot be had) and watch the socket."""
        await self._open()
        self._watch = asyncio.create_task(self._watching(), name="coap-listener-watch")

    async def _open(self) -> None:
        context = await self._start()
        for sock in _sockets(context):
            ignore_icmp_errors(sock)
        for interface in context.request_interfaces:
            messages = getattr(interface.token_interface, "message_interface", None)
            if messages is not None and hasattr(messages, "datagram_msg_received"):
                messages.datagram_msg_received = self._counting(messages.datagram_msg_received)
        self.context = context

    def _counting(self, receive: Callable[..., None]) -> Callable[..., None]:
        def received(*args: Any) -> None:
            self._read += 1
            receive(*args)

        return received

    def stalled(self, before: tuple[int, int], now: tuple[int, int]) -> bool:
        """Datagrams waited at both looks (read count, bytes waiting) and none was read."""
        return before[1] > 0 and now[1] > 0 and before[0] == now[0]

    def _look(self) -> tuple[int, int]:
        socks = _sockets(self.context) if self.context is not None else []
        return self._read, sum(waiting(sock) for sock in socks)

    async def _watching(self) -> None:
        loop = asyncio.get_running_loop()
        before: tuple[int, int] | None = self._look()
        while True:
            started = loop.time()
            await asyncio.sleep(CHECK_INTERVAL)
            now = self._look()
            if loop.time() - started > CHECK_INTERVAL * 1.5:
                # the loop itself was held (a long callback): nothing could be read, and this
                # look may come before the socket's turn; judge on the next
                before = None
                continue
            if before is not None and self.stalled(before, now):
                await self._restart()
                now = self._look()
            before = now

    async def _restart(self) -> None:
        self.problem = (
            f"the CoAP southbound on {self.host}:{self.port} stopped reading its socket "
            "(datagrams waited unread); it is being started again"
        )
        log.error("%s", self.problem)
        await self._close()
        try:
            await self._open()
        except OSError as exc:
            self.problem = (
                f"the CoAP southbound on {self.host}:{self.port} stopped reading its socket "
                f"and could not listen again: {exc}"
            )
            log.error("%s", self.problem)
            return
        self.problem = None
        self.restarts += 1
        self.restarted_at = time.time()
        log.warning("CoAP southbound on %s:%d listens again", self.host, self.port)

    async def _close(self) -> None:
        context, self.context = self.context, None
        if context is None:
            return
        try:
            await asyncio.wait_for(context.shutdown(), SHUTDOWN_TIMEOUT)
        except Exception as exc:  # a broken context is dropped all the same
            log.warning("the CoAP context did not stop cleanly: %s", exc)
            for sock in _sockets(context):
                with contextlib.suppress(OSError):
                    sock.close()

    def health(self) -> dict[str, Any]:
        """The `coap:listener` check of `/health`."""
        if self.problem is not None:
            return {"status": "warn", "observedValue": 0, "output": self.problem}
        check: dict[str, Any] = {"status": "pass", "observedValue": 1}
        if self.restarted_at is not None and time.time() - self.restarted_at < RESTART_NOTICE:
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.restarted_at))
            check["status"] = "warn"
            check["output"] = (
                f"the CoAP southbound on {self.host}:{self.port} stopped reading its socket "
                f"and was started again at {when} ({self.restarts} restarts)"
            )
        return check

    async def shutdown(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        await self._close()
