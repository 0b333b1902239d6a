"""Requests to context sources (the HTTP binding of a distributed operation, clause 6).

A forwarded request carries the triggering request's `@context` (its `Link`, or the body's
own), the registration's tenant, its `contextSourceInfo` as headers (clause 4.3.6.5) and a
`Via` header naming every broker it passed, this one last (clause 4.3.6.4). A context source
that cannot be reached, times out or answers what is not JSON is a reply of its own (502 or
504), never an exception out of here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import orjson

if TYPE_CHECKING:
    from dalgu.ldcontext.resolver import ContextResolver
    from dalgu.ldcontext.termmap import TermMap

log = logging.getLogger("dalgu.federation")

#: headers a contextSourceInfo pair may not set (binding-specific, clause 4.3.6.5)
_RESERVED = frozenset(
    {"content-length", "content-type", "host", "via", "ngsild-tenant", "link", "accept"}
)
#: contextSourceInfo keys with a meaning of their own (clause 4.3.6.6), not headers
_SPECIAL = frozenset({"jsonldContext", "ngsildConformance", "accept", "contentType"})
REQUEST_VALUE = "urn:ngsi-ld:request"
#: the largest answer read from a context source (bytes); a larger one is a 502
MAX_REPLY_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Origin:
    """What a forwarded request takes from the request that triggered it."""

    tenant: str  # the tenant of the triggering request (the registrations' own)
    via: str  # the Via header to send (the incoming one, this broker appended)
    link: str | None  # the incoming Link header (its @context), if any
    headers: dict[str, str] = field(default_factory=dict)  # incoming headers, lower-case names
    #: the request's names: its @context as given (a URL, an object, a list) and its terms,
    #: for a registration that asks for another form (clause 4.3.6.6)
    context: Any = None
    terms: TermMap | None = None
    #: the resolver of this broker's contexts (a registration's `jsonldContext`)
    contexts: ContextResolver | None = None


@dataclass(frozen=True, slots=True)
class Form:
    """How a request is put to a context source whose registration says so (clause 4.3.6.6):
    the media type of its body, its Link header and its Accept header."""

    content_type: str
    link: str | None
    accept: str


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes = b""
    #: the vocabulary the answer is read with; None: the triggering request's
    terms: TermMap | None = None
    #: the source's NGSILD-Results-Count, when it gave one (clause 6.3.13)
    count: int | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return None


def query_string(pairs: list[tuple[str, str]]) -> str:
    """`a=b&c=d`, with the characters ids and lists use (`:`, `,`) left as they are."""
    return "&".join(f"{quote(k, safe='')}={quote(v, safe=':,/*')}" for k, v in pairs)


class ContextSourceClient:
    def __init__(self, timeout: float, *, request_tenant: bool = False) -> None:
        """`request_tenant`: a registration without a `tenant` is forwarded the tenant of the
        request (Orion-LD's way) instead of none, the default tenant (clause 5.2.9)."""
        self.timeout = timeout
        self.request_tenant = request_tenant
        self._client: httpx.AsyncClient | None = None
        #: (tenant, registration id) -> when its cooldown after a failure ends (monotonic)
        self._cooling: dict[tuple[str, str], float] = {}

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(
        self,
        registration: dict[str, Any],
        method: str,
        path: str,
        origin: Origin,
        *,
        params: list[tuple[str, str]] | None = None,
        body: Any = None,
        form: Form | None = None,
    ) -> Reply:
        """`method` `path` (under `/ngsi-ld/v1`) at the registration's endpoint.

        A registration's `management` (clause 5.2.34) is kept: `localOnly` asks the source for
        its own data only (`local=true`), `timeout` bounds the wait, and after a failure no
        request goes to the source for `cooldown` milliseconds (each is answered 504 here)."""
        url = str(registration["endpoint"]).rstrip("/") + "/ngsi-ld/v1" + path
        management = registration.get("management") or {}
        if management.get("localOnly") is True:
            params = [*(params or ()), ("local", "true")]
        if params:
            url += "?" + query_string(params)
        key = (origin.tenant, str(registration["id"]))
        until = self._cooling.get(key)
        if until is not None:
            if time.monotonic() < until:
                detail = f"the context source at {url} failed less than its cooldown ago"
                return Reply(504, _problem(504, detail))
            del self._cooling[key]
        headers = self._headers(registration, origin, body, form)
        content = None if body is None else orjson.dumps(body)
        timeout = self._timeout(registration)
        try:
            async with asyncio.timeout(timeout):  # the whole exchange, not each read
                reply = await self._exchange(method, url, content, headers)
        except (httpx.TimeoutException, TimeoutError):
            log.warning("context source %s timed out: %s %s", registration["id"], method, url)
            reply = Reply(504, _problem(504, f"the context source at {url} did not answer"))
        except Exception as error:  # any failure to reach it (bad URL or port, refused, ...)
            log.warning("context source %s unreachable: %r", registration["id"], error)
            reply = Reply(502, _problem(502, f"the context source at {url} is unreachable"))
        cooldown = management.get("cooldown")
        if reply.status >= 500 and isinstance(cooldown, int | float):
            if len(self._cooling) >= 4096:
                self._cooling.clear()
            self._cooling[key] = time.monotonic() + float(cooldown) / 1000
        return reply

    async def _exchange(
        self,
        method: str,
        url: str,
        content: bytes | None,
        headers: dict[str, str],
    ) -> Reply:
        """The answer, read up to `MAX_REPLY_BYTES` (beyond: a 502 of its own)."""
        async with self._http().stream(
            method, url, content=content, headers=headers, timeout=None
        ) as response:  # the caller bounds the whole exchange
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_REPLY_BYTES:
                    log.warning("context source at %s answered over %d bytes", url, size)
                    detail = (
                        f"the context source at {url} answered more than {MAX_REPLY_BYTES} bytes"
                    )
                    return Reply(502, _problem(502, detail))
                chunks.append(chunk)
            given = response.headers.get("ngsild-results-count", "")
            count = int(given) if given.isdigit() else None
            return Reply(response.status_code, b"".join(chunks), count=count)

    def _timeout(self, registration: dict[str, Any]) -> float:
        management = registration.get("management") or {}
        given = management.get("timeout")  # milliseconds (clause 5.2.34)
        return float(given) / 1000 if isinstance(given, int | float) else self.timeout

    def _headers(
        self, registration: dict[str, Any], origin: Origin, body: Any, form: Form | None
    ) -> dict[str, str]:
        headers = {"Accept": "application/json", "Via": origin.via}
        if form is not None:
            headers["Accept"] = form.accept
            if body is not None:
                headers["Content-Type"] = form.content_type
            if form.link is not None:
                headers["Link"] = form.link
        else:
            json_ld = isinstance(body, dict) and "@context" in body
            if body is not None:
                headers["Content-Type"] = "application/ld+json" if json_ld else "application/json"
            if origin.link and not json_ld:
                headers["Link"] = origin.link
        tenant = registration.get("tenant")
        if isinstance(tenant, str) and tenant:
            headers["NGSILD-Tenant"] = tenant
        elif tenant is None and self.request_tenant and origin.tenant:
            headers["NGSILD-Tenant"] = origin.tenant
        for pair in registration.get("contextSourceInfo", ()):
            key, value = pair.get("key"), pair.get("value")
            if not isinstance(key, str) or key in _SPECIAL or key.lower() in _RESERVED:
                continue
            if value == REQUEST_VALUE:
                value = origin.headers.get(key.lower())
                if value is None:
                    continue
            headers[key] = str(value)
        return headers


def _problem(status: int, detail: str) -> bytes:
    # no NGSI-LD error type is bound to 502 or 504 (Table 6.3.2-1 binds InternalError to
    # 500): the status alone says it, as RFC 9457's about:blank with the status phrase does
    title = "Gateway Timeout" if status == 504 else "Bad Gateway"
    return orjson.dumps(
        {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
        }
    )
