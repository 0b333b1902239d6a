"""FHIR search parameters parsed into a typed query (pure: text in, `SearchQuery` or a precise
`BadRequestData` out). The stores compile a `SearchQuery` into SQL over their index rows.

Repeating a parameter ANDs it (`date=ge2024&date=lt2025`); commas inside one value OR it
(`code=a,b`); `\\,`, `\\|`, `\\$` and `\\\\` escape.

A search is bounded: at most `MAX_PARAMETERS` parameters and `MAX_VALUES` values in all
(400 `too-costly` beyond), so no request can ask the database for an unbounded query.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dalgu.errors import BadRequestData, NotAcceptable, TooCostly
from dalgu.fhir.dates import date_range
from dalgu.fhir.searchparams import (
    COMMON,
    PARAMETERS,
    SearchParam,
    is_external,
    reference_target,
)
from dalgu.fhir.subsetting import Subset, parse_subset

DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")
#: DSTU1's comparators, which fhirclient (`$gt`, `$lte`, ...) still sends and HAPI FHIR still
#: reads (`ParamPrefixEnum.forDstu1Value`): synonyms of R4's prefixes (no date starts so)
LEGACY_PREFIXES = (">=", "<=", ">", "<")
_LEGACY_NAMES = {">=": "ge", "<=": "le", ">": "gt", "<": "lt"}
#: JSON media types a request may send or ask for (`application/json+fhir` is DSTU2's, which
#: older clients still send and HAPI still takes)
JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")
#: what `_format` may ask for: a JSON media type or its short name
JSON_FORMATS = (*JSON_TYPES, "json")
#: the most parameters (repeats included) one search may have
MAX_PARAMETERS = 30
#: the most values (comma-separated ones included) of all its parameters together
MAX_VALUES = 1000
#: the furthest `_offset` a search or a history page may start at
MAX_OFFSET = 10_000_000
RESULT_PARAMETERS = frozenset(
    {"_count", "_offset", "_sort", "_include", "_total", "_totalMethod", "_summary", "_format"}
    | {"_pretty", "_revinclude", "_elements"}
)


@dataclass(frozen=True, slots=True)
class TokenValue:
    system: str | None  # None: any system; "": no system
    code: str | None  # None: any code of `system`


@dataclass(frozen=True, slots=True)
class StringValue:
    text: str
    mode: str  # start | exact | contains


@dataclass(frozen=True, slots=True)
class DateValue:
    prefix: str
    lo: float
    hi: float


@dataclass(frozen=True, slots=True)
class RefValue:
    type: str | None  # None: any type the parameter allows
    id: str  # or another server's URL (`searchparams.reference_target`)


Value = TokenValue | StringValue | DateValue | RefValue


@dataclass(frozen=True, slots=True)
class Clause:
    """Matches when any of `values` matches (`negate`: when none does, token `:not`)."""

    param: SearchParam
    values: tuple[Value, ...]
    negate: bool = False


@dataclass(frozen=True, slots=True)
class SortKey:
    param: SearchParam
    descending: bool


@dataclass(frozen=True, slots=True)
class Include:
    """`_include=Observation:patient`: the resources the matches' `param` refers to."""

    param: SearchParam
    target: str | None


@dataclass(frozen=True, slots=True)
class RevInclude:
    """`_revinclude=Observation:subject`: the `source` resources whose `param` refers to a
    match."""

    source: str
    param: SearchParam


@dataclass(frozen=True, slots=True)
class SearchQuery:
    type: str
    clauses: tuple[Clause, ...] = ()
    count: int = 20
    offset: int = 0
    sort: tuple[SortKey, ...] = ()
    includes: tuple[Include, ...] = ()
    revincludes: tuple[RevInclude, ...] = ()
    total: bool = True
    only_count: bool = False  # _summary=count
    #: the patients whose compartments the caller may see (None: no restriction)
    patients: frozenset[str] | None = None
    #: with `patients`: resources in no patient's compartment are visible too (Devices)
    unlinked: bool = False
    ignored: tuple[str, ...] = field(default=())  # unknown parameters a lenient search skipped
    subset: Subset | None = None  # _summary=true|text|data, _elements: what each match shows
    #: this server's URL: absolute references under it are its own (`_include` reads them)
    base: str | None = None

    def params_of(self, name: str) -> list[Clause]:
        return [c for c in self.clauses if c.param.name == name]


def split_values(text: str, separator: str = ",") -> list[str]:
    """Split on `separator` unless escaped with a backslash; unescape the parts."""
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def _token(raw: str) -> TokenValue:
    pieces = split_values(raw, "|")
    if len(pieces) == 1:
        return TokenValue(None, pieces[0])
    return TokenValue(pieces[0], "|".join(pieces[1:]) or None)


def _date(raw: str, name: str) -> DateValue:
    legacy = next((p for p in LEGACY_PREFIXES if raw.startswith(p)), None)
    if legacy is not None:
        prefix, text = _LEGACY_NAMES[legacy], raw[len(legacy) :]
    else:
        prefix = raw[:2] if raw[:2] in DATE_PREFIXES else "eq"
        text = raw[2:] if raw[:2] in DATE_PREFIXES else raw
    try:
        lo, hi = date_range(text)
    except BadRequestData:
        raise BadRequestData(f"{name}: {raw!r} is not a date with an optional prefix") from None
    return DateValue(prefix, lo, hi)


def _reference(raw: str, param: SearchParam, modifier: str | None, base: str | None) -> RefValue:
    kind: str | None
    if "/" in raw:
        split = reference_target(raw, base)
        if split is None:
            raise BadRequestData(f"{param.name}: {raw!r} is not a reference")
        kind, ident = split
    else:
        kind, ident = modifier, raw
        if kind is None and len(param.targets) == 1:
            kind = param.targets[0]
    if kind is not None and not param.refers_to(kind):
        raise BadRequestData(f"{param.name} refers to {', '.join(param.targets)}, not {kind}")
    if not ident:
        raise BadRequestData(f"{param.name}: empty reference")
    return RefValue(kind, ident)


def _clause(param: SearchParam, modifier: str | None, raw: str, base: str | None) -> Clause:
    name = param.name
    negate = False
    if param.type == "token":
        if modifier not in (None, "not"):
            raise BadRequestData(f"{name}: modifier :{modifier} is not supported")
        negate = modifier == "not"
        values: list[Value] = [_token(v) for v in _raw_parts(raw)]
    elif param.type == "string":
        if modifier not in (None, "exact", "contains"):
            raise BadRequestData(f"{name}: modifier :{modifier} is not supported")
        values = [StringValue(v, modifier or "start") for v in split_values(raw) if v]
    elif param.type == "date":
        if modifier is not None:
            raise BadRequestData(f"{name}: modifier :{modifier} is not supported")
        values = [_date(v, name) for v in split_values(raw)]
    else:
        if modifier is not None and not modifier[:1].isupper():
            raise BadRequestData(f"{name}: modifier :{modifier} is not supported")
        values = [_reference(v, param, modifier, base) for v in split_values(raw)]
    if not values:
        raise BadRequestData(f"{name} has no value")
    return Clause(param, tuple(values), negate)


def _raw_parts(raw: str) -> list[str]:
    """Comma-separated token values, each still with its escapes (for the `|` split)."""
    parts, current, escaped = [], [], False
    for char in raw:
        if escaped:
            current.append("\\" + char if char == "|" else char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p for p in parts if p]


def _integer(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestData(f"{name} must be an integer, not {raw!r}") from None
    if not low <= value <= high:
        raise BadRequestData(f"{name} must be between {low} and {high}")
    return value


def parse_search(
    type_name: str,
    items: list[tuple[str, str]],
    *,
    default_count: int = 20,
    max_count: int = 500,
    lenient: bool = False,
    base: str | None = None,
) -> SearchQuery:
    """The query that `GET [type]?items` asks for; unknown parameters are refused (400)
    unless `lenient` (the client sent `Prefer: handling=lenient`). `base` is this server's
    URL: a reference value under it names this server's resource, another URL that URL."""
    known = {**COMMON, **PARAMETERS.get(type_name, {})}
    check_size(items)
    clauses: list[Clause] = []
    count, offset, total, only_count = default_count, 0, True, False
    sort: list[SortKey] = []
    includes: list[Include] = []
    revincludes: list[RevInclude] = []
    ignored: list[str] = []
    summary: str | None = None
    elements: str | None = None
    for key, raw in items:
        name, _, modifier = key.partition(":")
        if name == "_count":  # more than the server gives is capped (R4 3.1.1.5.5)
            count = min(_integer("_count", raw, 0, 2**31 - 1), max_count)
        elif name == "_offset":
            offset = _integer("_offset", raw, 0, MAX_OFFSET)
        elif name == "_total":
            if raw not in ("none", "estimate", "accurate"):
                raise BadRequestData("_total is none, estimate or accurate")
            total = raw != "none"
        elif name == "_summary":
            summary = raw
            only_count = raw == "count"
        elif name == "_elements":
            elements = raw if elements is None else f"{elements},{raw}"
        elif name == "_sort":
            sort.extend(_sort_keys(raw, known))
        elif name == "_include":
            includes.append(_include(type_name, raw))
        elif name == "_revinclude":
            revincludes.append(_revinclude(type_name, raw))
        elif name == "_totalMethod":  # HAPI's variant of _total, which clients (fhirpy) send
            total = total and raw != "none"
        elif name in ("_format", "_pretty"):
            if name == "_format" and raw.split(";")[0].strip().lower() not in JSON_FORMATS:
                raise NotAcceptable(f"this server answers JSON only, not _format={raw!r}")
        elif name in known:
            clauses.append(_clause(known[name], modifier or None, raw, base))
        elif lenient:
            ignored.append(key)
        else:
            raise BadRequestData(f"unknown search parameter {key!r} for {type_name}")
    clauses = list(dict.fromkeys(clauses))  # a repeated clause ANDs nothing more
    values = sum(len(c.values) for c in clauses)
    if values > MAX_VALUES:
        raise TooCostly(
            f"this search has {values} values; a search takes at most {MAX_VALUES} "
            "(split it into several)"
        )
    return SearchQuery(
        type_name,
        tuple(clauses),
        count,
        offset,
        tuple(sort),
        tuple(includes),
        total=total,
        only_count=only_count,
        revincludes=tuple(revincludes),
        ignored=tuple(ignored),
        subset=parse_subset(type_name, summary, elements),
        base=base,
    )


def check_size(items: list[tuple[str, str]]) -> None:
    """400 for more parameters than a search takes, or a NUL character (which no index
    holds and PostgreSQL's text cannot)."""
    if len(items) > MAX_PARAMETERS:
        raise TooCostly(
            f"this search has {len(items)} parameters; a search takes at most {MAX_PARAMETERS}"
        )
    for key, raw in items:
        if "\x00" in key or "\x00" in raw:
            raise BadRequestData(f"search parameter {key.replace(chr(0), '')!r}: NUL character")


def _sort_keys(raw: str, known: dict[str, SearchParam]) -> list[SortKey]:
    keys = []
    for part in raw.split(","):
        descending = part.startswith("-")
        name = part.lstrip("-")
        param = known.get(name)
        if param is None or (param.type != "date" and name != "_id"):
            raise BadRequestData(f"cannot sort by {name!r}: _id and date parameters sort")
        keys.append(SortKey(param, descending))
    return keys


def _include(type_name: str, raw: str) -> Include:
    parts = raw.split(":")
    if len(parts) not in (2, 3) or parts[0] != type_name:
        raise BadRequestData(f"_include is {type_name}:<reference parameter>[:<type>]")
    param = PARAMETERS.get(type_name, {}).get(parts[1])
    if param is None or not param.is_reference:
        raise BadRequestData(f"{parts[1]!r} is not a reference parameter of {type_name}")
    return Include(param, parts[2] if len(parts) == 3 else None)


def _revinclude(type_name: str, raw: str) -> RevInclude:
    parts = raw.split(":")
    if len(parts) not in (2, 3):
        raise BadRequestData("_revinclude is <type>:<reference parameter>[:<target type>]")
    source, name = parts[0], parts[1]
    param = PARAMETERS.get(source, {}).get(name)
    if param is None or not param.is_reference:
        raise BadRequestData(f"{name!r} is not a reference parameter of {source!r}")
    target = parts[2] if len(parts) == 3 else type_name
    if target != type_name or not param.refers_to(type_name):
        raise BadRequestData(f"{source}:{name} never refers to a {type_name}")
    return RevInclude(source, param)


def named_patients(query: SearchQuery) -> set[str]:
    """The patients of this server a search names explicitly (patient/subject references,
    Patient `_id`); another server's Patient is none of them."""
    named: set[str] = set()
    for clause in query.clauses:
        for value in clause.values:
            if (
                clause.param.name in ("patient", "subject")
                and isinstance(value, RefValue)
                and value.type in (None, "Patient")
                and not is_external(value.id)
            ):
                named.add(value.id)
            if (
                query.type == "Patient"
                and clause.param.name == "_id"
                and isinstance(value, TokenValue)
            ):
                named.add(value.code or "")
    return named
