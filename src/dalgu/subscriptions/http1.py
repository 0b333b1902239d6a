"""Keep-alive HTTP/1.1 connections for notification POSTs, on asyncio protocols and httptools.

A notification is one small POST whose answer is only a status code, sent thousands of times a
second to a few receivers. A general client spends most of its time on what this does not need
(per-request cookie jars, redirects, async-library detection): httpx cost ~0.6 ms of CPU per
notification here, this costs ~0.05 ms (docs/benchmarks.md). Connections are kept per origin
and reused; one that the receiver closed while idle is replaced and the request sent again.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections import defaultdict
from typing import cast
from urllib.parse import urlsplit

import httptools


class HttpFailure(Exception):
    """The request could not be sent or no answer came back."""


class _Connection(asyncio.Protocol):
    """One connection with at most one request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[int] | None = None
        self.closed = False
        self.answered = False  # any byte of an answer came back since the last request
        self.status: int | None = None  # of the answer whose headers came in

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.answered = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpFailure(f"bad HTTP answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        # an answer without Content-Length (HTTP/1.0) ends when the receiver closes
        if self.status is not None and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(self.status)
        self._fail(HttpFailure(f"connection closed: {exc}" if exc else "connection closed"))

    # httptools callbacks
    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(self.parser.get_status_code())
        if not self.parser.should_keep_alive():
            self.close()

    def _fail(self, error: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def request(self, raw: bytes, wait: float) -> int:
        assert self.transport is not None
        self.answered = False
        self.status = None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        try:
            return await asyncio.wait_for(self.waiter, wait)
        except TimeoutError:
            self.close()
            raise HttpFailure(f"no answer within {wait:g} s") from None


#: a field name: a token (RFC 9110 5.1, 5.6.2)
FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: a field value this client writes (RFC 9110 5.5): visible ASCII, spaces and tabs only
#: between visible characters (a receiver strips them around); empty is a value too. obs-text
#: (bytes 0x80-0xFF) is allowed by the grammar but has no agreed reading, so it is not sent
FIELD_VALUE = re.compile(r"(?:[\x21-\x7e](?:[\x21-\x7e \t]*[\x21-\x7e])?)?")
#: the fields this client writes itself, which frame the message: a second one would make
#: the receiver (or a proxy) read the message's end, or its target, otherwise
_FRAMING = frozenset({"host", "content-length", "transfer-encoding"})


def _field_problem(name: str, value: str) -> str | None:
    if not FIELD_NAME.fullmatch(name):
        return "is not a field name"
    if name.lower() in _FRAMING:
        return "frames the message, and this client writes it"
    if "\r" in value or "\n" in value:
        return "holds a line break"
    if not FIELD_VALUE.fullmatch(value):
        return "holds a character a field value cannot (control, non-ASCII, or outer space)"
    return None


class HttpPool:
    """Idle keep-alive connections per origin (scheme, host, port)."""

    def __init__(self, timeout: float = 10.0, max_idle: int = 32) -> None:
        self.timeout = timeout
        self.max_idle = max_idle
        self._idle: dict[tuple[str, str, int], list[_Connection]] = defaultdict(list)
        self._ssl: ssl.SSLContext | None = None

    async def close(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    async def post(
        self, uri: str, headers: dict[str, str], body: bytes, within: float | None = None
    ) -> int:
        """POST `body` to `uri`; the answer's status code, within `within` seconds (the
        pool's timeout when None)."""
        wait = self.timeout if within is None else within
        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HttpFailure(f"not an HTTP URL: {uri}")
        secure = parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
        origin = (parts.scheme, parts.hostname, port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.netloc.rpartition("@")[2]
        lines = [f"POST {target} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
        for key, value in headers.items():
            problem = _field_problem(key, value)
            if problem is not None:  # never written: checked here whoever gave it
                raise HttpFailure(f"header {key!r} not sent: it {problem}")
            lines.append(f"{key}: {value}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + body
        idle = self._idle[origin]
        while idle:
            connection = idle.pop()
            if connection.closed:
                continue
            try:
                status = await connection.request(raw, wait)
            except HttpFailure:
                if connection.answered:
                    raise
                continue  # the receiver closed it while idle: send again on another one
            self._release(origin, connection)
            return status
        connection = await self._open(origin, secure, wait)
        status = await connection.request(raw, wait)
        self._release(origin, connection)
        return status

    def _release(self, origin: tuple[str, str, int], connection: _Connection) -> None:
        idle = self._idle[origin]
        if connection.closed:
            return
        if len(idle) >= self.max_idle:
            connection.close()
        else:
            idle.append(connection)

    async def _open(self, origin: tuple[str, str, int], secure: bool, wait: float) -> _Connection:
        _, host, port = origin
        if secure and self._ssl is None:
            self._ssl = ssl.create_default_context()
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    _Connection,
                    host,
                    port,
                    ssl=self._ssl if secure else None,
                    server_hostname=host if secure else None,
                ),
                wait,
            )
        except (OSError, TimeoutError) as exc:
            message = f"cannot connect to {host}:{port}: {exc or type(exc).__name__}"
            raise HttpFailure(message) from None
        return connection
