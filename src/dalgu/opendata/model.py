"""What an open dataset is: catalogue metadata (CKAN's package fields), the slice of NGSI-LD
data it publishes, and the de-identification policy applied to every download."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class License:
    id: str
    title: str
    url: str
    open: bool = True


#: KOGL's own page of Type 1 (출처표시: attribution; commercial use and derivatives allowed),
#: which its Type 1 mark links to; `license.do` describes all the types, 2 to 4 restrictive
KOGL_TYPE1 = "https://www.kogl.or.kr/info/licenseType1.do"
#: the licences a dataset may name (`license_id`), as CKAN's `license_list` lists them
LICENSES: tuple[License, ...] = (
    License("CC-BY-4.0", "Creative Commons Attribution 4.0", "https://creativecommons.org/licenses/by/4.0/"),
    License("CC0-1.0", "Creative Commons CCZero", "https://creativecommons.org/publicdomain/zero/1.0/"),
    License("ODC-BY-1.0", "Open Data Commons Attribution License", "https://opendatacommons.org/licenses/by/1-0/"),
    License("ODbL-1.0", "Open Data Commons Open Database License (ODbL)", "https://opendatacommons.org/licenses/odbl/1-0/"),
    License("KOGL-Type1", "Korea Open Government License Type 1 (공공누리 제1유형)", KOGL_TYPE1),
    License("notspecified", "License not specified", "", open=False),
)  # fmt: skip
LICENSE_IDS = frozenset(license.id for license in LICENSES)
DEFAULT_LICENSE = "CC-BY-4.0"
#: aggregation methods whose values are numbers whatever the attribute's values
NUMBER_AGGREGATES = frozenset(["totalCount", "distinctCount", "sum", "avg", "stddev", "sumsq"])
COUNT_AGGREGATES = frozenset(["totalCount", "distinctCount"])


@dataclass(frozen=True, slots=True)
class Aggregation:
    """Publish only aggregates: per entity, `methods` over buckets of `period` (an ISO 8601
    duration) of each attribute's history, counted from `since` (else each entity's first
    instance), through the temporal service."""

    period: str
    methods: tuple[str, ...]
    since: str | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    """De-identification applied to every download.

    `withheld` attributes are never published (nor filtered on: a `q` that names one is
    refused). Every geometry is published as one point, its centroid snapped to a grid of
    `grid_metres`. With `aggregation`, no reading is published, only its aggregates. With
    `pseudonymise_ids`, entity ids are replaced by keyed hashes (`id_key`, the dataset's own
    secret, never shown): stable in the dataset, not linkable to the entity or across
    datasets.
    """

    withheld: tuple[str, ...] = ()
    grid_metres: float = 100.0
    aggregation: Aggregation | None = None
    pseudonymise_ids: bool = False
    id_key: str = ""


def observed_column(attribute: str) -> str:
    """The column of an attribute's observedAt (a dataset with `observed_at`)."""
    return f"{attribute}_observedAt"


@dataclass(frozen=True, slots=True)
class Publication:
    """The slice of NGSI-LD data a dataset publishes: entities of `entity_type` matching `q`
    (NGSI-LD query language), their `attributes`, and `geometry` (a GeoProperty) as the
    location of each row. Names are expanded with `context` (a JSON-LD context URL), else
    with the core context."""

    entity_type: str
    attributes: tuple[str, ...]
    q: str | None = None
    geometry: str | None = None
    context: str | None = None
    observed_at: bool = False  # each attribute's observedAt as a column of its own
    #: the live NGSI-LD query's parameters with the context's names expanded (made when the
    #: dataset is written, `live_query.expanded_query`); () without a context
    live_query: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Dataset:
    """One open dataset of a tenant (a CKAN package). `name` is its slug, unique per tenant;
    times are CKAN's (`2026-12-05T11:47:26.123456`, UTC without a zone)."""

    id: str
    name: str
    title: str
    publication: Publication
    policy: Policy
    notes: str = ""
    tags: tuple[str, ...] = ()
    license_id: str = DEFAULT_LICENSE
    organization: str | None = None
    extras: tuple[tuple[str, str], ...] = ()
    created: str = ""
    modified: str = ""
    formats: tuple[str, ...] = field(default=("CSV", "GeoJSON", "Parquet"))
    #: names it had before a rename: URLs made with them (downloads, its IRI) still lead to it
    former_names: tuple[str, ...] = ()

    @property
    def license(self) -> License:
        return next((lic for lic in LICENSES if lic.id == self.license_id), LICENSES[-1])

    @property
    def columns(self) -> list[str]:
        """The columns of its downloads, in order (`longitude`, `latitude`: the snapped
        location)."""
        pub, aggregation = self.publication, self.policy.aggregation
        if aggregation is None:
            columns = ["id"]
            for a in pub.attributes:
                columns += [a, observed_column(a)] if pub.observed_at else [a]
        else:
            columns = ["id", "start", "end"]
            columns += [f"{a}_{m}" for a in pub.attributes for m in aggregation.methods]
        if pub.geometry is not None:
            columns += ["longitude", "latitude"]
        return columns

    @property
    def column_types(self) -> dict[str, str]:
        """The columns whose type is known whatever the data (`double`, `int64`,
        `timestamp`): the snapped location, the aggregates that are numbers of any attribute
        (counts integers; not `min`, `max`, which may be of texts or times) and the
        aggregates' bounds."""
        pub, aggregation = self.publication, self.policy.aggregation
        types = dict.fromkeys(("longitude", "latitude"), "double") if pub.geometry else {}
        if pub.observed_at and aggregation is None:
            types |= {observed_column(a): "timestamp" for a in pub.attributes}
        if aggregation is not None:
            types |= {"start": "timestamp", "end": "timestamp"}
            for a in pub.attributes:
                for m in aggregation.methods:
                    if m in COUNT_AGGREGATES:
                        types[f"{a}_{m}"] = "int64"
                    elif m in NUMBER_AGGREGATES:
                        types[f"{a}_{m}"] = "double"
        return types

    def to_document(self) -> dict[str, Any]:
        """Its stored form (the store keeps it as JSON)."""
        pub, policy = self.publication, self.policy
        aggregation = policy.aggregation
        return {
            "id": self.id,
            "name": self.name,
            "title": self.title,
            "notes": self.notes,
            "tags": list(self.tags),
            "license_id": self.license_id,
            "organization": self.organization,
            "extras": [list(pair) for pair in self.extras],
            "created": self.created,
            "modified": self.modified,
            "former_names": list(self.former_names),
            "publication": {
                "entity_type": pub.entity_type,
                "attributes": list(pub.attributes),
                "q": pub.q,
                "geometry": pub.geometry,
                "context": pub.context,
                "observed_at": pub.observed_at,
                "live_query": [list(pair) for pair in pub.live_query],
            },
            "policy": {
                "withheld": list(policy.withheld),
                "grid_metres": policy.grid_metres,
                "pseudonymise_ids": policy.pseudonymise_ids,
                "id_key": policy.id_key,
                "aggregation": None
                if aggregation is None
                else {
                    "period": aggregation.period,
                    "methods": list(aggregation.methods),
                    "since": aggregation.since,
                },
            },
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Dataset:
        pub, policy = doc["publication"], doc["policy"]
        aggregation = policy.get("aggregation")
        return cls(
            id=doc["id"],
            name=doc["name"],
            title=doc["title"],
            notes=doc.get("notes", ""),
            tags=tuple(doc.get("tags", ())),
            license_id=doc.get("license_id", DEFAULT_LICENSE),
            organization=doc.get("organization"),
            extras=tuple((k, v) for k, v in doc.get("extras", ())),
            created=doc.get("created", ""),
            modified=doc.get("modified", ""),
            former_names=tuple(doc.get("former_names", ())),
            publication=Publication(
                entity_type=pub["entity_type"],
                attributes=tuple(pub["attributes"]),
                q=pub.get("q"),
                geometry=pub.get("geometry"),
                context=pub.get("context"),
                observed_at=bool(pub.get("observed_at", False)),
                live_query=tuple((k, v) for k, v in pub.get("live_query", ())),
            ),
            policy=Policy(
                withheld=tuple(policy.get("withheld", ())),
                grid_metres=float(policy.get("grid_metres", 100.0)),
                pseudonymise_ids=bool(policy.get("pseudonymise_ids", False)),
                id_key=policy.get("id_key", ""),
                aggregation=None
                if aggregation is None
                else Aggregation(
                    aggregation["period"], tuple(aggregation["methods"]), aggregation.get("since")
                ),
            ),
        )
