"""A dataset from the fields a publisher sends, every problem reported by field (CKAN's
Validation Error), nothing stored until all of them hold."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from dalgu.broker.model import is_valid_name
from dalgu.errors import DalguError, InvalidFields
from dalgu.opendata.model import (
    DEFAULT_LICENSE,
    LICENSE_IDS,
    Aggregation,
    Dataset,
    Policy,
    Publication,
    observed_column,
)
from dalgu.query.ast import map_names
from dalgu.query.duration import parse_duration
from dalgu.query.q import parse_q
from dalgu.temporal.query import AGGREGATION_METHODS

#: CKAN's rule for a dataset's and an organization's name (its URL slug)
SLUG = re.compile(r"[a-z0-9_-]{2,100}")
MIN_GRID_METRES = 1.0
MAX_GRID_METRES = 100_000.0
MISSING = "Missing value"
#: characters no XML 1.0 document may hold, even escaped (XML 1.0, 2.2 Char): one in a
#: title made the whole catalogue's RDF/XML not well-formed for every harvester
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")

#: the fields a dataset is made of (others are refused by name)
FIELDS = frozenset(
    [
        "name",
        "title",
        "notes",
        "tags",
        "license_id",
        "organization",
        "extras",
        "entity_type",
        "entity_q",
        "attributes",
        "geometry_attribute",
        "context",
        "withheld_attributes",
        "grid_metres",
        "pseudonymise_ids",
        "observed_at",
        "aggregate_period",
        "aggregate_methods",
        "aggregate_since",
    ]
)


#: the keys of a CKAN package besides those fields: CKAN's package schema's and what
#: `package_show` answers; an extra may not take one of these names, nor a field's, as
#: CKAN's `extra_key_not_in_root_schema` has it (clients merge extras into the package)
PACKAGE_KEYS = FIELDS | frozenset(
    [
        "id",
        "owner_org",
        "type",
        "state",
        "private",
        "url",
        "version",
        "author",
        "author_email",
        "maintainer",
        "maintainer_email",
        "resources",
        "num_resources",
        "num_tags",
        "groups",
        "tag_string",
        "plugin_data",
        "license_title",
        "license_url",
        "isopen",
        "metadata_created",
        "metadata_modified",
        "creator_user_id",
        "revision_id",
        "relationships_as_object",
        "relationships_as_subject",
        "ngsi_ld_query",
        "columns",
    ]
)


class _Problems:
    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, name: str, problem: str) -> None:
        self.fields.setdefault(name, []).append(problem)


def q_names(text: str) -> set[str]:
    """The attribute names a `q` expression reads (as written)."""
    seen: set[str] = set()

    def note(name: str) -> str:
        seen.add(name)
        return name

    map_names(parse_q(text), note)
    return seen


#: CKAN's rule for a tag (`tag_name_validator`, `tag_length_validator`): 2 to 100 letters,
#: digits, spaces, `-`, `_` and `.`; so that `fq=tags:<tag>` finds it without Solr escapes
TAG = re.compile(r"[\w \-.]{2,100}")


def is_tag(text: str) -> bool:
    """CKAN's rule, and not spaces only (a keyword that says nothing)."""
    return TAG.fullmatch(text) is not None and not text.isspace()


#: an id a client may give a dataset (CKAN keeps a given id: `ckanapi load` and harvesters
#: keep datasets' identity so): one segment of its IRI, `/opendata/dataset/{id}`, with no dot
#: (`{id}.ttl` is its Turtle), as CKAN's UUIDs are
GIVEN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")


def given_id(value: Any) -> str | None:
    """The id a `package_create` gives (None: none, Dalgu makes one), or InvalidFields."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not GIVEN_ID.fullmatch(value):
        raise InvalidFields(
            {"id": ["Must be 1-100 characters of a-z, A-Z, 0-9, - and _ (a UUID, say)"]}
        )
    return value


def dataset_from_fields(
    fields: Mapping[str, Any], *, dataset_id: str, created: str, modified: str, id_key: str = ""
) -> Dataset:
    """The dataset `fields` describe, or InvalidFields naming every field that is wrong;
    `id_key` is its secret for pseudonymous ids."""
    problems = _Problems()
    for unknown in sorted(set(fields) - FIELDS):
        problems.add(unknown, "Unknown field")
    name = _text(fields, "name", problems, required=True)
    if name and not SLUG.fullmatch(name):
        problems.add(
            "name",
            "Must be purely lowercase alphanumeric (ascii) characters and these symbols: -_ "
            "(2 to 100 characters)",
        )
    # blank is missing: DCAT-AP's mandatory dct:title and dct:description "  " say nothing
    title = _text(fields, "title", problems)
    title = title if title.strip() else name
    notes = _text(fields, "notes", problems)
    notes = notes if notes.strip() else ""
    organization = _text(fields, "organization", problems) or None
    if organization and not SLUG.fullmatch(organization):
        problems.add("organization", "Must be a lowercase slug like a dataset's name")
    license_id = _text(fields, "license_id", problems) or DEFAULT_LICENSE
    if license_id not in LICENSE_IDS:
        problems.add("license_id", f"Unknown license; one of {', '.join(sorted(LICENSE_IDS))}")
    tags = _names(
        fields,
        "tags",
        problems,
        check=is_tag,
        rule="each 2 to 100 alphanumeric characters, spaces or symbols -_., not spaces only",
    )
    extras = _extras(fields.get("extras"), problems)
    entity_type = _text(fields, "entity_type", problems, required=True)
    if entity_type and not is_valid_name(entity_type):
        problems.add("entity_type", "Not a valid NGSI-LD type name")
    attributes = _names(fields, "attributes", problems, check=is_valid_name)
    if not attributes and "attributes" not in problems.fields:
        problems.add("attributes", MISSING)
    aggregation = _aggregation(fields, problems)
    geometry = _text(fields, "geometry_attribute", problems) or None
    _check_columns(attributes, geometry is not None, aggregation is not None, problems)
    withheld = _names(fields, "withheld_attributes", problems, check=is_valid_name)
    if geometry is not None and not is_valid_name(geometry):
        problems.add("geometry_attribute", "Not a valid NGSI-LD attribute name")
    for published in [*attributes, *([geometry] if geometry else [])]:
        if published in withheld:
            problem = f"{published} is withheld and cannot be published"
            problems.add("attributes" if published in attributes else "geometry_attribute", problem)
            problems.add("withheld_attributes", problem)
    q = _text(fields, "entity_q", problems) or None
    if q is not None:
        try:
            named = q_names(q)
        except DalguError as exc:
            problems.add("entity_q", exc.detail)
        else:
            for name_in_q in sorted(named & set(withheld)):
                problems.add("entity_q", f"filters on {name_in_q}, which is withheld")
    grid = _grid(fields.get("grid_metres"), problems)
    pseudonymise = _flag(fields.get("pseudonymise_ids"), "pseudonymise_ids", problems)
    observed = _flag(fields.get("observed_at"), "observed_at", problems)
    if observed and aggregation is not None:
        problems.add("observed_at", "An aggregated dataset's rows are periods (start, end)")
    elif observed:
        for taken in sorted({observed_column(a) for a in attributes} & set(attributes)):
            problems.add("attributes", f"{taken} is the column of an attribute's observedAt")
    context = _text(fields, "context", problems) or None
    if context is not None and not re.match(r"https?://", context):
        problems.add("context", "Must be the http(s) URL of a JSON-LD context")
    if problems.fields:
        raise InvalidFields(problems.fields)
    return Dataset(
        id=dataset_id,
        name=name,
        title=title,
        notes=notes,
        tags=tuple(dict.fromkeys(tags)),
        license_id=license_id,
        organization=organization,
        extras=extras,
        created=created,
        modified=modified,
        publication=Publication(entity_type, tuple(attributes), q, geometry, context, observed),
        policy=Policy(tuple(withheld), grid, aggregation, pseudonymise, id_key),
    )


def _text(
    fields: Mapping[str, Any], key: str, problems: _Problems, *, required: bool = False
) -> str:
    value = fields.get(key)
    if value is None or value == "":
        if required:
            problems.add(key, MISSING)
        return ""
    if not isinstance(value, str):
        problems.add(key, "Must be a string")
        return ""
    _check_characters(key, value, problems)
    return value


def _check_characters(key: str, value: str, problems: _Problems) -> None:
    bad = NOT_XML.search(value)
    if bad is not None:
        problems.add(
            key,
            f"Must not hold U+{ord(bad[0]):04X}: control characters (but tab and line breaks), "
            "U+FFFE and U+FFFF cannot be written in XML (RDF/XML)",
        )


def _names(
    fields: Mapping[str, Any],
    key: str,
    problems: _Problems,
    *,
    check: Callable[[str], bool],
    rule: str = "",
) -> list[str]:
    value = fields.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.add(key, "Must be a list of strings")
        return []
    for text in value:
        _check_characters(key, text, problems)
    bad = [v for v in value if not check(v)]
    if bad:
        listed = ", ".join(NOT_XML.sub("", b) for b in bad)
        problems.add(key, f"Not valid: {listed}" + (f" ({rule})" if rule else ""))
    return list(value)


def _check_columns(
    attributes: list[str], located: bool, aggregated: bool, problems: _Problems
) -> None:
    """Each attribute is a column of the downloads: none may repeat or take the name of a
    column Dalgu adds (two `id` columns left every id empty and Parquet unreadable)."""
    reserved = {"id", "type"}
    if located:
        reserved |= {"longitude", "latitude"}
    if aggregated:
        reserved |= {"start", "end"}
    for name in sorted(reserved & set(attributes)):
        problems.add("attributes", f"{name} is a column of every download, not an attribute")
    repeated = sorted({a for a in attributes if attributes.count(a) > 1})
    if repeated:
        problems.add("attributes", f"Repeated: {', '.join(repeated)}")


def _flag(value: Any, key: str, problems: _Problems) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    problems.add(key, "Must be true or false")
    return False


def _extras(value: Any, problems: _Problems) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if isinstance(value, dict):
        value = [{"key": k, "value": v} for k, v in value.items()]
    pairs: list[tuple[str, str]] = []
    if isinstance(value, list):
        for item in value:
            if (
                isinstance(item, dict)
                and isinstance(item.get("key"), str)
                and isinstance(item.get("value"), str)
            ):
                pairs.append((item["key"], item["value"]))
                _check_characters("extras", item["key"] + item["value"], problems)
                if not item["key"]:  # CKAN's `not_empty` on an extra's key
                    problems.add("extras", MISSING)
                elif item["key"] in PACKAGE_KEYS:
                    problems.add("extras", "There is a schema field with the same name")
            else:
                problems.add("extras", "Each extra is {key: string, value: string}")
                return ()
    else:
        problems.add("extras", "Must be a list of {key, value}")
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        problems.add("extras", "Duplicate key")
    return tuple(pairs)


def _grid(value: Any, problems: _Problems) -> float:
    if value is None or value == "":
        return 100.0
    if isinstance(value, bool):  # true is no number of metres (it read as 1 m: exact places)
        problems.add("grid_metres", "Must be a number of metres")
        return 100.0
    try:
        grid = float(value)
    except (TypeError, ValueError):
        problems.add("grid_metres", "Must be a number of metres")
        return 100.0
    if not MIN_GRID_METRES <= grid <= MAX_GRID_METRES:
        problems.add(
            "grid_metres", f"Must be between {MIN_GRID_METRES:g} and {MAX_GRID_METRES:g} metres"
        )
    return grid


def _aggregation(fields: Mapping[str, Any], problems: _Problems) -> Aggregation | None:
    period = _text(fields, "aggregate_period", problems)
    methods = _names(fields, "aggregate_methods", problems, check=AGGREGATION_METHODS.__contains__)
    since = _text(fields, "aggregate_since", problems) or None
    if not period:
        if methods or since:
            problems.add("aggregate_period", MISSING)
        return None
    try:
        if parse_duration(period, "aggregate_period").is_zero:
            problems.add("aggregate_period", "Must be longer than zero")
    except DalguError as exc:
        problems.add("aggregate_period", exc.detail)
    if not methods and "aggregate_methods" not in problems.fields:
        problems.add("aggregate_methods", f"{MISSING}: some of {', '.join(AGGREGATION_METHODS)}")
    if since is not None and not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", since):
        problems.add("aggregate_since", "Must be a UTC time like 2026-12-01T00:00:00Z")
    return Aggregation(period, tuple(methods), since)


def dataset_fields(dataset: Dataset) -> dict[str, Any]:
    """The fields that make `dataset` again (what `package_patch` merges into)."""
    return {
        "name": dataset.name,
        "title": dataset.title,
        "notes": dataset.notes,
        "tags": list(dataset.tags),
        "license_id": dataset.license_id,
        "organization": dataset.organization,
        "extras": [{"key": k, "value": v} for k, v in dataset.extras],
        **slice_fields(dataset),
    }


def slice_fields(dataset: Dataset) -> dict[str, Any]:
    """Dalgu's own fields of `dataset`: the slice of NGSI-LD data it publishes and its
    de-identification policy."""
    pub, policy = dataset.publication, dataset.policy
    aggregation = policy.aggregation
    fields: dict[str, Any] = {
        "entity_type": pub.entity_type,
        "entity_q": pub.q,
        "attributes": list(pub.attributes),
        "geometry_attribute": pub.geometry,
        "context": pub.context,
        "withheld_attributes": list(policy.withheld),
        "grid_metres": policy.grid_metres,
        "pseudonymise_ids": policy.pseudonymise_ids,
        "observed_at": pub.observed_at,
    }
    if aggregation is not None:
        fields["aggregate_period"] = aggregation.period
        fields["aggregate_methods"] = list(aggregation.methods)
        fields["aggregate_since"] = aggregation.since
    return fields
