"""What a notification carries (clause 5.3.1, 5.11) and how it goes on the wire (6.3.x)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from dalgu.broker.join import Join, render_flat, render_inline
from dalgu.broker.model import VALUE_MEMBER, Entity, now_iso, null_of
from dalgu.broker.render import (
    Representation,
    feature,
    feature_collection,
    pick_language,
    project,
    render_entity,
)
from dalgu.ldcontext import CORE_CONTEXT_URL, TermMap
from dalgu.store.base import ChangeRecord, Delivery
from dalgu.subscriptions.index import CompiledSubscription
from dalgu.subscriptions.matching import view_datasets

CONTEXT_LINK = '<{}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


NULL = "urn:ngsi-ld:null"


def representation(sub: CompiledSubscription) -> Representation:
    """How a subscription's notifications render entities (format, attributes, pick/omit,
    datasetId, sysAttrs, lang)."""
    doc = sub.doc
    params = doc["notification"]
    attrs = params.get("attributes")
    base = Representation(
        format=params.get("format", "normalized"),
        sys_attrs=params.get("sysAttrs", False),
        lang=doc.get("lang"),
        attrs=frozenset(attrs) if attrs else None,
        datasets=view_datasets(doc),
    )
    pick, omit = params.get("pick"), params.get("omit")
    if not pick and not omit:
        return base
    rep = project(
        base,
        sub.terms,
        pick=dict.fromkeys(pick) if pick else None,
        omit=dict.fromkeys(omit) if omit else None,
    )
    return rep


def join_of(doc: dict[str, Any]) -> Join | None:
    """The subscription's Linked Entity Retrieval (`notification.join`, `joinLevel`)."""
    params = doc["notification"]
    mode = params.get("join")
    if mode not in ("flat", "inline"):
        return None
    return Join(mode, params.get("joinLevel", 1))


def change_payload(
    sub: CompiledSubscription,
    change: ChangeRecord,
    entity: dict[str, Any],
    reason: str,
    deleted: dict[str, list[dict[str, Any]]] | None = None,
    linked: dict[str, Entity] | None = None,
) -> bytes:
    """The notification of one change. `deleted`: the attribute instances the change removed
    (by attribute IRI), shown with the NGSI-LD Null as their value (clause 4.5.x, 5.8.6).
    `linked`: the entities the changed one links to, for `notification.join`."""
    doc = sub.doc
    rep = representation(sub)
    show_changes = bool(doc["notification"].get("showChanges"))
    data: list[dict[str, Any]] = []
    if change.after is None:
        rendered: dict[str, Any] = {"id": entity["id"], "type": _compact_types(entity, sub.terms)}
        rendered["deletedAt"] = change.at
        if rep.sys_attrs:
            rendered["createdAt"] = entity.get("createdAt")
            rendered["modifiedAt"] = entity.get("modifiedAt")
    else:
        join = join_of(doc)
        if linked is not None and join is not None and join.mode == "flat":
            data = render_flat([change.after], linked, sub.terms, rep, join)
            rendered = data[0]
        elif linked is not None and join is not None:
            rendered = render_inline(change.after, linked, sub.terms, rep, join)
        else:
            rendered = render_entity(change.after, sub.terms, rep)
        if rep.sys_attrs:  # a notification carries them in keyValues too (046_17)
            rendered.setdefault("createdAt", change.after.get("createdAt"))
            rendered.setdefault("modifiedAt", change.after.get("modifiedAt"))
        if show_changes and change.before is not None:
            _add_previous(rendered, change.before, sub.terms, rep)
    if deleted:
        whole = {
            iri: change.after is None or iri not in change.after for iri in deleted
        }  # the attribute is gone, not only some of its instances
        gone = change.after is None
        _add_deleted(rendered, deleted, whole, gone, sub.terms, rep, change.at, show_changes)
    return notification(doc["id"], data if data else [rendered], reason)


def _add_deleted(
    rendered: dict[str, Any],
    deleted: dict[str, list[dict[str, Any]]],
    whole: dict[str, bool],
    entity_gone: bool,
    terms: TermMap,
    rep: Representation,
    at: str,
    show_changes: bool,
) -> None:
    """A deleted attribute as one instance with the Null; deleted instances of an attribute
    that stays as Null instances beside the others, each with its datasetId."""
    for iri, instances in deleted.items():
        if rep.datasets is not None:  # the view of the subscription's datasets: their Nulls
            instances = [i for i in instances if i.get("datasetId", "@none") in rep.datasets]
        elif whole[iri]:  # one Null for the attribute, the default instance's if it had one
            default = [i for i in instances if "datasetId" not in i]
            instances = [{k: v for k, v in (default or instances)[0].items() if k != "datasetId"}]
        if (rep.attrs is not None and iri not in rep.attrs) or iri in rep.omit:
            continue
        kept = instances
        if not kept:
            continue
        name = terms.compact(iri)
        current = rendered.get(name)
        if rep.format == "keyValues":
            gone = [old.get("datasetId", "@none") for old in kept]
            rendered[name] = _simplified_with_nulls(current, gone)
            continue
        nulls: list[dict[str, Any]] = []
        for old in kept:
            member = VALUE_MEMBER.get(old.get("type", "Property"), "value")
            null: dict[str, Any] = {"type": old.get("type", "Property")}
            if show_changes and member in old:
                null[_PREVIOUS[member]] = _previous(member, old[member], terms, rep)
            # a LanguageProperty of a deleted entity: the plain Null, as the suite has it
            language_map = member == "languageMap" and not entity_gone
            null[member] = NULL if member == "languageMap" and not language_map else null_of(member)
            if "datasetId" in old:
                null["datasetId"] = old["datasetId"]
            if rep.sys_attrs:
                for system in ("createdAt", "modifiedAt"):
                    if system in old:
                        null[system] = old[system]
                null["deletedAt"] = at
            nulls.append(null)
        if current is None:
            rendered[name] = nulls[0] if len(nulls) == 1 else nulls
        else:
            rendered[name] = (current if isinstance(current, list) else [current]) + nulls


def _simplified_with_nulls(current: Any, gone: list[str]) -> Any:
    """A simplified attribute with its deleted instances (their datasetIds, `@none` for the
    default) as NGSI-LD Nulls: the Null alone for the default instance of an attribute with
    nothing left, else the multi-attribute form `{"dataset": {datasetId: value}}` of clause
    4.5.4 with a Null per deleted datasetId."""
    if current is None and gone == ["@none"]:
        return NULL
    if isinstance(current, dict) and current.keys() == {"dataset"}:
        datasets = dict(current["dataset"])
    else:
        datasets = {} if current is None else {"@none": current}
    datasets.update(dict.fromkeys(gone, NULL))
    return {"dataset": datasets}


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


def context_of(doc: dict[str, Any]) -> Any:
    """A subscription's @context; a list of one URL is that URL."""
    context = doc.get("@context")
    if isinstance(context, list) and len(context) == 1 and isinstance(context[0], str):
        return context[0]
    return context


def wire(
    doc: dict[str, Any], endpoint: dict[str, Any], delivery: Delivery
) -> tuple[dict[str, str], bytes]:
    """Headers and body for the endpoint's `accept` (clause 5.2.15 / 6.3.x): JSON with the
    @context in a Link header, JSON-LD with it in every entity of `data`, or GeoJSON: `data`
    a FeatureCollection of the entities, each geometry their `location` (clause 4.5.16), the
    @context in a Link header."""
    context = doc.get("jsonldContext") or context_of(doc) or CORE_CONTEXT_URL
    headers = {i["key"]: i["value"] for i in endpoint.get("receiverInfo", [])}
    if delivery.tenant:
        headers["NGSILD-Tenant"] = delivery.tenant
    body = delivery.payload
    if endpoint.get("accept") == "application/ld+json":
        notification = orjson.loads(body)
        for entity in notification.get("data", ()):
            if isinstance(entity, dict):
                entity["@context"] = context
        notification["@context"] = context
        body = orjson.dumps(notification)
        headers["Content-Type"] = "application/ld+json"
    else:
        headers["Content-Type"] = "application/json"
        if endpoint.get("accept") == "application/geo+json":
            notification = orjson.loads(body)
            keys_only = doc["notification"].get("format") == "keyValues"
            entities = [e for e in notification.get("data", ()) if isinstance(e, dict)]
            notification["data"] = feature_collection(
                feature(e, "location", keys_only)
                for e in entities  # a core term: never redefined
            )
            body = orjson.dumps(notification)
            headers["Content-Type"] = "application/geo+json"
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


def _previous(member: str, value: Any, terms: TermMap, rep: Representation) -> Any:
    if member == "vocab":  # vocab values are IRIs, compacted like the current one
        if isinstance(value, list):
            return [terms.compact(v) for v in value]
        return terms.compact(value)
    return value


def _add_previous(
    rendered: dict[str, Any], before: dict[str, Any], terms: TermMap, rep: Representation
) -> None:
    """showChanges: the previous value next to each changed attribute (clause 5.8.x)."""
    if rep.format == "keyValues":
        return
    for iri, instances in before.items():
        if not isinstance(instances, list) or not instances:
            continue
        shown = rendered.get(terms.compact(iri))
        # each instance against the one of its datasetId (clause 4.5.5), the default's too
        olds = {i.get("datasetId"): i for i in instances if isinstance(i, dict)}
        for current in shown if isinstance(shown, list) else [shown]:
            if not isinstance(current, dict):
                continue
            old = olds.get(current.get("datasetId"))
            if old is None:
                continue
            for member, previous in _PREVIOUS.items():
                if member == "languageMap" and rep.lang is not None and member in old:
                    # shown as a Property in the chosen language (clause 4.15): its previous
                    # text is a previousValue, as a Property's (clause 4.5.2.2)
                    text, _ = pick_language(old[member], rep.lang)
                    if text != current.get("value"):
                        current["previousValue"] = text
                    continue
                if member in old and old[member] != current.get(member):
                    if member == "vocab" and terms.compact(old[member]) == current.get(member):
                        continue
                    current[previous] = _previous(member, old[member], terms, rep)


def lane_of(delivery: Delivery) -> str:
    """The entity a delivery is about (its notification's first), which orders it: the
    deliveries of one entity are sent one after another, those of others may overlap."""
    try:
        data = orjson.loads(delivery.payload).get("data") or ()
        first = data[0] if data else None
        return str(first.get("id", "")) if isinstance(first, dict) else ""
    except (orjson.JSONDecodeError, AttributeError):
        return ""
