"""The catalogue as DCAT-AP (W3C DCAT 2 with the EU application profile's choices): one
`dcat:Catalog` of `dcat:Dataset`s, each with a `dcat:Distribution` per download, as JSON-LD
at `/opendata/catalog.jsonld` and as Turtle at `/opendata/catalog.ttl` (the same graph)."""

from __future__ import annotations

import warnings
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dalgu.api.edge import runtime
from dalgu.api.negotiation import tenant_of
from dalgu.api.opendata import package as ckan
from dalgu.api.opendata.envelope import base_url, failure, unexpected
from dalgu.errors import DalguError, OperationNotSupported
from dalgu.opendata.exporters import EXPORTERS
from dalgu.opendata.model import Dataset

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"


def _time(ckan_time: str) -> dict[str, str]:
    return {"@value": ckan_time + "Z", "@type": "xsd:dateTime"}


def dataset_node(base: str, dataset: Dataset) -> dict[str, Any]:
    landing = f"{base}{ckan.PREFIX}/api/3/action/package_show?id={dataset.name}"
    node: dict[str, Any] = {
        "@id": f"{base}{ckan.PREFIX}/dataset/{dataset.name}",
        "@type": "dcat:Dataset",
        "dct:identifier": dataset.id,
        "dct:title": dataset.title,
        "dct:description": dataset.notes,
        "dcat:keyword": list(dataset.tags),
        "dct:issued": _time(dataset.created),
        "dct:modified": _time(dataset.modified),
        "dcat:landingPage": {"@id": landing},
        "dcat:distribution": [
            {
                "@id": f"{base}{ckan.PREFIX}/resource/{ckan.resource_id(dataset, e.extension)}",
                "@type": "dcat:Distribution",
                "dct:title": f"{dataset.title} ({e.format})",
                "dct:format": e.format,
                "dcat:mediaType": {"@id": IANA_MEDIA_TYPES + e.media_type},
                "dcat:accessURL": {"@id": ckan.download_url(base, dataset, e.extension)},
                "dcat:downloadURL": {"@id": ckan.download_url(base, dataset, e.extension)},
            }
            for e in EXPORTERS.values()
        ],
    }
    if dataset.license.url:
        node["dct:license"] = {"@id": dataset.license.url}
        for distribution in node["dcat:distribution"]:
            distribution["dct:license"] = {"@id": dataset.license.url}
    if dataset.organization is not None:
        node["dct:publisher"] = {
            "@id": f"{base}{ckan.PREFIX}/organization/{dataset.organization}",
            "@type": "foaf:Organization",
            "foaf:name": dataset.organization,
        }
    return node


def catalog(base: str, datasets: list[Dataset]) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "@id": f"{base}{ckan.PREFIX}/catalog",
        "@type": "dcat:Catalog",
        "dct:title": "Dalgu open data",
        "dct:description": "De-identified, aggregated city data of a Dalgu city data hub",
        "foaf:homepage": {"@id": f"{base}{ckan.PREFIX}"},
        "dcat:dataset": [dataset_node(base, d) for d in datasets],
    }


async def _catalog(request: Request) -> dict[str, Any] | Response:
    """The catalogue of the request's tenant, or the error response."""
    try:
        service = runtime(request).opendata
        if service is None:
            raise OperationNotSupported("this store keeps no open-data datasets")
        datasets = await service.datasets(tenant_of(request))
    except DalguError as error:
        return failure(request, "catalog", error)
    except Exception as exc:
        return unexpected(request, "catalog", exc)
    return catalog(base_url(request), datasets)


async def catalog_jsonld(request: Request) -> Response:
    document = await _catalog(request)
    if isinstance(document, Response):
        return document
    return Response(orjson.dumps(document), media_type="application/ld+json")


def turtle(document: dict[str, Any]) -> bytes:
    """The JSON-LD catalogue's graph as Turtle."""
    from rdflib import Graph  # loaded on the first Turtle request, not by every worker

    graph = Graph()
    with warnings.catch_warnings():
        # rdflib 7.6's JSON-LD parser makes a ConjunctiveGraph, which rdflib itself deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        graph.parse(data=orjson.dumps(document).decode(), format="json-ld")
    for prefix, namespace in CONTEXT.items():
        graph.bind(prefix, namespace)
    return graph.serialize(format="turtle").encode()


async def catalog_ttl(request: Request) -> Response:
    document = await _catalog(request)
    if isinstance(document, Response):
        return document
    return Response(turtle(document), media_type="text/turtle")


async def dataset_jsonld(request: Request) -> Response:
    """A dataset's DCAT description at its own IRI (`/opendata/dataset/{name}`)."""
    try:
        service = runtime(request).opendata
        if service is None:
            raise OperationNotSupported("this store keeps no open-data datasets")
        dataset = await service.show(tenant_of(request), request.path_params["dataset"])
    except DalguError as error:
        return failure(request, "dataset", error)
    except Exception as exc:
        return unexpected(request, "dataset", exc)
    node = {"@context": CONTEXT, **dataset_node(base_url(request), dataset)}
    return Response(orjson.dumps(node), media_type="application/ld+json")
