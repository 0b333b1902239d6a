"""From device measures to an NGSI-LD entity, as the FIWARE IoT Agents map them.

A `DeviceBinding` is what a device's measures mean: its entity (id and type) and how each
measure name (`object_id`) becomes an attribute (name, type, sub-attributes). It merges the
config group's template with the device's own provisioning, the device winning, as the IoT
Agent library does. `measures_to_entity` turns one measure group into a normalized NGSI-LD
entity (compact names) ready for the broker's parser; values are typed by the provisioned
attribute type (UltraLight sends text, JSON sends JSON).

Pure functions: a value that does not fit its declared type raises `PayloadError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson

from dalgu.devices.observation import TIME_INSTANT, utc_time
from dalgu.devices.provisioning import AttributeMapping, Device, ServiceGroup, StaticAttribute
from dalgu.errors import PayloadError

DEFAULT_ENTITY_TYPE = "Thing"
URN_PREFIX = "urn:ngsi-ld:"
_INTEGER = re.compile(r"\s*[-+]?[0-9]+\s*")
# a number as devices write one (ASCII digits, sign, fraction, exponent): not Python's float()
# syntax, which also takes `1_000`, any script's digits (`٣٤`), `inf` and `nan`
_DECIMAL = re.compile(r"\s*[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*")
_EXACT = 2**53  # integers JSON readers everywhere keep exactly
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
NUMBER_TYPES = {"number", "float", "double", "decimal"}
INTEGER_TYPES = {"integer", "int", "long"}
BOOLEAN_TYPES = {"boolean", "bool"}
TEXT_TYPES = {"text", "string", "property"}
JSON_TYPES = {"object", "array"}  # values the agents parse as JSON
# the geometry each geo type's text or coordinate array is read as, as the agents read them
GEO_TYPES = {
    "geo:point": "Point",
    "point": "Point",
    "geoproperty": "Point",
    "geo:json": "Point",
    "geo:linestring": "LineString",
    "linestring": "LineString",
    "geo:polygon": "Polygon",
    "polygon": "Polygon",
    "geo:multipoint": "MultiPoint",
    "multipoint": "MultiPoint",
    "geo:multilinestring": "MultiLineString",
    "multilinestring": "MultiLineString",
    "geo:multipolygon": "MultiPolygon",
    "multipolygon": "MultiPolygon",
}
NGSI_LD_KINDS = {
    "LanguageProperty": "languageMap",
    "VocabProperty": "vocab",
    "ListProperty": "valueList",
    "JsonProperty": "json",
}


@dataclass(frozen=True, slots=True)
class DeviceBinding:
    """Everything needed to turn one device's measures into entity updates."""

    device_id: str
    apikey: str
    entity_id: str
    entity_type: str
    active: dict[str, AttributeMapping]  # by measure name (object_id, else name)
    commands: dict[str, AttributeMapping]  # by command name
    lazy: dict[str, AttributeMapping]  # by measure name: read from the device, never stored
    static: tuple[StaticAttribute, ...]
    explicit: bool | frozenset[str]  # True: only mapped measures; a set: only those names
    timestamp: bool
    # what JEXL expressions see and use (`transformation.py`): the FIWARE service and path,
    # the group's `entityNameExp`, an `explicitAttrs` given as an expression
    service: str = ""
    service_path: str = "/"
    entity_name_exp: str | None = None
    explicit_exp: str | None = None
    # measures mapped to `TimeInstant`: their value is the group's observation time
    time_measures: tuple[str, ...] = ()


def bind(
    group: ServiceGroup,
    device: Device | None,
    device_id: str,
    *,
    service: str = "",
    service_path: str = "/",
) -> DeviceBinding:
    """The binding of `device_id`: its provisioning over its group's template (in FIWARE
    `service` and `service_path`, which expressions may read)."""
    entity_type = (device and device.entity_type) or group.entity_type or DEFAULT_ENTITY_TYPE
    # the agents' default name: the type and the device id joined by the group's
    # `defaultEntityNameConjunction` (":" unless it sets another)
    entity_id = f"{URN_PREFIX}{entity_type}{group.defaultEntityNameConjunction}{device_id}"
    if device is not None and device.entity_name:
        entity_id = entity_id_of(device.entity_name, entity_type)
    active = {m.measure: m for m in group.attributes}
    commands = {m.name: m for m in group.commands}
    lazy = {m.measure: m for m in group.lazy}
    static = list(group.static_attributes)
    explicit: bool | str | list[str] = group.explicitAttrs
    timestamp = group.timestamp is not False  # on unless turned off, as in the IoT Agents
    if device is not None:
        active.update({m.measure: m for m in device.attributes})
        commands.update({m.name: m for m in device.commands})
        lazy.update({m.measure: m for m in device.lazy})
        static += device.static_attributes
        if device.explicitAttrs is not None:
            explicit = device.explicitAttrs
        if device.timestamp is not None:
            timestamp = device.timestamp
    return DeviceBinding(
        device_id=device_id,
        apikey=group.apikey,
        entity_id=entity_id,
        entity_type=entity_type,
        active=active,
        commands=commands,
        lazy=lazy,
        static=tuple(static),
        explicit=_explicit(explicit),
        timestamp=timestamp,
        service=service,
        service_path=service_path,
        entity_name_exp=group.entityNameExp or None,
        explicit_exp=explicit if isinstance(explicit, str) and _explicit_exp(explicit) else None,
        time_measures=tuple(
            m for m, a in active.items() if a.name == TIME_INSTANT and not a.entity_name
        ),
    )


def entity_id_of(name: str, entity_type: str) -> str:
    """The entity id an IoT Agent in NGSI-LD mode gives a device's (or a multi-entity
    attribute's) entity name: a URN as it is, any other name `urn:ngsi-ld:<type>:<name>`
    (`TheFirstLight` of type `Light` is `urn:ngsi-ld:Light:TheFirstLight`)."""
    if name[:4].lower() == "urn:":
        return name
    return f"{URN_PREFIX}{entity_type}:{name}"


def _explicit_exp(value: str) -> bool:
    """Whether an `explicitAttrs` string is an expression to evaluate with each message
    (`"true"` and `"false"` evaluate to themselves)."""
    return value.strip().lower() not in ("true", "false", "")


def _explicit(value: bool | str | list[str]) -> bool | frozenset[str]:
    if isinstance(value, list):
        return frozenset(value)
    if isinstance(value, str):  # an expression: evaluated per message (`transformation.py`)
        return value.strip().lower() == "true"
    return value


def measures_to_entity(
    binding: DeviceBinding,
    values: dict[str, Any],
    *,
    observed_at: str | None = None,
    with_static: bool = True,
    left_out: Callable[[str, str], None] | None = None,
) -> dict[str, Any]:
    """A normalized NGSI-LD entity holding one measure group (names still compact). A null
    measure is left out, as the agents' NGSI-LD conversion leaves it out; so is, when
    `left_out` is given, a value that does not fit its type (else `PayloadError`): `left_out`
    hears the measure's name and why."""
    entity: dict[str, Any] = {"id": binding.entity_id, "type": binding.entity_type}
    for measure, raw in values.items():
        mapping = binding.active.get(measure)
        if mapping is None and measure in binding.lazy:
            continue  # a lazy attribute is the device's to answer on demand, not stored
        if mapping is None:
            if binding.explicit is True or (
                isinstance(binding.explicit, frozenset) and measure not in binding.explicit
            ):
                continue
            if raw is None:
                if left_out is not None:
                    left_out(measure, "its value is null")
                continue
            name = f"measure_{measure}" if measure in ("id", "type") else measure
            entity[name] = _untyped(raw, observed_at)
            continue
        if isinstance(binding.explicit, frozenset) and mapping.name not in binding.explicit:
            continue
        if mapping.skipValue is not None and raw == mapping.skipValue:
            continue
        if raw is None:
            if left_out is not None:
                left_out(measure, "its value is null")
            continue
        try:
            entity[mapping.name] = attribute(
                mapping.type, raw, measure, mapping.metadata, observed_at
            )
        except PayloadError as error:
            if left_out is None:
                raise
            left_out(measure, error.detail)
    if with_static:
        for static in binding.static:
            entity.setdefault(
                static.name, attribute(static.type, static.value, static.name, static.metadata)
            )
    return entity


def attribute(
    declared: str,
    raw: Any,
    measure: str,
    metadata: dict[str, Any] | None = None,
    observed_at: str | None = None,
) -> dict[str, Any]:
    """One NGSI-LD attribute from a raw value and its provisioned type."""
    instance = _typed(declared, raw, measure)
    for key, meta in (metadata or {}).items():
        value = meta.get("value") if isinstance(meta, dict) else meta
        if key == "unitCode":
            instance["unitCode"] = str(value)
        elif key != "observedAt" and isinstance(meta, dict) and meta.get("type") == "Relationship":
            instance[key] = {"type": "Relationship", "object": value}  # clause 4.5.3
        elif key != "observedAt":
            instance[key] = {"type": "Property", "value": value}
    if observed_at is not None:
        instance["observedAt"] = observed_at
    return instance


def _typed(declared: str, raw: Any, measure: str) -> dict[str, Any]:
    kind = declared.strip()
    low = kind.lower()
    if low in NUMBER_TYPES:
        return {"type": "Property", "value": number_value(raw, measure, integer=False)}
    if low in INTEGER_TYPES:
        return {"type": "Property", "value": number_value(raw, measure, integer=True)}
    if low in BOOLEAN_TYPES:
        return {"type": "Property", "value": boolean_value(raw, measure)}
    if low in TEXT_TYPES:
        return {"type": "Property", "value": raw if not isinstance(raw, bytes) else raw.decode()}
    if low in GEO_TYPES:
        return {"type": "GeoProperty", "value": _geometry(GEO_TYPES[low], raw, measure)}
    if kind == "Relationship":  # one target, or several (`"object": [...]`, clause 4.5.3)
        several = isinstance(raw, list) and bool(raw)
        targets = raw if several else [raw]
        if not all(isinstance(t, str) and ":" in t for t in targets):
            raise PayloadError(
                f"measure {shown(measure)}: a Relationship needs a URI (or a list of URIs)", 0
            )
        return {"type": "Relationship", "object": raw}
    if kind in NGSI_LD_KINDS:
        return {"type": kind, NGSI_LD_KINDS[kind]: raw}
    if low in JSON_TYPES:
        return {"type": "Property", "value": json_value(raw)}
    if low == "datetime":
        return {"type": "Property", "value": {"@type": "DateTime", "@value": _utc(raw, measure)}}
    if low == "date":
        return {"type": "Property", "value": {"@type": "Date", "@value": _date(raw, measure)}}
    return {"type": "Property", "value": raw}  # any other NGSI-v2 type name: kept as given


def _utc(raw: Any, measure: str) -> str:
    """A `DateTime` in UTC, as NGSI-LD asks (clause 4.6.3: "shall be expressed in UTC", ending
    in `Z`) and the agents write it (`moment.tz(value, 'Etc/UTC').toISOString()`): an ISO 8601
    text with any offset, or epoch milliseconds as a number."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw):
        try:
            moment = datetime.fromtimestamp(raw / 1000, UTC)
        except (OverflowError, ValueError, OSError):
            pass
        else:
            return utc_time(moment.isoformat()) or ""
    if isinstance(raw, str):
        converted = utc_time(raw)
        if converted is not None:
            return converted
    raise PayloadError(f"measure {shown(measure)}: {shown(raw)} is not an ISO 8601 date-time", 0)


def _date(raw: Any, measure: str) -> str:
    """A `Date` as `YYYY-MM-DD`; a date-time gives its day in UTC, as the agents format it."""
    if isinstance(raw, str) and _DAY.fullmatch(raw.strip()):
        try:
            return date.fromisoformat(raw.strip()).isoformat()
        except ValueError:
            pass
    return _utc(raw, measure)[:10]


def json_value(raw: Any) -> Any:
    """An `Object` or `Array` value: text (UltraLight's, or a JSON string) read as JSON, as
    the agents' NGSI-LD conversion parses it; text that is no JSON stays text."""
    if not isinstance(raw, (str, bytes)):
        return raw
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw if isinstance(raw, str) else raw.decode(errors="replace")


def _untyped(raw: Any, observed_at: str | None) -> dict[str, Any]:
    instance: dict[str, Any] = {"type": "Property", "value": raw}
    if observed_at is not None:
        instance["observedAt"] = observed_at
    return instance


def shown(value: Any) -> str:
    """A value as a device sent it, in an error message: as JSON writes it (`null`, `true`,
    `"text"`, `{"a": 1}`), never a Python repr."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return orjson.dumps(str(value)).decode()


def decimal_text(text: str) -> float | None:
    """A text's number, when it is written as devices write numbers (`-2.5`, `1e3`)."""
    return float(text) if _DECIMAL.fullmatch(text) else None


def number_value(raw: Any, measure: str, *, integer: bool) -> int | float:
    """A `Number` is an integer when the device wrote one (`15`, not `15.0`), as the IoT
    Agent library's NGSI-LD mapping reads it; an `Integer` must be one, and a text of one is
    written in digits. A text is read as devices write numbers (`_DECIMAL`)."""
    if isinstance(raw, bool):
        raise PayloadError(f"measure {shown(measure)}: {shown(raw)} is not a number", 0)
    if isinstance(raw, str) and _INTEGER.fullmatch(raw):
        whole = int(raw)
        if abs(whole) <= _EXACT:
            return whole
    if isinstance(raw, str) and not _DECIMAL.fullmatch(raw):
        raise PayloadError(f"measure {shown(measure)}: {shown(raw)} is not a number", 0)
    if isinstance(raw, str) and integer and not _INTEGER.fullmatch(raw):
        raise PayloadError(f"measure {shown(measure)}: {shown(raw)} is not an integer", 0)
    try:
        value = float(raw) if not isinstance(raw, (int, float)) else raw
    except (TypeError, ValueError):
        raise PayloadError(f"measure {shown(measure)}: {shown(raw)} is not a number", 0) from None
    if not math.isfinite(value):
        raise PayloadError(f"measure {shown(measure)}: {shown(raw)} is not a finite number", 0)
    if integer:
        if value != int(value):
            raise PayloadError(f"measure {shown(measure)}: {shown(raw)} is not an integer", 0)
        return int(value)
    return int(value) if isinstance(value, int) else float(value)


def boolean_value(raw: Any, measure: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise PayloadError(f"measure {shown(measure)}: {shown(raw)} is not a boolean", 0)


def _geometry(kind: str, raw: Any, measure: str) -> dict[str, Any]:
    """A geometry from a text of numbers (`"lon,lat"`, `"lon,lat,lon,lat,…"`) or an array of
    them, in the order sent, as the IoT Agent in NGSI-LD mode reads it (`NGSIUtils.getLngLats`
    splits text, flattens arrays, pairs the numbers and swaps nothing), or a GeoJSON geometry as
    it is. A `Polygon` is its pairs as one ring; the `Multi*` geometries but `MultiPoint` have
    no text form (a flat list cannot say where a part ends) and take GeoJSON only."""
    if isinstance(raw, dict):
        return raw
    numbers = _lng_lat(raw)
    pairs = _positions(numbers) if numbers is not None else None
    if pairs is not None and kind == "Point" and len(pairs) == 1:
        return {"type": "Point", "coordinates": pairs[0]}
    if pairs is not None and kind in ("LineString", "MultiPoint") and len(pairs) >= 2:
        return {"type": kind, "coordinates": pairs}
    if pairs is not None and kind == "Polygon" and len(pairs) >= 4 and pairs[0] == pairs[-1]:
        return {"type": kind, "coordinates": [pairs]}
    form = {
        "Point": '"lon,lat"',
        "LineString": '"lon,lat,lon,lat,…" (two positions or more)',
        "MultiPoint": '"lon,lat,lon,lat,…" (two positions or more)',
        "Polygon": '"lon,lat,…" (a closed ring: four positions or more, the last the first)',
    }
    shape = form.get(kind)
    expected = f"{shape} nor GeoJSON" if shape else f"a GeoJSON {kind}"
    raise PayloadError(f"measure {shown(measure)}: {shown(raw)} is not {expected}", 0)


def _positions(numbers: list[float]) -> list[list[float]] | None:
    """Numbers paired into [lon, lat] positions; None if one is odd or off the globe."""
    if not numbers or len(numbers) % 2:
        return None
    pairs = [[numbers[i], numbers[i + 1]] for i in range(0, len(numbers), 2)]
    if all(-180 <= lon <= 180 and -90 <= lat <= 90 for lon, lat in pairs):
        return pairs
    return None


def _lng_lat(raw: Any) -> list[float] | None:
    """The numbers of a text split at its commas (or UltraLight's `/`) or of an array, its
    nested arrays and texts flattened, as the agents' `splitLngLat`; None if one is no number."""
    if isinstance(raw, str):
        parts: list[Any] = raw.replace("/", ",").split(",")
    elif isinstance(raw, list):
        parts = raw
    else:
        return None
    out: list[float] = []
    for part in parts:
        if isinstance(part, list) or (isinstance(part, str) and "," in part):
            nested = _lng_lat(part)
            if nested is None:
                return None
            out += nested
            continue
        if isinstance(part, bool) or not isinstance(part, (int, float, str)):
            return None
        if isinstance(part, str):
            parsed = decimal_text(part)
            if parsed is None:
                return None
            number = parsed
        else:
            number = float(part)
        if not math.isfinite(number):
            return None
        out.append(number)
    return out
