"""The distributed-operations service: which registrations a tenant has (cached per process),
the `Via` of forwarded requests, and running one operation's parts together.

Registrations are read from the store at most once a second per tenant and at once after this
process changed one; another worker's change is seen within that second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from dalgu.broker.model import now_iso
from dalgu.errors import Conflict, ContextSourceError, DalguError, LoopDetected
from dalgu.federation.client import ContextSourceClient, Origin, Reply
from dalgu.federation.routing import Claim, claims, hop, hops, live
from dalgu.federation.sourceinfo import answer_terms, prepare, source_info
from dalgu.ldcontext.resolver import ContextResolver
from dalgu.ldcontext.termmap import TermMap
from dalgu.settings import Settings
from dalgu.store.base import RegistrationStore

log = logging.getLogger("dalgu.federation")

#: how long a tenant's registrations are used before they are read again (seconds)
REFRESH = 1.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """One part of a distributed operation: this broker's (registration None) or a context
    source's, and its error if it failed."""

    registration_id: str | None
    error: DalguError | None = None
    reply: Reply | None = None


@dataclass(frozen=True, slots=True)
class Forward:
    """A request to one context source."""

    claim: Claim
    method: str
    path: str
    params: list[tuple[str, str]] | None = None
    body: Any = None


@dataclass(frozen=True, slots=True)
class Plan:
    """One request's distribution: the claims on it, and where it came from."""

    distributor: Distributor
    origin: Origin
    claims: list[Claim]
    #: does this broker hold the entity written (None: not asked)
    held: bool | None = None
    #: the client's query parameters a forwarded request takes (all but `local`)
    params: tuple[tuple[str, str], ...] = ()


class Distributor:
    def __init__(self, store: RegistrationStore, client: ContextSourceClient, name: str) -> None:
        self.store = store
        self.client = client
        #: this broker in Via headers (RFC 9110 received-by: a pseudonym)
        self.name = name
        self._cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}

    async def registrations(self, tenant: str) -> list[dict[str, Any]]:
        now = time.monotonic()
        cached = self._cache.get(tenant)
        if cached is not None and cached[0] > now:
            return cached[1]
        docs = await self.store.registrations(tenant)
        if len(self._cache) >= 1024:
            self._cache.clear()
        self._cache[tenant] = (now + REFRESH, docs)
        return docs

    def known_empty(self, tenant: str) -> bool:
        """True when `tenant` is known, as of less than a second ago, to have no registrations:
        the hottest reads ask this first and skip the lookup's coroutine."""
        cached = self._cache.get(tenant)
        return cached is not None and not cached[1] and cached[0] > time.monotonic()

    async def _record(self, tenant: str, sent: list[tuple[str | None, bool]]) -> None:
        """Count what each context source was sent (Table 5.2.9-2); a store that cannot is
        logged, the request answered all the same."""
        at = now_iso()
        try:
            await self.store.record_forwarding(
                tenant, [(rid, ok, at) for rid, ok in sent if rid is not None]
            )
        except Exception:
            log.warning(
                "could not record the forwarded requests of tenant %r", tenant, exc_info=True
            )

    def forget(self, tenant: str) -> None:
        """A registration of `tenant` changed in this process."""
        self._cache.pop(tenant, None)

    def origin(
        self,
        tenant: str,
        headers: Mapping[str, str],
        *,
        context: Any = None,
        terms: TermMap | None = None,
        contexts: ContextResolver | None = None,
    ) -> Origin:
        """The forwarding half of a request; LoopDetected if it has passed this broker in this
        tenant (clause 4.3.6.4: each tenant of a source is a source of its own).
        `context` and `terms`: the request's @context and its terms, which `contexts`
        translates for registrations that ask for another (clause 4.3.6.6)."""
        via = headers.get("via", "")
        if via and (self.name, tenant) in hops(via):
            raise LoopDetected(f"the request has passed this broker already (Via: {via})")
        mine = hop(self.name, tenant)
        return Origin(
            tenant=tenant,
            via=f"{via}, {mine}" if via else mine,
            link=headers.get("link"),
            headers=dict(headers),
            context=context,
            terms=terms,
            contexts=contexts,
        )

    async def claims(
        self,
        tenant: str,
        origin: Origin,
        operation: str,
        entity_id: str | None,
        types: list[str] | None,
        *,
        reads: bool = False,
    ) -> list[Claim]:
        docs = await self.registrations(tenant)
        if not docs:
            return []
        untenanted = origin.tenant if self.client.request_tenant else ""
        found = live(docs, origin.via, untenanted)
        return claims(found, operation, entity_id, types, reads=reads)

    async def run(
        self,
        origin: Origin,
        forwards: list[Forward],
        local: Callable[[], Awaitable[Any]] | None,
        refused: list[Claim] | None = None,
    ) -> list[Outcome]:
        """Every forward and this broker's own part at once; one outcome each, this
        broker's first. `refused` are proxied claims that do not offer the operation: a
        Conflict each (clause 5.6.1.4)."""
        sending = asyncio.gather(*(self._send(f, origin) for f in forwards))
        if local is not None:
            replies, own = await asyncio.gather(sending, _local(local))
            outcomes = [own]
        else:
            replies, outcomes = await sending, []
        sent: list[tuple[str | None, bool]] = []  # (registration, succeeded)
        for forward, reply in zip(forwards, replies, strict=True):
            rid = forward.claim.registration_id
            if isinstance(reply, DalguError):  # the request could not be put: a failure too
                outcomes.append(Outcome(rid, reply))
                sent.append((rid, False))
                continue
            outcomes.append(Outcome(rid, remote_error(reply), reply))
            sent.append((rid, reply.ok))
        if sent:
            await self._record(origin.tenant, sent)
        for claim in refused or ():
            outcomes.append(Outcome(claim.registration_id, refusal(claim)))
        return outcomes

    async def _send(self, forward: Forward, origin: Origin) -> Reply | DalguError:
        """`forward`'s reply; a registration with clause 4.3.6.6 keys has its request put in
        the form they ask and its reply marked with the vocabulary to read it with."""
        registration = forward.claim.registration
        info = source_info(registration) if "contextSourceInfo" in registration else None
        if info is None:
            return await self.client.send(
                registration,
                forward.method,
                forward.path,
                origin,
                params=forward.params,
                body=forward.body,
            )
        try:
            prepared = await prepare(
                info, origin, forward.method, forward.path, forward.params, forward.body
            )
        except DalguError as error:
            log.warning("not forwarded to %s: %s", info.registration_id, error.detail)
            return error
        reply = await self.client.send(
            registration,
            forward.method,
            prepared.path,
            origin,
            params=prepared.params,
            body=prepared.body,
            form=prepared.form,
        )
        try:
            terms = await answer_terms(info, origin, prepared, reply)
        except DalguError as error:
            log.warning("answer of %s not read: %s", info.registration_id, error.detail)
            return error
        return replace(reply, terms=terms) if terms is not None else reply


def via_name(settings: Settings) -> str:
    """This broker in a Via header: the host and port it is reached at (RFC 9110 7.6.3)."""
    return urlsplit(settings.base_url).netloc or f"{settings.host}:{settings.port}"


async def _local(local: Callable[[], Awaitable[Any]]) -> Outcome:
    try:
        await local()
    except DalguError as error:
        return Outcome(None, error)
    return Outcome(None)


def refusal(claim: Claim) -> DalguError:
    return Conflict(
        f"registration {claim.registration_id} ({claim.mode}) holds these attributes and does "
        "not offer this operation"
    )


def remote_error(reply: Reply) -> DalguError | None:
    """None for a 2xx reply but 207; else the context source's error, its ProblemDetails kept.
    A 207 is a partial failure (clause 4.3.6.1): what the source did not do is the error."""
    if reply.status == 207:
        return partial_error(reply)
    if reply.ok:
        return None
    problem = reply.json()
    detail = f"the context source answered {reply.status}"
    type_uri = None
    if isinstance(problem, dict):
        given = problem.get("detail") or problem.get("title")
        if isinstance(given, str):
            detail = given
        if isinstance(problem.get("type"), str):
            type_uri = problem["type"]
    return ContextSourceError(detail, reply.status, type_uri)


def partial_error(reply: Reply) -> ContextSourceError:
    """A context source's 207: its UpdateResult's `notUpdated` attributes (clause 5.2.18) or
    its BatchOperationResult's errors (clause 5.2.16, the first one's type and status), named
    in the detail; `notUpdated` is kept as it came, in a member of the same name."""
    answer = reply.json()
    failures: list[str] = []
    kept: dict[str, Any] = {}
    status, type_uri = 207, None  # an UpdateResult gives no kind of error
    if isinstance(answer, dict) and isinstance(answer.get("notUpdated"), list):
        kept["notUpdated"] = answer["notUpdated"]
        for item in answer["notUpdated"]:
            if isinstance(item, dict):
                failures.append(f"{item.get('attributeName')}: {item.get('reason')}")
    elif isinstance(answer, dict) and isinstance(answer.get("errors"), list):
        for item in answer["errors"]:
            problem = item.get("error") if isinstance(item, dict) else None
            if isinstance(problem, dict):
                failures.append(str(problem.get("detail") or problem.get("title")))
                if type_uri is None and isinstance(problem.get("type"), str):
                    type_uri = problem["type"]
                    given = problem.get("status")
                    status = given if isinstance(given, int) and given >= 400 else status
    detail = "the context source did it in part (207)"
    if failures:
        detail += ", not: " + "; ".join(failures)
    error = ContextSourceError(detail, status, type_uri)
    error.extra.update(kept)
    return error
