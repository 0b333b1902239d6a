"""Subscriptions (clause 5.2.12): parse a request payload into Dalgu's stored form and back.

The stored document keeps entity types and attribute names expanded, plus the @context the
subscription was made with, so that notifications are compacted as the subscriber expects.
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import unquote, urlsplit

from dalgu.broker.model import NULL_URI, is_datetime, is_uri, now_iso
from dalgu.errors import BadRequestData, OperationNotSupported
from dalgu.ldcontext import TermMap
from dalgu.query.ast import has_linked
from dalgu.query.geo import parse_geoquery
from dalgu.query.q import parse_q
from dalgu.query.regex import compile_pattern
from dalgu.query.scope import parse_scope_query
from dalgu.query.typesel import is_type_selection as is_type_selection
from dalgu.query.typesel import parse_type_selection
from dalgu.subscriptions.endpoints import receiver_info_problems

TRIGGERS = frozenset(
    {
        "entityCreated",
        "entityUpdated",
        "entityDeleted",
        "attributeCreated",
        "attributeUpdated",
        "attributeDeleted",
    }
)
DEFAULT_TRIGGERS = ["attributeCreated", "attributeUpdated"]
FORMATS = {"normalized", "keyValues", "simplified", "concise"}
ENDPOINT_SCHEMES = ("http://", "https://", "mqtt://", "mqtts://")
READ_ONLY = {
    "status",
    "timesSent",
    "timesFailed",
    "lastNotification",
    "lastSuccess",
    "lastFailure",
    "createdAt",
    "modifiedAt",
}
#: members an update may remove with NGSI-LD Null (clause 5.5.8): every optional one
REMOVABLE = frozenset(
    {
        "entities",
        "watchedAttributes",
        "notificationTrigger",
        "q",
        "geoQ",
        "scopeQ",
        "csf",
        "temporalQ",
        "timeInterval",
        "throttling",
        "expiresAt",
        "isActive",
        "subscriptionName",
        "description",
        "lang",
        "jsonldContext",
        "datasetId",
        "localOnly",
        "expandValues",
        "jsonKeys",
        "splitEntities",
        "ngsildConformance",
    }
)
#: members of `notification` an update may remove the same way
REMOVABLE_IN_NOTIFICATION = frozenset(
    {"attributes", "pick", "omit", "format", "join", "joinLevel", "showChanges", "sysAttrs"}
)
#: `lang` (clause 5.2.12): language ranges as Accept-Language has them (RFC 9110 12.5.4, RFC
#: 4647 2.1: an RFC 5646 tag's shape, or *), each with an optional weight
_RANGE = (
    r"(?:[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)"
    r"(?:[ \t]*;[ \t]*q=(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?))?"
)
_LANGUAGE_FILTER = re.compile(rf"{_RANGE}(?:[ \t]*,[ \t]*{_RANGE})*")
#: the NGSI-LD version whose representations notifications follow (clause 4.3.6.8)
CONFORMANCE = (1, 9)


def _names(value: Any, key: str, terms: TermMap) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise BadRequestData(f"{key} must be a non-empty array of names")
    return [terms.expand(v) for v in value]


def _positive(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise BadRequestData(f"{key} must be a number greater than 0")
    return float(value)


def parse_selectors(value: Any, terms: TermMap) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise BadRequestData("entities must be a non-empty array of entity selectors")
    selectors = []
    for item in value:
        if not isinstance(item, dict):
            raise BadRequestData("an entity selector must be an object")
        selector: dict[str, str] = {}
        if "id" in item:
            if not is_uri(item["id"]):
                raise BadRequestData(f"entity selector id {item['id']!r} is not a URI")
            selector["id"] = item["id"]
        if "idPattern" in item:
            if not isinstance(item["idPattern"], str):
                raise BadRequestData(f"invalid idPattern {item['idPattern']!r}")
            compile_pattern(item["idPattern"], "idPattern")
            selector["idPattern"] = item["idPattern"]
        if "type" not in item or not isinstance(item["type"], str) or not item["type"]:
            raise BadRequestData("an entity selector needs a type")
        text = item["type"]
        if is_type_selection(text):
            parse_type_selection(text)  # 400 naming the bad character
            selector["type"] = text  # names expanded when the subscription is compiled
        else:
            selector["type"] = terms.expand(text)
        selectors.append(selector)
    return selectors


def parse_notification(value: Any, terms: TermMap, *, partial: bool = False) -> dict[str, Any]:
    """Notification parameters (clause 5.2.14); with `partial`, those of an update: the
    endpoint (mandatory there too) and the members it gives, NGSI-LD Null marking those it
    removes; `merge_subscription` keeps the others as they were."""
    if not isinstance(value, dict):
        raise BadRequestData("notification must be an object")
    notification: dict[str, Any] = {}
    if partial:
        for key, given in value.items():
            if _is_null(given):
                if key not in REMOVABLE_IN_NOTIFICATION:
                    raise BadRequestData(f"notification.{key} cannot be removed")
                notification[key] = NULL_URI
        value = {k: v for k, v in value.items() if k not in notification}
    # mandatory in an update's too (the ETSI suite's 029_03_01 reads NotificationParams so);
    # a Null endpoint was refused above, as a member that cannot be removed
    notification["endpoint"] = _parse_endpoint(value.get("endpoint"))
    if "attributes" in value:
        notification["attributes"] = _names(value["attributes"], "notification.attributes", terms)
    for key in ("pick", "omit"):
        given = value.get(key)
        if given is not None:
            names = given.split(",") if isinstance(given, str) else given
            if (
                not isinstance(names, list)
                or not names
                or not all(isinstance(n, str) and n for n in names)
            ):
                raise BadRequestData(f"notification.{key} must list member names (not none)")
            notification[key] = names
    if "format" in value or not partial:
        fmt = value.get("format", "normalized")
        if fmt not in FORMATS:
            raise BadRequestData(f"unknown notification format {fmt!r}")
        notification["format"] = "keyValues" if fmt == "simplified" else fmt
    if "join" in value:
        if value["join"] not in ("flat", "inline", "@none"):
            raise BadRequestData("notification.join must be flat, inline or @none")
        notification["join"] = value["join"]
    if "joinLevel" in value:
        level = value["joinLevel"]
        if not isinstance(level, int) or isinstance(level, bool) or level < 1:
            raise BadRequestData("notification.joinLevel must be a positive integer")
        notification["joinLevel"] = level
    for key in ("showChanges", "sysAttrs"):
        if key in value:
            if not isinstance(value[key], bool):
                raise BadRequestData(f"notification.{key} must be a boolean")
            notification[key] = value[key]
    if not partial:
        check_notification(notification)
    return notification


def check_notification(notification: dict[str, Any]) -> None:
    """Members that cannot go together, in a whole notification (as created or merged)."""
    if "pick" in notification and "omit" in notification:
        raise BadRequestData("notification.pick and notification.omit cannot be used together")
    if "attributes" in notification and ("pick" in notification or "omit" in notification):
        raise BadRequestData("notification.attributes cannot be combined with pick or omit")
    if notification.get("showChanges") and notification.get("format") == "keyValues":
        raise BadRequestData("notification.showChanges cannot be true with the keyValues format")


def _parse_endpoint(endpoint: Any) -> dict[str, Any]:
    if not isinstance(endpoint, dict) or not isinstance(endpoint.get("uri"), str):
        raise BadRequestData("notification.endpoint.uri is mandatory")
    uri = endpoint["uri"]
    if not uri.startswith(ENDPOINT_SCHEMES) or not is_uri(uri):
        raise BadRequestData(f"unsupported notification endpoint {uri!r}")
    _check_deliverable(uri)
    accept = endpoint.get("accept", "application/json")
    if accept not in ("application/json", "application/ld+json", "application/geo+json"):
        raise BadRequestData(f"unsupported endpoint accept {accept!r}")
    parsed_endpoint: dict[str, Any] = {"uri": uri, "accept": accept}
    for key in ("receiverInfo", "notifierInfo"):
        if key in endpoint:
            info = endpoint[key]
            if not isinstance(info, list) or not all(
                isinstance(i, dict)
                and isinstance(i.get("key"), str)
                and isinstance(i.get("value"), str)
                for i in info
            ):
                raise BadRequestData(f"{key} must be an array of {{key, value}} strings")
            parsed_endpoint[key] = info
    problems = receiver_info_problems(parsed_endpoint)  # each entry becomes a header
    if problems:
        raise BadRequestData(problems[0])
    for item in parsed_endpoint.get("notifierInfo", []):
        allowed = NOTIFIER_VALUES.get(item["key"])
        if allowed is not None and item["value"] not in allowed:
            raise BadRequestData(f"notifierInfo {item['key']} is one of {', '.join(allowed)}")
    for key in ("timeout", "cooldown"):  # milliseconds (clause 5.2.15)
        if key in endpoint:
            _positive(endpoint[key], f"notification.endpoint.{key}")
            parsed_endpoint[key] = endpoint[key]
    return parsed_endpoint


def _is_null(value: Any) -> bool:
    """NGSI-LD Null (clause 4.5.0), or JSON null as merge-patch (IETF RFC 7396) has it."""
    return value is None or value == NULL_URI


#: notifierInfo values the MQTT binding knows (clause 7.2)
NOTIFIER_VALUES: dict[str, tuple[str, ...]] = {
    "MQTT-Version": ("mqtt3.1.1", "mqtt5.0"),
    "MQTT-QoS": ("0", "1", "2"),
}


def _check_deliverable(uri: str) -> None:
    """Refuse an endpoint no notification could ever reach: an HTTP URL without a host, an
    MQTT URL without a topic or with a wildcard in it (one publishes to a topic, never to a
    filter)."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - read for its check: a port that is not a number is a ValueError
    except ValueError as exc:  # "http://[::1": an unclosed IPv6 address
        raise BadRequestData(f"notification endpoint {uri!r} is not a URL: {exc}") from None
    if not parts.hostname:
        raise BadRequestData(f"notification endpoint {uri!r} names no host")
    if parts.scheme in ("mqtt", "mqtts"):
        topic = unquote(parts.path.lstrip("/"))
        if not topic:
            raise BadRequestData(f"notification endpoint {uri!r} names no MQTT topic")
        if "#" in uri or "+" in topic:  # urlsplit reads a "#" as a fragment
            raise BadRequestData(f"an MQTT topic to publish to has no wildcard: {uri!r}")


def parse_subscription(
    body: Any, terms: TermMap, context: Any, *, partial: bool = False
) -> dict[str, Any]:
    """A subscription (or, with `partial`, a fragment for PATCH) in stored form."""
    if not isinstance(body, dict):
        raise BadRequestData("a subscription must be a JSON object")
    doc: dict[str, Any] = {}
    if not partial:
        sub_id = body.get("id", f"urn:ngsi-ld:Subscription:{uuid.uuid4()}")
        if not is_uri(sub_id):
            raise BadRequestData(f"subscription id {sub_id!r} is not a URI")
        if body.get("type") != "Subscription":
            raise BadRequestData('a subscription must have "type": "Subscription"')
        doc.update(id=sub_id, type="Subscription")
    elif "id" in body or ("type" in body and body["type"] != "Subscription"):
        raise BadRequestData("the id and type of a subscription cannot be changed")
    for key, value in body.items():
        if key in ("id", "type", "@context") or key in READ_ONLY:
            continue
        if partial and _is_null(value):
            if key not in REMOVABLE:
                raise BadRequestData(f"{key} cannot be removed from a subscription")
            doc[key] = NULL_URI
        elif key == "entities":
            doc[key] = parse_selectors(value, terms)
        elif key == "watchedAttributes":
            doc[key] = _names(value, key, terms)
        elif key == "notificationTrigger":
            if not isinstance(value, list) or not value or not set(value) <= TRIGGERS:
                raise BadRequestData(f"notificationTrigger must list some of {sorted(TRIGGERS)}")
            doc[key] = value
        elif key == "q":
            if not isinstance(value, str):
                raise BadRequestData("q must be a string")
            if has_linked(parse_q(unquote(value))):
                raise OperationNotSupported(
                    "q: linked-entity terms (rel{...}) are not supported in subscriptions; "
                    "they are in queries (GET /entities, the temporal API)"
                )
            doc[key] = value
        elif key == "geoQ":
            if not isinstance(value, dict):
                raise BadRequestData("geoQ must be an object")
            coordinates = value.get("coordinates")
            if not isinstance(coordinates, (str, list)):
                raise BadRequestData("geoQ.coordinates must be an array (or its JSON text)")
            parse_geoquery(
                str(value.get("georel")),
                str(value.get("geometry")),
                coordinates,
                value.get("geoproperty"),
            )
            doc[key] = value
        elif key == "scopeQ":
            parse_scope_query(str(value))
            doc[key] = value
        elif key in ("timeInterval", "throttling"):
            _positive(value, key)
            doc[key] = value  # as given: 5 stays 5
        elif key == "expiresAt":
            if not is_datetime(value):
                raise BadRequestData("expiresAt must be a DateTime")
            doc[key] = value
        elif key == "isActive":
            if not isinstance(value, bool):
                raise BadRequestData("isActive must be a boolean")
            doc[key] = value
        elif key == "notification":
            doc[key] = parse_notification(value, terms, partial=partial)
        elif key in ("subscriptionName", "description", "lang", "jsonldContext"):
            if not isinstance(value, str):
                raise BadRequestData(f"{key} must be a string")
            if key == "lang" and not _LANGUAGE_FILTER.fullmatch(value):
                raise BadRequestData(
                    f"lang {value!r} is not a language filter: RFC 5646 language tags (or *), "
                    "comma-separated, each with an optional ;q= weight (clause 5.2.12, 4.15)"
                )
            doc[key] = value
        elif key in ("expandValues", "jsonKeys"):
            attribute_names(value, key)
            doc[key] = value
        elif key == "csf":  # read as a q on registrations' properties (clause 4.9)
            if not isinstance(value, str):
                raise BadRequestData("csf must be a string")
            if has_linked(parse_q(value)):
                raise OperationNotSupported("csf: a registration has no linked entities")
            doc[key] = value
        elif key in ("datasetId", "localOnly"):
            doc[key] = value
        elif key == "splitEntities":
            # Dalgu holds whole entities and forwards filters with them (clause 4.3.6)
            if not isinstance(value, bool):
                raise BadRequestData("splitEntities must be a boolean")
            doc[key] = value
        elif key == "ngsildConformance":
            doc[key] = _conformance(value)
        else:
            raise BadRequestData(f"unknown subscription member {key!r}")
    if not partial:
        _check_whole(doc)
        now = now_iso()
        doc.update(createdAt=now, modifiedAt=now)
        doc["@context"] = context
    return doc


def _check_whole(doc: dict[str, Any], *, check_expiry: bool = True) -> None:
    if "notification" not in doc:
        raise BadRequestData("a subscription needs notification parameters")
    if "entities" not in doc and "watchedAttributes" not in doc:
        raise BadRequestData("a subscription needs entities or watchedAttributes")
    if "timeInterval" in doc and "watchedAttributes" in doc:
        raise BadRequestData("timeInterval and watchedAttributes cannot be used together")
    if "timeInterval" in doc and "throttling" in doc:
        raise BadRequestData("timeInterval and throttling cannot be used together")
    if check_expiry and "expiresAt" in doc and doc["expiresAt"] <= now_iso():
        raise BadRequestData("expiresAt is in the past")


def _conformance(value: Any) -> str:
    """`ngsildConformance` (clause 5.2.12): the version notifications must conform to.

    Dalgu's notifications follow V1.9; the backwards-compatibility operation of clause 4.3.6.8
    (amending them for an earlier version) is not built, so an earlier version is refused
    rather than silently ignored."""
    parts = value.split(".") if isinstance(value, str) else []
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise BadRequestData("ngsildConformance must be a version major.minor, e.g. 1.9")
    if (int(parts[0]), int(parts[1])) < CONFORMANCE:
        raise OperationNotSupported(
            f"notifications conform to NGSI-LD 1.9; amending them for {value} "
            "(clause 4.3.6.8) is not supported"
        )
    return str(value)


def merge_subscription(current: dict[str, Any], fragment: dict[str, Any]) -> dict[str, Any]:
    """`current` updated by a fragment of `parse_subscription(partial=True)`: members given
    replace, NGSI-LD Null removes (clause 5.5.8), notification members merge one by one."""
    merged = {**current}
    for key, value in fragment.items():
        if value == NULL_URI:
            merged.pop(key, None)
        elif key == "notification":
            notification = {**current.get("notification", {}), **value}
            for member, given in value.items():
                if given == NULL_URI:
                    del notification[member]
            notification.setdefault("format", "normalized")
            check_notification(notification)
            merged[key] = notification
        else:
            merged[key] = value
    _check_whole(merged, check_expiry="expiresAt" in fragment)
    merged["modifiedAt"] = now_iso()
    return merged


def status_of(doc: dict[str, Any]) -> str:
    if "expiresAt" in doc and doc["expiresAt"] <= now_iso():
        return "expired"
    return "active" if doc.get("isActive", True) else "paused"


def render_subscription(
    doc: dict[str, Any], terms: TermMap, *, sys_attrs: bool = False
) -> dict[str, Any]:
    """The subscription as clients see it, names compacted with `terms`."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in ("@context", "status", "tenant"):
            continue
        if key in ("createdAt", "modifiedAt") and not sys_attrs:
            continue
        if key == "entities":
            out[key] = [
                s if is_type_selection(s["type"]) else {**s, "type": terms.compact(s["type"])}
                for s in value
            ]
        elif key == "watchedAttributes":
            out[key] = [terms.compact(a) for a in value]
        elif key == "notification":
            notification = dict(value)
            if "attributes" in notification:
                notification["attributes"] = [terms.compact(a) for a in notification["attributes"]]
            notification.update(doc.get("status", {}))
            if "lastFailure" in notification or "lastSuccess" in notification:
                ok = notification.get("lastSuccess", "") >= notification.get("lastFailure", "")
                notification["status"] = "ok" if ok else "failed"
            out[key] = notification
        else:
            out[key] = value
    out.setdefault("notificationTrigger", list(DEFAULT_TRIGGERS))
    out["status"] = status_of(doc)
    return out


def attribute_names(value: Any, key: str) -> list[str]:
    """The attribute names of `expandValues` or `jsonKeys` (clause 5.2.12: a comma-separated
    list; an array of names is taken too)."""
    if value is None:
        return []
    values = (
        value if isinstance(value, list) else value.split(",") if isinstance(value, str) else None
    )
    if values is None or not all(isinstance(v, str) and v.strip() for v in values):
        raise BadRequestData(f"{key} must be a comma-separated list of attribute names")
    return [v.strip() for v in values]
