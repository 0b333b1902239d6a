"""The portal's IRIs, dereferenced: the catalogue (`/opendata/catalog`, and `catalog.jsonld`,
`.ttl`, `.rdf`, `.xml`), each dataset (`/opendata/dataset/{id}`, `{id}.ttl`, ...), each
distribution (`/opendata/resource/{id}`) and each publisher (`/opendata/organization/{name}`)
serve their DCAT description in the serialization the URL's extension or the `Accept` header
asks for (JSON-LD, Turtle, RDF/XML). A client that prefers HTML gets a dataset's landing page
(at a distribution's IRI, a 303 to its dataset's), and a 406 at an organization's, which has
no page; every answer chosen by `Accept`, a 406 too, says `Vary: Accept` (RFC 9110, 12.5.5)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dalgu.api.edge import runtime
from dalgu.api.opendata import dcat
from dalgu.api.opendata import package as ckan
from dalgu.api.opendata.envelope import base_url, failure, portal_tenant, unexpected
from dalgu.api.opendata.pages import (
    HOME_PAGE_SIZE,
    Listing,
    home_page,
    landing_page,
    missing_page,
)
from dalgu.api.opendata.rdf import FORMATS, HTML, MEDIA_TYPES, negotiate, rdf_response
from dalgu.errors import (
    DalguError,
    InvalidFields,
    NotAcceptable,
    OperationNotSupported,
    ResourceNotFound,
)
from dalgu.opendata.exporters import EXPORTERS
from dalgu.opendata.search import DEFAULT_SORT, SearchQuery
from dalgu.opendata.service import OpenDataService


def _service(request: Request) -> OpenDataService:
    service = runtime(request).opendata
    if service is None:
        raise OperationNotSupported("this store keeps no open-data datasets")
    return service


def _split(segment: str) -> tuple[str, str | None]:
    """A path segment and the serialization its extension names (`{id}.ttl`, `{id}.html`),
    if any."""
    key, dot, extension = segment.rpartition(".")
    if dot and (extension in FORMATS or extension == "html"):
        return key, extension
    return segment, None


def _chosen(
    request: Request, extension: str | None, *, page_first: bool = False, page: bool = True
) -> str:
    """The extension to serve: the URL's, else the one `Accept` prefers among the RDF
    serializations and, for an IRI that has a page for people (`page`), HTML (`page_first`:
    the page is what a client that accepts anything gets, else JSON-LD is). NotAcceptable
    when `Accept` takes none of them: an IRI without a page is no page for a browser."""
    if extension is not None:
        return extension
    if not page:
        offered = [*MEDIA_TYPES]
    else:
        offered = [HTML, *MEDIA_TYPES] if page_first else [*MEDIA_TYPES, HTML]
    chosen = negotiate(request.headers.get("accept"), offered)
    return "html" if chosen == HTML else MEDIA_TYPES[chosen]


def _wants_page(request: Request, extension: str | None) -> bool:
    """Whether the request asks for a page for people (`.html`, or HTML first in `Accept`)."""
    try:
        return _chosen(request, extension) == "html"
    except DalguError:  # it accepts none of them
        return False


def _answer(request: Request, document: dict[str, Any], extension: str | None) -> Response:
    """The description of an IRI without a page for people, as `Accept` asks."""
    if extension == "html":
        raise ResourceNotFound(f"{request.url.path}: no page for people, only the description")
    chosen = _chosen(request, extension, page=False)
    return rdf_response(document, chosen, dcat.CONTEXT, negotiated=extension is None)


def _failure(request: Request, action: str, error: DalguError) -> Response:
    """`error` as CKAN reports it; a 406 depended on `Accept`, and says so (RFC 9110,
    12.5.5), so that no cache gives it to a client that accepts something else."""
    response = failure(request, action, error)
    if isinstance(error, NotAcceptable):
        response.headers["Vary"] = "Accept"
    return response


async def catalog_document(request: Request, extension: str) -> dict[str, Any]:
    """The catalogue (or the page of it asked for) of the request's tenant."""
    page, since, after = dcat.page_asked(request)
    tenant = portal_tenant(request)
    service = _service(request)
    datasets = await service.datasets(tenant)
    kept = await service.catalogue_dates(tenant)
    base = base_url(request)
    url = f"{base}{ckan.PREFIX}/catalog.{extension}"
    return dcat.paged_catalog(base, url, datasets, page, since, tenant, kept, after=after)


async def catalog_file(request: Request) -> Response:
    """`/opendata/catalog.{jsonld|ttl|rdf|xml}`."""
    extension = request.path_params["extension"]
    try:
        if extension not in FORMATS:
            known = ", ".join(f"catalog.{e}" for e in FORMATS)
            raise ResourceNotFound(f"no catalog.{extension}: the catalogue is {known}")
        return _answer(request, await catalog_document(request, extension), extension)
    except DalguError as error:
        return _failure(request, "catalog", error)
    except Exception as exc:
        return unexpected(request, "catalog", exc)


async def catalog_negotiated(request: Request) -> Response:
    """`/opendata/catalog`, the catalogue's IRI, in the serialization `Accept` prefers."""
    try:
        extension = _chosen(request, None)
        if extension == "html":  # a browser: the catalogue's page for people, /opendata
            home = dcat.home_url(base_url(request), portal_tenant(request))
            return RedirectResponse(home, status_code=303, headers={"Vary": "Accept"})
        document = await catalog_document(request, extension)
        return rdf_response(document, extension, dcat.CONTEXT, negotiated=True)
    except DalguError as error:
        return _failure(request, "catalog", error)
    except Exception as exc:
        return unexpected(request, "catalog", exc)


async def dataset_description(request: Request) -> Response:
    """A dataset's DCAT description at its IRI (`/opendata/dataset/{id}`, or `{id}.ttl` ...);
    its name there is a redirect to it."""
    key, extension = _split(request.path_params["dataset"])
    try:
        tenant = portal_tenant(request)
        dataset = await _service(request).show(tenant, key)
        if key != dataset.id:  # its name: the IRI is by id
            query = f"?{request.url.query}" if request.url.query else ""
            suffix = f".{extension}" if extension else ""
            target = f"{ckan.PREFIX}/dataset/{dataset.id}{suffix}{query}"
            return RedirectResponse(target, status_code=302)
        chosen = _chosen(request, extension)
        if chosen == "html":
            return landing_page(base_url(request), dataset, tenant)
        node = dcat.dataset_node(base_url(request), dataset, tenant)
        return _answer(request, {"@context": dcat.CONTEXT, **node}, extension)
    except ResourceNotFound as error:
        if _wants_page(request, extension):
            return missing_page(base_url(request), portal_tenant(request), error.detail)
        return _failure(request, "dataset", error)
    except DalguError as error:
        return _failure(request, "dataset", error)
    except Exception as exc:
        return unexpected(request, "dataset", exc)


async def distribution_description(request: Request) -> Response:
    """A download's DCAT description at its IRI (`/opendata/resource/{id}`)."""
    key, extension = _split(request.path_params["resource"])
    try:
        tenant = portal_tenant(request)
        base = base_url(request)
        for dataset in await _service(request).datasets(tenant):
            for exporter in EXPORTERS.values():
                if ckan.resource_id(dataset, exporter.extension) == key:
                    if _chosen(request, extension) == "html":  # its dataset's page lists it
                        page = dcat.landing_url(base, dataset, tenant) + "#downloads-heading"
                        return RedirectResponse(page, status_code=303, headers={"Vary": "Accept"})
                    iri = dcat.distribution_iri(base, dataset, exporter.extension, tenant)
                    nodes = dcat.dataset_node(base, dataset, tenant)["dcat:distribution"]
                    node = next(n for n in nodes if n["@id"] == iri)
                    return _answer(request, {"@context": dcat.CONTEXT, **node}, extension)
        raise ResourceNotFound(f"no distribution {key}")
    except DalguError as error:
        return _failure(request, "resource", error)
    except Exception as exc:
        return unexpected(request, "resource", exc)


async def publisher_description(request: Request) -> Response:
    """An organization's description at its IRI (`/opendata/organization/{name}`): the
    `foaf:Organization` that publishes some of the tenant's datasets."""
    name, extension = _split(request.path_params["organization"])
    try:
        tenant = portal_tenant(request)
        datasets = await _service(request).datasets(tenant)
        if not any(d.organization == name for d in datasets):
            raise ResourceNotFound(f"no organization {name}")
        node = {
            "@context": dcat.CONTEXT,
            "@id": dcat.organization_iri(base_url(request), name, tenant),
            "@type": dcat.PUBLISHER_TYPES,
            "foaf:name": name,
        }
        return _answer(request, node, extension)
    except DalguError as error:
        return _failure(request, "organization", error)
    except Exception as exc:
        return unexpected(request, "organization", exc)


async def _listing(request: Request, tenant: str) -> Listing:
    """The page of the home page's list the request asks for (`q`, `page`), as
    `package_search` finds it; a `q` it cannot read lists nothing and says why."""
    q = request.query_params.get("q", "").strip()
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    query = SearchQuery(
        q=q,
        rows=HOME_PAGE_SIZE,
        start=(page - 1) * HOME_PAGE_SIZE,
        sort=DEFAULT_SORT if q else "metadata_modified desc",
    )
    try:
        found = await _service(request).search(tenant, query)
    except InvalidFields as error:
        problems = [p for listed in error.fields.values() for p in listed]
        return Listing([], 0, 1, q, "; ".join(problems) or error.detail)
    return Listing(found.datasets, found.count, page, q)


async def home(request: Request) -> Response:
    """`/opendata`, the catalogue's home page; in an RDF serialization (`Accept`), the
    catalogue, which describes the portal's publisher (`/opendata#publisher`) too."""
    try:
        chosen = _chosen(request, None, page_first=True)
        if chosen != "html":
            document = await catalog_document(request, chosen)
            return rdf_response(document, chosen, dcat.CONTEXT, negotiated=True)
        tenant = portal_tenant(request)
        return home_page(base_url(request), await _listing(request, tenant), tenant)
    except DalguError as error:
        return _failure(request, "home", error)
    except Exception as exc:
        return unexpected(request, "home", exc)
