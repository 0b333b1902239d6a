"""The catalogue as DCAT-AP (W3C DCAT 2 with the EU application profile's choices): one
`dcat:Catalog` of `dcat:Dataset`s, each with a `dcat:Distribution` per download, as JSON-LD
nodes (`linked_data` serves them at their IRIs, `rdf` in each serialization), in pages."""

from __future__ import annotations

import bisect
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

from dalgu.api.opendata import package as ckan
from dalgu.api.opendata.rdf import canonical_time
from dalgu.errors import InvalidFields, ResourceNotFound
from dalgu.opendata.exporters import EXPORTERS
from dalgu.opendata.model import Dataset

#: the EU Publications Office's frequency of a dataset whose data change all the time
CONTINUOUS = "http://publications.europa.eu/resource/authority/frequency/UPDATE_CONT"
CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"
HYDRA = "http://www.w3.org/ns/hydra/core#"
#: datasets in a page of the catalogue (ckanext-dcat's default)
PAGE_SIZE = 100
#: the EU Publications Office's file types (DCAT-AP's vocabulary for dct:format), by extension
EU_FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
EU_FILE_TYPES = {"csv": "CSV", "geojson": "GEOJSON", "parquet": "PARQUET"}
#: the catalogue's publisher (DCAT-AP makes it mandatory): the portal itself
CATALOG_PUBLISHER = "Dalgu open data"
CATALOG_DESCRIPTION = "De-identified, aggregated city data of a Dalgu city data hub"
#: ADMS's licence types (DCAT-AP recommends one on a dct:LicenseDocument), by licence id:
#: what each licence asks of a reuser (ODbL: attribution and share-alike)
LICENCE_TYPE = "http://purl.org/adms/licencetype/"
LICENCE_TYPES = {
    "CC-BY-4.0": ("Attribution",),
    "CC0-1.0": ("PublicDomain",),
    "ODC-BY-1.0": ("Attribution",),
    "ODbL-1.0": ("Attribution", "ShareAlike"),
    "KOGL-Type1": ("Attribution",),
}
#: their labels in ADMS (a skos:Concept has one, as DCAT-AP's range shapes ask)
LICENCE_TYPE_LABELS = {
    "Attribution": "Attribution",
    "PublicDomain": "Public domain",
    "ShareAlike": "Share-alike",
}
#: a publisher is a foaf:Agent (DCAT-AP's range of dct:publisher), said so that a validator
#: without the FOAF vocabulary (foaf:Organization is a subclass of foaf:Agent) sees it too
PUBLISHER_TYPES = ["foaf:Organization", "foaf:Agent"]


def _time(ckan_time: str) -> dict[str, str]:
    at = datetime.fromisoformat(ckan_time).replace(tzinfo=UTC)
    return {"@value": canonical_time(at), "@type": "xsd:dateTime"}


def dataset_iri(base: str, dataset: Dataset, tenant: str) -> str:
    """A dataset's IRI, by its id as ckanext-dcat mints it (`{catalogue}/dataset/{id}`): it
    stays the same when the dataset is renamed, and a new dataset of an old name has
    another. `/opendata/dataset/{name}` leads to it while the name is the dataset's."""
    return f"{base}{ckan.PREFIX}/dataset/{dataset.id}{ckan.tenant_query(tenant)}"


def home_url(base: str, tenant: str) -> str:
    """The catalogue's home page (its foaf:homepage), for people."""
    return f"{base}{ckan.PREFIX}{ckan.tenant_query(tenant)}"


def landing_url(base: str, dataset: Dataset, tenant: str) -> str:
    """A dataset's landing page (its dcat:landingPage), for people: by id, as its IRI."""
    return f"{base}{ckan.PREFIX}/dataset/{dataset.id}.html{ckan.tenant_query(tenant)}"


def distribution_iri(base: str, dataset: Dataset, extension: str, tenant: str) -> str:
    """A download's IRI, by its CKAN resource id (`/opendata/resource/{id}`)."""
    rid = ckan.resource_id(dataset, extension)
    return f"{base}{ckan.PREFIX}/resource/{rid}{ckan.tenant_query(tenant)}"


def organization_iri(base: str, organization: str, tenant: str) -> str:
    return f"{base}{ckan.PREFIX}/organization/{organization}{ckan.tenant_query(tenant)}"


def dataset_node(base: str, dataset: Dataset, tenant: str) -> dict[str, Any]:
    landing = landing_url(base, dataset, tenant)
    node: dict[str, Any] = {
        "@id": dataset_iri(base, dataset, tenant),
        "@type": "dcat:Dataset",
        "dct:identifier": dataset.id,
        "dct:title": dataset.title,
        # mandatory in DCAT-AP and never empty: a dataset without notes says what it is
        "dct:description": dataset.notes
        or f"De-identified open data of the city's {dataset.publication.entity_type} entities",
        "dcat:keyword": list(dataset.tags),
        "dct:issued": _time(dataset.created),
        "dct:modified": _time(dataset.modified),  # of its description: downloads are live
        # the downloads are made from the live data when asked (dct:modified keeps the time
        # the dataset's description changed): the EU frequency "continuously updated"
        "dct:accrualPeriodicity": {"@id": CONTINUOUS, "@type": "dct:Frequency"},
        "dcat:landingPage": {"@id": landing, "@type": "foaf:Document"},
        "dcat:distribution": [
            {
                "@id": distribution_iri(base, dataset, e.extension, tenant),
                "@type": "dcat:Distribution",
                "dct:title": f"{dataset.title} ({e.format})",
                # as the CKAN resource's: what a reuser needs to know of the data
                "dct:description": f"De-identified download: {ckan.policy_text(dataset)}",
                **(
                    {
                        "dct:format": {
                            "@id": EU_FILE_TYPE + EU_FILE_TYPES[e.extension],
                            "@type": "dct:MediaTypeOrExtent",
                        }
                    }
                    if e.extension in EU_FILE_TYPES
                    else {}
                ),
                # typed, as DCAT-AP's ranges ask: neither IANA nor a licence page has RDF to
                # say what it is, so the catalogue says it (as ckanext-dcat's profiles do)
                "dcat:mediaType": {
                    "@id": IANA_MEDIA_TYPES + e.media_type,
                    "@type": "dct:MediaType",
                },
                "dcat:accessURL": {"@id": ckan.download_url(base, dataset, e.extension, tenant)},
                "dcat:downloadURL": {"@id": ckan.download_url(base, dataset, e.extension, tenant)},
            }
            for e in EXPORTERS.values()
        ],
    }
    if dataset.license.url:
        licence: dict[str, Any] = {"@id": dataset.license.url, "@type": "dct:LicenseDocument"}
        kinds = LICENCE_TYPES.get(dataset.license_id, ())
        if kinds:
            licence["dct:type"] = [
                {
                    "@id": LICENCE_TYPE + kind,
                    "@type": "skos:Concept",
                    "skos:prefLabel": {"@value": LICENCE_TYPE_LABELS[kind], "@language": "en"},
                }
                for kind in kinds
            ]
        node["dct:license"] = licence
        for distribution in node["dcat:distribution"]:
            distribution["dct:license"] = licence
    if dataset.organization is not None:
        node["dct:publisher"] = {
            "@id": organization_iri(base, dataset.organization, tenant),
            "@type": PUBLISHER_TYPES,
            "foaf:name": dataset.organization,
        }
    else:  # DCAT-AP recommends a publisher: the portal publishes what no organization does
        node["dct:publisher"] = portal_publisher(base, tenant)
    return node


def portal_publisher(base: str, tenant: str) -> dict[str, Any]:
    """The portal itself as a `foaf:Organization`: the catalogue's publisher, and that of
    the datasets no organization publishes."""
    return {
        "@id": f"{base}{ckan.PREFIX}{ckan.tenant_query(tenant)}#publisher",
        "@type": PUBLISHER_TYPES,
        "foaf:name": CATALOG_PUBLISHER,
    }


def catalog(
    base: str,
    datasets: list[Dataset],
    tenant: str,
    every: list[Dataset] | None = None,
    kept: tuple[str | None, str | None] | None = None,
) -> dict[str, Any]:
    """The catalogue node of `datasets` (one page of them, when paged, of `every`) of
    `tenant`: issued with its first dataset, modified with its last change, a deletion
    included (DCAT-AP recommends both): `kept`, the (issued, modified) CKAN times the
    service keeps, else its datasets' first creation and last change."""
    dates: dict[str, Any] = {}
    whole = datasets if every is None else every
    issued, modified = kept or (None, None)
    if kept is None and whole:
        issued = min(d.created for d in whole)
        modified = max(d.modified for d in whole)
    if issued is not None:
        dates["dct:issued"] = _time(issued)
    if modified is not None:
        dates["dct:modified"] = _time(modified)
    return {
        "@context": CONTEXT,
        "@id": f"{base}{ckan.PREFIX}/catalog{ckan.tenant_query(tenant)}",
        "@type": "dcat:Catalog",
        "dct:title": "Dalgu open data",
        "dct:description": CATALOG_DESCRIPTION,
        # a web page for people (DCAT-AP: a foaf:Document), as each dataset's landing page
        "foaf:homepage": {"@id": home_url(base, tenant), "@type": "foaf:Document"},
        "dct:publisher": portal_publisher(base, tenant),
        **dates,
        "dcat:dataset": [dataset_node(base, d, tenant) for d in datasets],
    }


def page_asked(request: Request) -> tuple[int | None, datetime | None, str | None]:
    """`page` (a positive integer) and `modified_since` (an ISO 8601 date or date-time, UTC
    when it names no zone) of the request, as ckanext-dcat's catalogue endpoint takes them,
    and `after`, the id the page's datasets follow (what `hydra:nextPage` links carry)."""
    asked = request.query_params
    page = None
    if "page" in asked:
        text = asked["page"]
        if not text.isdigit() or int(text) < 1:
            raise InvalidFields({"page": [f"{text!r} is not a positive integer"]})
        page = int(text)
    since = None
    if "modified_since" in asked:
        try:
            since = datetime.fromisoformat(asked["modified_since"])
        except ValueError:
            raise InvalidFields(
                {"modified_since": [f"{asked['modified_since']!r} is not an ISO 8601 date"]}
            ) from None
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
    after = asked.get("after")
    if after == "":
        raise InvalidFields({"after": ["Missing value: the id of a page's last dataset"]})
    return page, since, after


def _modified(dataset: Dataset) -> datetime:
    return datetime.fromisoformat(dataset.modified).replace(tzinfo=UTC)


def paged_catalog(
    base: str,
    url: str,
    datasets: list[Dataset],
    page: int | None,
    since: datetime | None,
    tenant: str = "",
    dates: tuple[str | None, str | None] | None = None,
    *,
    after: str | None = None,
) -> dict[str, Any]:
    """The catalogue's page `page` of PAGE_SIZE datasets, in the order of their ids (which
    neither an edit nor a rename changes), of those modified at or after `since`; with
    `after`, the PAGE_SIZE datasets whose ids follow it (`page` then only numbers the page),
    which is what each `hydra:nextPage` link asks for: a harvester that follows them reads
    every dataset that is there throughout exactly once, whatever is created, changed or
    deleted meanwhile (by page number alone, a deletion on a page read shifts the others).
    A catalogue of one page asked for with neither is the whole catalogue, with no paging
    node; otherwise the page carries a `hydra:PagedCollection` node (its total, its size,
    its first, last, previous and next pages' URLs). A page past the last is
    ResourceNotFound (with `after`, an empty page: its link was right when it was made).
    `dates`: the catalogue's (issued, modified) the service keeps (`catalog`)."""
    chosen = sorted(
        (d for d in datasets if since is None or _modified(d) >= since), key=lambda d: d.id
    )
    last = max(1, -(-len(chosen) // PAGE_SIZE))
    if page is None and since is None and after is None and last == 1:
        return catalog(base, chosen, tenant, datasets, dates)
    number = page or 1
    if after is None:
        if number > last:
            raise ResourceNotFound(f"the catalogue has {last} page(s) of {PAGE_SIZE} datasets")
        start = (number - 1) * PAGE_SIZE
    else:
        start = bisect.bisect_right([d.id for d in chosen], after)
    members = chosen[start : start + PAGE_SIZE]
    document = catalog(base, members, tenant, datasets, dates)
    kept = {"modified_since": since.isoformat()} if since is not None else {}
    if tenant:
        kept["tenant"] = tenant

    def at(n: int, following: str | None = None) -> str:
        keyed = {} if following is None else {"after": following}
        return f"{url}?{urlencode({**kept, 'page': n, **keyed})}"

    paging: dict[str, Any] = {
        "@id": at(number, after),
        "@type": "hydra:PagedCollection",
        "hydra:totalItems": len(chosen),
        "hydra:itemsPerPage": PAGE_SIZE,
        "hydra:firstPage": at(1),
        "hydra:lastPage": at(last),
    }
    if number > 1:
        paging["hydra:previousPage"] = at(number - 1)
    if members and start + PAGE_SIZE < len(chosen):
        paging["hydra:nextPage"] = at(number + 1, members[-1].id)
    del document["@context"]
    return {"@context": {**CONTEXT, "hydra": HYDRA}, "@graph": [document, paging]}
