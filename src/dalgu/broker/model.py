"""Vocabulary of NGSI-LD entities as Dalgu stores them (see `dalgu.store.base`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

from dalgu.ldcontext.core import NGSI_LD

#: attribute type → the member that holds its value
VALUE_MEMBER: Final[dict[str, str]] = {
    "Property": "value",
    "Relationship": "object",
    "GeoProperty": "value",
    "LanguageProperty": "languageMap",
    "VocabProperty": "vocab",
    "ListProperty": "valueList",
    "ListRelationship": "objectList",
    "JsonProperty": "json",
}
ATTRIBUTE_TYPE_IRIS: Final[dict[str, str]] = {NGSI_LD + t: t for t in VALUE_MEMBER}

#: members of an attribute instance that are not sub-attributes
MEMBERS: Final[frozenset[str]] = frozenset(
    {
        "type",
        "value",
        "object",
        "languageMap",
        "vocab",
        "valueList",
        "objectList",
        "json",
        "datasetId",
        "observedAt",
        "unitCode",
        "objectType",
        "valueType",
        "expiresAt",
        "createdAt",
        "modifiedAt",
        "deletedAt",
        "instanceId",
        "lang",
    }
)
#: entity members that are not attributes
NOT_ATTRIBUTES: Final[frozenset[str]] = MEMBERS | {"id", "scope"}

SYSTEM_MEMBERS: Final[frozenset[str]] = frozenset({"createdAt", "modifiedAt", "deletedAt"})
ENTITY_KEYS: Final[frozenset[str]] = frozenset(
    {"id", "@id", "type", "@type", "scope", "@context", "createdAt", "modifiedAt", "deletedAt"}
)

LOCATION: Final = NGSI_LD + "location"
OBSERVATION_SPACE: Final = NGSI_LD + "observationSpace"
OPERATION_SPACE: Final = NGSI_LD + "operationSpace"
GEO_ATTRIBUTES: Final = frozenset({LOCATION, OBSERVATION_SPACE, OPERATION_SPACE})
NULL_URI: Final = "urn:ngsi-ld:null"


def null_of(holder: str) -> Any:
    """The NGSI-LD Null in the value member `holder`, as a deleted instance is shown in
    notifications and temporal evolutions: a LanguageProperty's `{"@none": Null}` (clause
    4.5.18.2), a list's array of one Null (clauses 4.5.21.2, 4.5.22.3), else the Null."""
    if holder == "languageMap":
        return {"@none": NULL_URI}
    if holder in ("valueList", "objectList"):
        return [NULL_URI]
    return NULL_URI


#: set by parsing a merge's fragment on an instance given as its bare value (simplified or
#: concise): the merge keeps the type of the attribute it lands on (clause 5.6.17.4). Never
#: stored: a name no attribute can have (`@` names are refused).
BARE_VALUE: Final = "@bareValue"
#: set on an instance of a merge's simplified body (format=simplified) that names its type
#: (`{"languageMap": ...}`): merged into an existing attribute of another type, it is refused
#: (table 6.5.3.4-1). Never stored, like `BARE_VALUE`.
KEEP_TYPE: Final = "@keepType"
#: a tuple, not a set: `value.get("type") in GEOJSON_TYPES` must hold for any JSON value a
#: client sends as a type (a list is unhashable: a set raised TypeError, a 500)
GEOJSON_TYPES: Final = (
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
)

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]*$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$")
_BAD_NAME = re.compile(r"[\s<>\"'=;()\[\]{}\\`]|[\x00-\x1f]")

Entity = dict[str, Any]


def attribute_iris(entity: Entity) -> list[str]:
    """The attributes of an entity (expanded IRIs, or names before expansion), in its order."""
    # a list, not a generator: every write walks each entity's keys several times
    return [key for key in entity if key not in NOT_ATTRIBUTES]


def first_instance(entity: Entity, iri: str) -> dict[str, Any] | None:
    """The first instance of attribute `iri` as the entity is kept, None when it has none."""
    found = entity.get(iri)
    if isinstance(found, list) and found and isinstance(found[0], dict):
        instance: dict[str, Any] = found[0]
        return instance
    return None


def first_position(geometry: Any) -> tuple[float, float] | None:
    """(lon, lat) of a GeoJSON geometry's first position (a Point's own), None when it has no
    valid one."""
    coordinates: Any = geometry.get("coordinates") if isinstance(geometry, dict) else None
    while isinstance(coordinates, list) and coordinates and isinstance(coordinates[0], list):
        coordinates = coordinates[0]
    if (
        isinstance(coordinates, list)
        and len(coordinates) >= 2
        and all(isinstance(c, int | float) and not isinstance(c, bool) for c in coordinates[:2])
    ):
        lon, lat = float(coordinates[0]), float(coordinates[1])
        if -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0:
            return lon, lat
    return None


def now_iso() -> str:
    """The current time as NGSI-LD writes it: UTC, milliseconds, `Z`."""
    return iso_ms(datetime.now(UTC))


def iso_ms(moment: datetime) -> str:
    """An aware date-time as NGSI-LD writes system times: UTC, milliseconds, `Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_uri(value: object) -> bool:
    return isinstance(value, str) and len(value) <= 2048 and bool(_URI.match(value))


def is_datetime(value: object) -> bool:
    # the longest date-time the pattern takes has 35 characters
    return isinstance(value, str) and len(value) <= 40 and _is_datetime_text(value)


@lru_cache(maxsize=4096)  # a batch's observedAt times repeat from entity to entity
def _is_datetime_text(value: str) -> bool:
    if not _DATETIME.match(value):
        return False
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is not None:  # "0001-01-01T00:00:00+09:00" is before year 1 in UTC
            parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return False
    return True


#: a comma before the fraction of the seconds, which requests may use (clause 4.6.3)
_COMMA_FRACTION = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}),(?=\d)")
#: a reduced representation: minutes without seconds ("2016-08-22T19:20Z")
_REDUCED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(Z|[+-]\d{2}:?\d{2})?$")


def request_datetime(value: object) -> str | None:
    """A DateTime as a request writes it (clause 4.6.3), as it is kept: a comma before the
    seconds' fraction ("In requests, also a comma ... may be used") becomes a point; None
    for what is not a DateTime, a reduced representation too ("not permitted": a time
    without seconds was kept, and no `q` could name it)."""
    if not isinstance(value, str):
        return None
    if "," in value:
        value = _COMMA_FRACTION.sub(r"\1.", value, count=1)
    if _REDUCED.match(value) or not is_datetime(value):
        return None
    return value


def is_valid_name(name: str) -> bool:
    return 0 < len(name) <= 1024 and _is_valid_name(name)


@lru_cache(maxsize=4096)  # attribute and type names repeat in every entity of a batch
def _is_valid_name(name: str) -> bool:
    return not _BAD_NAME.search(name)
