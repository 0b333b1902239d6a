"""The portal's pages for people: the catalogue's home page (`/opendata`, its
`foaf:homepage`) and a landing page per dataset (`/opendata/dataset/{id}.html`, its
`dcat:landingPage`), in the dashboard's style, without script."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.responses import HTMLResponse

from dalgu.api.opendata import dcat
from dalgu.api.opendata import package as ckan
from dalgu.opendata.exporters import EXPORTERS
from dalgu.opendata.model import Dataset

if TYPE_CHECKING:
    from jinja2 import Environment

#: what a browser may load on these pages: the dashboard's stylesheet and icon, nothing else
POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


@lru_cache(maxsize=1)
def _templates() -> Environment:
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(
        loader=PackageLoader("dalgu.api.opendata", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _shown_time(ckan_time: str) -> str:
    return ckan_time.split(".")[0].replace("T", " ") + " UTC"


def _described(base: str, dataset: Dataset, tenant: str) -> dict[str, Any]:
    node = dcat.dataset_node(base, dataset, tenant)
    query = ckan.tenant_query(tenant)
    at = f"{base}{ckan.PREFIX}/dataset/{dataset.id}"
    return {
        "title": dataset.title,
        "description": node["dct:description"],
        "organization": dataset.organization,
        "license": dataset.license.title,
        "license_url": dataset.license.url,
        "tags": list(dataset.tags),
        "policy": ckan.policy_text(dataset),
        "columns": dataset.columns,
        "created": _shown_time(dataset.created),
        "created_iso": node["dct:issued"]["@value"],
        "modified": _shown_time(dataset.modified),
        "modified_iso": node["dct:modified"]["@value"],
        "iri": node["@id"],
        "iri_ttl": f"{at}.ttl{query}",
        "iri_jsonld": f"{at}.jsonld{query}",
        "iri_rdf": f"{at}.rdf{query}",
        "page": dcat.landing_url(base, dataset, tenant),
        "package_show": f"{base}{ckan.PREFIX}/api/3/action/package_show?"
        + urlencode({"id": dataset.id, **({"tenant": tenant} if tenant else {})}),
        "downloads": [
            {
                "format": e.format,
                "mimetype": e.media_type,
                "url": ckan.download_url(base, dataset, e.extension, tenant),
            }
            for e in EXPORTERS.values()
        ],
    }


def _common(base: str, tenant: str) -> dict[str, Any]:
    return {
        "portal": dcat.CATALOG_PUBLISHER,
        "tenant": tenant,
        "home": dcat.home_url(base, tenant),
        "catalog": f"{base}{ckan.PREFIX}/catalog",
        "query": ckan.tenant_query(tenant),
        "api": f"{base}{ckan.PREFIX}/api/3/action",
    }


def _page(html: str) -> HTMLResponse:
    response = HTMLResponse(html)
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["Vary"] = "Accept"
    return response


#: datasets a page of the home page lists (as CKAN's /dataset page)
HOME_PAGE_SIZE = 20


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of the home page's list: the datasets `package_search` found for `q` (all
    of them without), the last modified first (by relevance with words), `count` in all."""

    datasets: list[Dataset]
    count: int
    page: int
    q: str = ""
    problem: str = ""  # why `q` could not be searched

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // HOME_PAGE_SIZE))


def home_page(base: str, listing: Listing, tenant: str) -> HTMLResponse:
    """The catalogue's home page: a search form, one page of its datasets and links to the
    pages before and after (a search that cannot be made is a 400 saying why)."""

    def at(page: int) -> str:
        asked = {"q": listing.q} if listing.q else {}
        asked |= {"tenant": tenant} if tenant else {}
        asked |= {"page": str(page)} if page > 1 else {}
        return dcat.home_url(base, "") + (f"?{urlencode(asked)}" if asked else "")

    html = (
        _templates()
        .get_template("home.html")
        .render(
            **_common(base, tenant),
            description=dcat.CATALOG_DESCRIPTION,
            datasets=[_described(base, d, tenant) for d in listing.datasets],
            listing=listing,
            previous=at(listing.page - 1) if listing.page > 1 else None,
            next=at(listing.page + 1) if listing.page < listing.pages else None,
        )
    )
    response = _page(html)
    if listing.problem:
        response.status_code = 400
    return response


def landing_page(base: str, dataset: Dataset, tenant: str) -> HTMLResponse:
    """A dataset's landing page: what it is, its policy, its downloads."""
    html = (
        _templates()
        .get_template("dataset.html")
        .render(**_common(base, tenant), d=_described(base, dataset, tenant))
    )
    return _page(html)


def missing_page(base: str, tenant: str, what: str) -> HTMLResponse:
    """A 404 for people: what is not there, and a link to the catalogue's datasets (a
    browser that asked for a page got CKAN's JSON error)."""
    html = _templates().get_template("missing.html").render(**_common(base, tenant), what=what)
    response = _page(html)
    response.status_code = 404
    return response
