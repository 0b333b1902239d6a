"""The search parameters this server supports, and the index rows a resource gives for them.

Each parameter names where in a resource its values are (a dotted path; `[x]` a choice type)
and its FHIR type. At write time `index_rows` extracts every parameter's values into rows the
store keeps beside the resource, so a search is evaluated in SQL over indexes: tokens as
(system, code), strings normalized (case and accents folded) and exact, dates as the epoch
range they cover, references as (target type, target id).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from dalgu.errors import DalguError
from dalgu.fhir.dates import date_range, period_range
from dalgu.fhir.model import Resource

SPEC = "http://hl7.org/fhir/SearchParameter/"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")  # an absolute URL (or URN) starts so
_CAP = 256  # index entries keep the first characters: btree entries stay small
DALGU = "urn:dalgu:fhir:SearchParameter/"


@dataclass(frozen=True, slots=True)
class SearchParam:
    name: str
    type: str  # token | string | date | reference
    paths: tuple[str, ...]
    targets: tuple[str, ...] = ()  # reference: the resource types it may point to
    definition: str = ""  # the canonical SearchParameter it implements
    # a reference whose values are a subset of other parameters' (their paths together are
    # its paths, their targets wider: Observation `patient` of `subject`, AuditEvent `patient`
    # of `agent` and `entity`) has no rows of its own: it is searched as those parameters'
    # rows whose target type is one of its own (`indexed_as`)
    indexed_as: tuple[str, ...] = ()

    @property
    def is_reference(self) -> bool:
        return self.type == "reference"

    def refers_to(self, type_name: str) -> bool:
        """Whether this is a reference parameter whose values may point to `type_name`."""
        return self.is_reference and (not self.targets or type_name in self.targets)


#: parameters R4 defines once for several types (search-parameters.json): their canonical is
#: the shared definition's (`clinical-patient`), not `[type]-[name]`, which R4 does not have
SHARED: dict[str, frozenset[tuple[str, str]]] = {
    shared: frozenset((t, name) for t in types.split())
    for shared, name, types in (
        (
            "clinical-identifier",
            "identifier",
            "Observation Encounter Condition AllergyIntolerance MedicationStatement Consent",
        ),
        (
            "clinical-patient",
            "patient",
            "Observation Encounter Condition AllergyIntolerance MedicationStatement Consent",
        ),
        ("clinical-code", "code", "Observation Condition AllergyIntolerance MedicationStatement"),
        ("clinical-date", "date", "Observation Encounter Consent"),
        ("clinical-encounter", "encounter", "Observation"),
        ("clinical-type", "type", "Encounter"),
        ("individual-family", "family", "Patient Practitioner"),
        ("individual-given", "given", "Patient Practitioner"),
        ("individual-birthdate", "birthdate", "Patient"),
        ("individual-gender", "gender", "Patient"),
        ("individual-address-city", "address-city", "Patient"),
        ("medications-status", "status", "MedicationStatement"),
        ("medications-medication", "medication", "MedicationStatement"),
    )
}
_SHARED_BY_PARAM = {key: shared for shared, keys in SHARED.items() for key in keys}


def _p(
    resource: str, name: str, kind: str, *paths: str, targets: tuple[str, ...] = (), own: str = ""
) -> SearchParam:
    """A parameter of `resource`; `own` is the canonical of one R4 does not define."""
    shared = _SHARED_BY_PARAM.get((resource, name))
    definition = own or f"{SPEC}{shared or f'{resource}-{name}'}"
    return SearchParam(name, kind, paths, targets, definition)


_PATIENT = ("Patient",)
_SUBJECTS = ("Patient", "Group", "Device", "Location")

#: resource type -> parameter name -> parameter (`_id` and `_lastUpdated` apply to all)
PARAMETERS: dict[str, dict[str, SearchParam]] = {
    t: {p.name: p for p in ps}
    for t, ps in {
        "Patient": [
            _p("Patient", "identifier", "token", "identifier"),
            _p("Patient", "name", "string", "name"),
            _p("Patient", "family", "string", "name.family"),
            _p("Patient", "given", "string", "name.given"),
            _p("Patient", "birthdate", "date", "birthDate"),
            _p("Patient", "gender", "token", "gender"),
            _p("Patient", "active", "token", "active"),
            _p("Patient", "address-city", "string", "address.city"),
            _p(
                "Patient",
                "general-practitioner",
                "reference",
                "generalPractitioner",
                targets=("Practitioner", "Organization", "PractitionerRole"),
            ),
        ],
        "Practitioner": [
            _p("Practitioner", "identifier", "token", "identifier"),
            _p("Practitioner", "name", "string", "name"),
            _p("Practitioner", "family", "string", "name.family"),
            _p("Practitioner", "given", "string", "name.given"),
        ],
        "Organization": [
            _p("Organization", "identifier", "token", "identifier"),
            _p("Organization", "name", "string", "name", "alias"),
            _p("Organization", "type", "token", "type"),
        ],
        "Device": [
            _p("Device", "identifier", "token", "identifier"),
            _p("Device", "patient", "reference", "patient", targets=_PATIENT),
            _p("Device", "type", "token", "type"),
            _p("Device", "status", "token", "status"),
            _p("Device", "organization", "reference", "owner", targets=("Organization",)),
        ],
        "Observation": [
            _p("Observation", "identifier", "token", "identifier"),
            _p("Observation", "patient", "reference", "subject", targets=_PATIENT),
            _p("Observation", "subject", "reference", "subject", targets=_SUBJECTS),
            _p("Observation", "code", "token", "code"),
            _p("Observation", "category", "token", "category"),
            _p("Observation", "date", "date", "effective[x]"),
            _p("Observation", "status", "token", "status"),
            _p("Observation", "device", "reference", "device", targets=("Device",)),
            _p("Observation", "encounter", "reference", "encounter", targets=("Encounter",)),
            _p("Observation", "component-code", "token", "component.code"),
        ],
        "Encounter": [
            _p("Encounter", "identifier", "token", "identifier"),
            _p("Encounter", "patient", "reference", "subject", targets=_PATIENT),
            _p("Encounter", "subject", "reference", "subject", targets=("Patient", "Group")),
            _p("Encounter", "status", "token", "status"),
            _p("Encounter", "class", "token", "class"),
            _p("Encounter", "type", "token", "type"),
            _p("Encounter", "date", "date", "period"),
        ],
        "Condition": [
            _p("Condition", "identifier", "token", "identifier"),
            _p("Condition", "patient", "reference", "subject", targets=_PATIENT),
            _p("Condition", "subject", "reference", "subject", targets=("Patient", "Group")),
            _p("Condition", "code", "token", "code"),
            _p("Condition", "clinical-status", "token", "clinicalStatus"),
            _p("Condition", "category", "token", "category"),
            _p("Condition", "onset-date", "date", "onset[x]"),
            _p("Condition", "encounter", "reference", "encounter", targets=("Encounter",)),
        ],
        "AllergyIntolerance": [
            _p("AllergyIntolerance", "identifier", "token", "identifier"),
            _p("AllergyIntolerance", "patient", "reference", "patient", targets=_PATIENT),
            _p("AllergyIntolerance", "code", "token", "code", "reaction.substance"),
            _p("AllergyIntolerance", "clinical-status", "token", "clinicalStatus"),
            _p("AllergyIntolerance", "criticality", "token", "criticality"),
        ],
        "MedicationStatement": [
            _p("MedicationStatement", "identifier", "token", "identifier"),
            _p("MedicationStatement", "patient", "reference", "subject", targets=_PATIENT),
            _p(
                "MedicationStatement",
                "subject",
                "reference",
                "subject",
                targets=("Patient", "Group"),
            ),
            _p("MedicationStatement", "status", "token", "status"),
            _p("MedicationStatement", "code", "token", "medicationCodeableConcept"),
            _p("MedicationStatement", "effective", "date", "effective[x]"),
            _p(
                "MedicationStatement",
                "medication",
                "reference",
                "medicationReference",
                targets=("Medication",),
            ),
        ],
        "Consent": [
            _p("Consent", "identifier", "token", "identifier"),
            _p("Consent", "patient", "reference", "patient", targets=_PATIENT),
            _p("Consent", "status", "token", "status"),
            _p("Consent", "scope", "token", "scope"),
            _p("Consent", "category", "token", "category"),
            _p("Consent", "date", "date", "dateTime"),
            _p("Consent", "period", "date", "provision.period"),
            _p(
                "Consent",
                "actor",
                "reference",
                "provision.actor.reference",
                targets=("Practitioner", "Organization", "Patient", "Device", "RelatedPerson"),
            ),
            _p(
                "Consent",
                "actor-role",
                "token",
                "provision.actor.role",
                own=DALGU + "Consent-actor-role",
            ),
        ],
        "AuditEvent": [
            _p("AuditEvent", "date", "date", "recorded"),
            _p("AuditEvent", "type", "token", "type"),
            _p("AuditEvent", "subtype", "token", "subtype"),
            _p("AuditEvent", "action", "token", "action"),
            _p("AuditEvent", "outcome", "token", "outcome"),
            _p("AuditEvent", "agent", "reference", "agent.who"),
            _p("AuditEvent", "agent-role", "token", "agent.role"),
            _p("AuditEvent", "entity", "reference", "entity.what"),
            # R4 AuditEvent-patient: `agent.who` and `entity.what` that are Patients (the
            # entity first: the record an event is about is its compartment's patient)
            _p("AuditEvent", "patient", "reference", "entity.what", "agent.who", targets=_PATIENT),
            _p(
                "AuditEvent",
                "purpose",
                "token",
                "purposeOfEvent",
                "agent.purposeOfUse",
                own=DALGU + "AuditEvent-purpose",  # R4 has none (R5 has)
            ),
        ],
    }.items()
}


def _share_rows(params: dict[str, SearchParam]) -> dict[str, SearchParam]:
    out = dict(params)
    for p in params.values():
        if p.type != "reference" or not p.targets:
            continue
        wider = [
            w
            for w in params.values()
            if w.type == "reference"
            and w is not p
            and set(w.paths) <= set(p.paths)
            and (not w.targets or set(p.targets) < set(w.targets))
        ]
        chosen: dict[str, str] = {}  # path -> the parameter whose rows hold it
        for w in wider:
            for path in w.paths:
                chosen.setdefault(path, w.name)
        if wider and set(chosen) == set(p.paths):
            out[p.name] = replace(p, indexed_as=tuple(dict.fromkeys(chosen.values())))
    return out


# one reference row fewer per Observation, Encounter, Condition (`patient` is `subject`'s
# Patient rows) and per patient an AuditEvent names (`patient` is `agent`'s and `entity`'s)
PARAMETERS = {t: _share_rows(ps) for t, ps in PARAMETERS.items()}

#: parameters every type has, evaluated on the resource's own columns
COMMON: dict[str, SearchParam] = {
    "_id": SearchParam("_id", "token", ("id",), definition=SPEC + "Resource-id"),
    "_lastUpdated": SearchParam(
        "_lastUpdated", "date", ("meta.lastUpdated",), definition=SPEC + "Resource-lastUpdated"
    ),
}


@dataclass(slots=True)
class IndexRows:
    """What a resource contributes to the search indexes."""

    tokens: list[tuple[str, str, str]] = field(default_factory=list)  # param, system, code
    strings: list[tuple[str, str, str]] = field(default_factory=list)  # param, folded, exact
    dates: list[tuple[str, float, float]] = field(default_factory=list)  # param, lo, hi
    refs: list[tuple[str, str, str]] = field(default_factory=list)  # param, type, id


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a string (FHIR string search)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _is_choice(key: str, stem: str) -> bool:
    return key.startswith(stem) and key[len(stem) : len(stem) + 1].isupper()


def values_at(resource: Any, path: str) -> Iterator[Any]:
    """Every value at a dotted path, arrays flattened; `name[x]` takes any `nameType`."""
    current: list[Any] = [resource]
    for step in path.split("."):
        found: list[Any] = []
        for node in current:
            if not isinstance(node, dict):
                continue
            if step.endswith("[x]"):
                stem = step[:-3]
                items = [
                    v
                    for k, v in node.items()
                    if k.startswith(stem) and k[len(stem) :][:1].isupper()
                ]
            else:
                items = [node[step]] if step in node else []
            for item in items:
                found.extend(item if isinstance(item, list) else [item])
        current = found
    yield from current


def split_reference(reference: str) -> tuple[str, str] | None:
    """(type, id) of a literal reference: `Patient/1`, `http://x/fhir/Patient/1/_history/2`,
    wherever it points (`local_target` says whether it is this server's resource)."""
    parts = _unversioned(reference).split("/")
    if len(parts) < 2 or not parts[-1] or not parts[-2][:1].isupper():
        return None
    return parts[-2], parts[-1]


def _unversioned(reference: str) -> str:
    parts = reference.split("/")
    return "/".join(parts[: parts.index("_history")]) if "_history" in parts else reference


def local_target(reference: str, base: str | None = None) -> tuple[str, str] | None:
    """(type, id) of a literal reference to a resource of this server: a relative one
    (`Patient/1`, `Patient/1/_history/2`, relative to the service base), or an absolute one
    under `base`, this server's URL. An absolute URL of another server (or any absolute URL
    when `base` is not known) is None: it is "the location of the resource ... on another
    server" (R4 references.html), never this server's resource of the same id."""
    if _SCHEME.match(reference):
        prefix = None if base is None else base.rstrip("/") + "/"
        if prefix is None or not reference.startswith(prefix):
            return None
        reference = reference[len(prefix) :]
    return split_reference(reference)


def reference_target(reference: str, base: str | None = None) -> tuple[str, str] | None:
    """What a reference is indexed and searched as: `local_target` for this server's
    resources, else (type, URL without `_history`) for a RESTful URL of another server
    (search.html: a URL matches references to that URL). A URL is never an id here (ids have
    no `/`), so the two never meet."""
    local = local_target(reference, base)
    if local is not None or not _SCHEME.match(reference):
        return local
    split = split_reference(reference)
    return None if split is None else (split[0], _unversioned(reference))


def is_external(target_id: str) -> bool:
    """Whether an id of `reference_target` is another server's URL, not an id here."""
    return "/" in target_id


def _tokens(value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, bool):
        yield "", "true" if value else "false"
    elif isinstance(value, str):
        yield "", value
    elif isinstance(value, dict):
        if "coding" in value:
            for coding in value["coding"] or []:
                yield from _tokens(coding)
        elif "code" in value:  # Coding
            yield value.get("system") or "", str(value["code"])
        elif "value" in value:  # Identifier
            yield value.get("system") or "", str(value["value"])


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):  # HumanName, Address: every text part
        for key in ("text", "family", "given", "prefix", "suffix", "line", "city", "country"):
            part = value.get(key)
            for text in part if isinstance(part, list) else [part]:
                if isinstance(text, str):
                    yield text


def _dates(value: Any) -> Iterator[tuple[float, float]]:
    try:
        if isinstance(value, str):
            yield date_range(value)
        elif isinstance(value, dict) and ("start" in value or "end" in value):
            yield period_range(value.get("start"), value.get("end"))
        elif isinstance(value, dict) and ("event" in value or "repeat" in value):
            yield from _timing_range(value)
    except DalguError:
        return  # validation has already refused a malformed date; nothing to index


def _timing_range(timing: dict[str, Any]) -> Iterator[tuple[float, float]]:
    """A Timing as one range: "the specified scheduling details are ignored and only the
    outer limits matter" (R4 search.html, date), from its first `event` (or the start of
    `repeat.boundsPeriod`) to its last (or that period's end)."""
    ranges = [date_range(e) for e in timing.get("event") or [] if isinstance(e, str)]
    repeat = timing.get("repeat")
    bounds = repeat.get("boundsPeriod") if isinstance(repeat, dict) else None
    if isinstance(bounds, dict):
        ranges.append(period_range(bounds.get("start"), bounds.get("end")))
    if ranges:
        yield min(lo for lo, _ in ranges), max(hi for _, hi in ranges)


def index_rows(resource: Resource, base: str | None = None) -> IndexRows:
    """The rows of `resource`; `base`, this server's URL, makes absolute references under it
    references to this server's resources (`reference_target`)."""
    rows = IndexRows()
    for param in PARAMETERS.get(resource.get("resourceType", ""), {}).values():
        for path in param.paths:
            for value in values_at(resource, path):
                if param.type == "token":
                    rows.tokens.extend((param.name, s[:_CAP], c[:_CAP]) for s, c in _tokens(value))
                elif param.type == "string":
                    rows.strings.extend(
                        (param.name, fold(t)[:_CAP], t[:_CAP]) for t in _strings(value)
                    )
                elif param.type == "date":
                    rows.dates.extend((param.name, lo, hi) for lo, hi in _dates(value))
                elif not param.indexed_as:
                    target = value.get("reference") if isinstance(value, dict) else value
                    split = reference_target(target, base) if isinstance(target, str) else None
                    if split and (not param.targets or split[0] in param.targets):
                        rows.refs.append((param.name, *split))
    return rows


def compartment_patient(resource: Resource, base: str | None = None) -> str | None:
    """The id of the patient of this server whose compartment the resource is in, if any (a
    reference to another server's Patient puts it in none: `local_target`)."""
    kind = resource.get("resourceType")
    if kind == "Patient":
        patient_id = resource.get("id")
        return patient_id if isinstance(patient_id, str) else None
    param = PARAMETERS.get(str(kind), {}).get("patient")
    if param is None:
        return None
    for path in param.paths:
        for value in values_at(resource, path):
            target = value.get("reference") if isinstance(value, dict) else None
            split = local_target(target, base) if isinstance(target, str) else None
            if split and split[0] == "Patient":
                return split[1]
    return None
