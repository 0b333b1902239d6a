"""A committed change as the feed publishes it: a subject to filter on, an id, a JSON body."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from dalgu.broker.render import Representation, render_entity
from dalgu.ldcontext.termmap import TermMap
from dalgu.store.base import ChangeRecord

#: characters a NATS subject token may not hold (separators, wildcards, whitespace)
_NOT_TOKEN = re.compile(r"[^A-Za-z0-9_\-]")
#: characters a tenant's token keeps as they are; every other one is escaped
_NOT_PLAIN = re.compile(r"[^A-Za-z0-9\-]")
#: the default tenant's token: no tenant name gives it (`_d` is no escape, see `tenant_token`)
DEFAULT_TENANT = "_default"
_NORMALIZED = Representation(sys_attrs=True)


@dataclass(frozen=True, slots=True)
class FeedMessage:
    subject: str
    #: JetStream drops a second message with the same id within its duplicate window; the
    #: change's time is in it, so a new database whose numbers start over never collides
    msg_id: str
    body: bytes


def token(text: str) -> str:
    """`text` as one subject token: unsafe characters replaced by `_`, never empty."""
    return _NOT_TOKEN.sub("_", text) or "_"


def tenant_token(tenant: str) -> str:
    """A tenant's subject token, one to one, so that a consumer of one tenant's subjects never
    gets another's changes: letters, digits and `-` as they are, `_` doubled, any other
    character `_` and its UTF-8 bytes in upper-case hex (`a.b` → `a_2Eb`, `a_b` → `a__b`);
    the default tenant ("") is `_default`, which no name gives."""
    if not tenant:
        return DEFAULT_TENANT
    return _NOT_PLAIN.sub(_escaped, tenant)


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return "__" if char == "_" else "".join(f"_{byte:02X}" for byte in char.encode())


def type_token(iri: str) -> str:
    """An entity type's subject token: the last segment of its IRI (`…/Vehicle` → Vehicle)."""
    for separator in ("#", "/", ":"):
        if separator in iri:
            iri = iri.rsplit(separator, 1)[1] or iri
    return token(iri)


def operation(change: ChangeRecord) -> str:
    if change.before is None:
        return "create"
    if change.after is None:
        return "delete"
    return "update"


def feed_messages(prefix: str, changes: list[ChangeRecord], terms: TermMap) -> list[FeedMessage]:
    """The messages of a batch of changes, in order. Changes of one commit may share a `seq`:
    their place in it makes each id unique (a re-read gives them the same order)."""
    messages: list[FeedMessage] = []
    place, last_seq = 0, None
    for change in changes:
        place = place + 1 if change.seq == last_seq else 0
        last_seq = change.seq
        entity = change.after if change.after is not None else change.before
        types = list(entity.get("type", ())) if entity is not None else []
        subject = f"{prefix}.{tenant_token(change.tenant)}.{type_token(types[0]) if types else '_'}"
        place_id = f"{change.seq}.{place}"
        body: dict[str, Any] = {
            "id": place_id,
            "tenant": change.tenant,
            "entityId": change.entity_id,
            "entityType": [terms.compact(t) for t in types],
            "operation": operation(change),
            "at": change.at,
            "before": _rendered(change.before, terms),
            "after": _rendered(change.after, terms),
        }
        messages.append(FeedMessage(subject, f"{place_id}@{change.at}", orjson.dumps(body)))
    return messages


def _rendered(entity: Any, terms: TermMap) -> dict[str, Any] | None:
    """The entity in NGSI-LD's normalized form with system attributes, compacted with the
    core context (other names stay full IRIs), as a notification without a context has it."""
    return None if entity is None else render_entity(entity, terms, _NORMALIZED)
