"""What a notification carries (clause 5.3.1, 5.11) and how it goes on the wire (6.3.x)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from dalgu.broker.model import now_iso
from dalgu.broker.render import Representation, render_entity
from dalgu.ldcontext import CORE_CONTEXT_URL, TermMap
from dalgu.store.base import ChangeRecord, Delivery
from dalgu.subscriptions.index import CompiledSubscription

CONTEXT_LINK = '<{}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


def change_payload(
    sub: CompiledSubscription, change: ChangeRecord, entity: dict[str, Any], reason: str
) -> bytes:
    doc = sub.doc
    params = doc["notification"]
    if change.after is None:
        data = [
            {
                "id": entity["id"],
                "type": _compact_types(entity, sub.terms),
                "deletedAt": change.at,
            }
        ]
    else:
        attrs = params.get("attributes")
        rep = Representation(
            format=params.get("format", "normalized"),
            sys_attrs=params.get("sysAttrs", False),
            lang=doc.get("lang"),
            attrs=frozenset(attrs) if attrs else None,
        )
        rendered = render_entity(change.after, sub.terms, rep)
        if params.get("showChanges") and change.before is not None:
            _add_previous(rendered, change.before, sub.terms, rep)
        data = [rendered]
    return notification(doc["id"], data, reason)


def notification(subscription_id: str, data: list[Any], reason: str) -> bytes:
    return orjson.dumps(
        {
            "id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
            "type": "Notification",
            "subscriptionId": subscription_id,
            "notifiedAt": now_iso(),
            "data": data,
            "triggerReason": reason,
        }
    )


def wire(
    doc: dict[str, Any], endpoint: dict[str, Any], delivery: Delivery
) -> tuple[dict[str, str], bytes]:
    """Headers and body for the endpoint's `accept` (clause 5.2.15 / 6.3.x)."""
    context = doc.get("jsonldContext") or doc.get("@context") or CORE_CONTEXT_URL
    headers = {i["key"]: i["value"] for i in endpoint.get("receiverInfo", [])}
    if delivery.tenant:
        headers["NGSILD-Tenant"] = delivery.tenant
    body = delivery.payload
    if endpoint.get("accept") == "application/ld+json":
        notification = orjson.loads(body)
        notification["@context"] = context
        body = orjson.dumps(notification)
        headers["Content-Type"] = "application/ld+json"
    else:
        headers["Content-Type"] = "application/json"
        if isinstance(context, str):
            headers["Link"] = CONTEXT_LINK.format(context)
    return headers, body


def _compact_types(entity: dict[str, Any], terms: TermMap) -> Any:
    types = [terms.compact(t) for t in entity.get("type", [])]
    return types[0] if len(types) == 1 else types


_PREVIOUS = {
    "value": "previousValue",
    "object": "previousObject",
    "vocab": "previousVocab",
    "languageMap": "previousLanguageMap",
    "json": "previousJson",
    "valueList": "previousValueList",
    "objectList": "previousObjectList",
}


def _add_previous(
    rendered: dict[str, Any], before: dict[str, Any], terms: TermMap, rep: Representation
) -> None:
    """showChanges: the previous value next to each changed attribute (clause 5.8.x)."""
    if rep.format == "keyValues":
        return
    for iri, instances in before.items():
        name = terms.compact(iri)
        current = rendered.get(name)
        if not isinstance(current, dict) or not isinstance(instances, list) or not instances:
            continue
        old = instances[0]
        for member, previous in _PREVIOUS.items():
            if member in old and old[member] != current.get(member):
                current[previous] = old[member]
