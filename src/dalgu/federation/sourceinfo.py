"""The `contextSourceInfo` keys with a meaning of their own (clause 4.3.6.6): how a request is
put to a context source, and how its answer is read.

- `jsonldContext`: the request's names (payload, query parameters, the attribute or type in
  the path) are compacted with that @context (`translation.Translation`) and sent with it, as
  `application/json` with a `Link` to it (its `@context` members removed); the answer is
  read with it.
- `contentType`: the body is sent in that media type whatever the client sent: with
  `application/ld+json` its `@context` is in the body (no Link); with `application/json` it is
  linked, and a context that cannot be linked (an object, several URLs) is spelled out: the
  names are sent as full IRIs (compacted with the core context alone). With `jsonldContext`
  too, `contentType` decides where that context goes.
- `accept`: the source is asked for that media type; an `application/ld+json` answer is read
  with its own `@context`.
- `ngsildConformance` (`major.minor`): the payload falls back to what that version of NGSI-LD
  has (clause 4.3.6.8, `conformance`).

A registration without these keys is forwarded as before, by the same code as before
(`Distributor.run`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from dalgu.errors import DalguError, LdContextNotAvailable
from dalgu.federation import conformance
from dalgu.federation.client import Form, Origin, Reply
from dalgu.federation.conformance import Version
from dalgu.federation.translation import Translation
from dalgu.ldcontext.core import CORE_CONTEXT_URL
from dalgu.ldcontext.termmap import TermMap

JSON = "application/json"
JSON_LD = "application/ld+json"

_KEYS = frozenset({"jsonldContext", "contentType", "accept", "ngsildConformance"})
CONTEXT_LINK = '<{}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What a registration's `contextSourceInfo` asks of requests to its source."""

    registration_id: str
    jsonld_context: str | None = None
    content_type: str | None = None  # JSON or JSON_LD
    accept: str | None = None  # JSON or JSON_LD
    conformance: Version | None = None  # the NGSI-LD version of its payloads


def source_info(registration: dict[str, Any]) -> SourceInfo | None:
    """The registration's clause 4.3.6.6 keys; None when it has none (or none Dalgu applies:
    a media type other than JSON and JSON-LD is left out, as if not given)."""
    found: dict[str, str] = {}
    for pair in registration.get("contextSourceInfo") or ():
        key, value = pair.get("key"), pair.get("value")
        if key in _KEYS and isinstance(value, str):
            found[key] = value
    if not found:
        return None
    given = found.get("ngsildConformance")
    info = SourceInfo(
        str(registration["id"]),
        found.get("jsonldContext") or None,
        _media_type(found.get("contentType")),
        _media_type(found.get("accept")),
        None if given is None else conformance.version(given),
    )
    if info == SourceInfo(info.registration_id):
        return None
    return info


def _media_type(value: str | None) -> str | None:
    kind = (value or "").split(";")[0].strip().lower()
    return kind if kind in (JSON, JSON_LD) else None


@dataclass(frozen=True, slots=True)
class Prepared:
    """A request as the context source is to receive it."""

    path: str
    params: list[tuple[str, str]] | None
    body: Any
    form: Form
    #: the vocabulary the request was put in; None: the client's own
    terms: TermMap | None


async def prepare(
    info: SourceInfo,
    origin: Origin,
    method: str,
    path: str,
    params: list[tuple[str, str]] | None,
    body: Any,
) -> Prepared:
    """The request to `info`'s source; LdContextNotAvailable (naming the registration) when
    its `jsonldContext`, or the @context of a body item, cannot be had."""
    contexts, client = origin.contexts, origin.terms
    accept = info.accept or JSON
    if contexts is None or client is None:  # not from an HTTP request: nothing to translate
        if info.conformance is not None:
            body = _conformant(body, info.conformance, method, path)
        form = Form(info.content_type or JSON, origin.link, accept)
        return Prepared(path, params, body, form, None)
    context: Any = origin.context
    target: TermMap | None = None
    if info.jsonld_context is not None:
        context = info.jsonld_context
        target = await _resolve(info, contexts.resolve, context, "its jsonldContext")
    items = body if isinstance(body, list) else [body]
    own = [i.get("@context") for i in items if isinstance(i, dict) and "@context" in i]
    content_type = info.content_type or (JSON if target is not None or not own else JSON_LD)
    if target is None and content_type == JSON and own:
        # a body with its @context, to be sent as JSON: linked if it is one URL, else named
        # in full IRIs (the core context's vocabulary)
        first = own[0]
        if isinstance(first, str) and all(c == first for c in own):
            context = first
        else:
            context, target = None, contexts.core
    if target is not None:
        speech = Translation(client, target)
        terms: list[TermMap] = []
        for item in items:
            given = item.get("@context") if isinstance(item, dict) else None
            terms.append(
                client
                if given is None
                else await _resolve(info, contexts.resolve, given, "the body's @context")
            )
        body = _translated(body, terms, target, method, path)
        path = speech.path(path)
        params = speech.params(params) if params else params
    elif content_type == JSON:
        body = _without_context(body)
    if info.conformance is not None:
        body = _conformant(body, info.conformance, method, path)
    if content_type == JSON_LD and body is not None:
        body = _with_context(body, context or CORE_CONTEXT_URL)
        link = None
    elif context is None:
        link = None
    elif isinstance(context, str):
        link = CONTEXT_LINK.format(context)
    else:
        link = origin.link
    return Prepared(path, params, body, Form(content_type, link, accept), target)


async def answer_terms(
    info: SourceInfo, origin: Origin, prepared: Prepared, reply: Reply
) -> TermMap | None:
    """The vocabulary to read `reply` with: the @context it carries (an
    `application/ld+json` answer), else the one the request was put in."""
    if not reply.ok or not reply.body or origin.contexts is None:
        return prepared.terms
    if info.accept != JSON_LD and b'"@context"' not in reply.body:
        return prepared.terms
    try:
        answered = orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        return prepared.terms
    first = answered[0] if isinstance(answered, list) and answered else answered
    if not isinstance(first, dict) or "@context" not in first:
        return prepared.terms
    return await _resolve(info, origin.contexts.resolve, first["@context"], "its answer's @context")


async def _resolve(
    info: SourceInfo, resolve: Callable[[Any], Awaitable[TermMap]], context: Any, what: str
) -> TermMap:
    try:
        terms: TermMap = await resolve(context)
    except DalguError as error:
        raise LdContextNotAvailable(
            f"registration {info.registration_id}: {what} cannot be used: {error.detail}"
        ) from None
    return terms


def _translated(body: Any, terms: list[TermMap], target: TermMap, method: str, path: str) -> Any:
    """`body` (its items read with `terms`, one each) in `target`'s vocabulary."""
    if body is None:
        return None
    if path == "/entityOperations/query":
        return Translation(terms[0], target).query(body)
    if path.startswith("/entityOperations/"):
        if not isinstance(body, list):
            return body
        return [
            Translation(t, target).entity(item) if isinstance(item, dict) else item
            for item, t in zip(body, terms, strict=True)
        ]
    speech = Translation(terms[0], target)
    if "/attrs/" in path and not path.endswith("/attrs/"):
        return speech.instance(body) if method == "PATCH" else speech.attribute(body)
    return speech.entity(body)


def _conformant(body: Any, to: Version, method: str, path: str) -> Any:
    """`body` as NGSI-LD `to` has it (clause 4.3.6.8): entities and attributes fall back."""
    if body is None or path == "/entityOperations/query":
        return body
    if path.startswith("/entityOperations/"):
        if not isinstance(body, list):
            return body
        return [conformance.entity(item, to) for item in body]
    if "/attrs/" in path and not path.endswith("/attrs/"):
        if method == "PATCH":
            return conformance.instance(body, to)
        return conformance.attribute(body, to)
    return conformance.entity(body, to)


def _without_context(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: v for k, v in body.items() if k != "@context"}
    if isinstance(body, list):
        return [_without_context(item) for item in body]
    return body


def _with_context(body: Any, context: Any) -> Any:
    """`body` with `context` where it has none of its own (an item of a JSON-LD batch)."""
    if isinstance(body, dict):
        return body if "@context" in body else {**body, "@context": context}
    if isinstance(body, list):
        return [_with_context(item, context) if isinstance(item, dict) else item for item in body]
    return body
