"""The portal's RDF documents in the serializations harvesters ask for (JSON-LD, Turtle,
RDF/XML), by the extension of the URL (`catalog.ttl`, `dataset/{id}.rdf`) or by content
negotiation on the `Accept` header at the IRI itself, as ckanext-dcat serves them."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import Response

from dalgu.errors import NotAcceptable
from dalgu.opendata.validation import NOT_XML

if TYPE_CHECKING:
    from rdflib import Graph

#: serializations by extension: (media type, rdflib's format; None: the JSON-LD as built)
FORMATS: dict[str, tuple[str, str | None]] = {
    "jsonld": ("application/ld+json", None),
    "ttl": ("text/turtle", "turtle"),
    "rdf": ("application/rdf+xml", "xml"),
    "xml": ("application/rdf+xml", "xml"),
}
#: media types a request may accept, to the extension that serves them; JSON-LD first: what a
#: client that accepts anything gets (as before negotiation)
MEDIA_TYPES: dict[str, str] = {
    "application/ld+json": "jsonld",
    "application/json": "jsonld",
    "text/turtle": "ttl",
    "application/x-turtle": "ttl",
    "application/rdf+xml": "rdf",
    "application/xml": "rdf",
    "text/xml": "rdf",
}
HTML = "text/html"


def _accepted(accept: str) -> list[tuple[str, float, int]]:
    """The media ranges of an Accept header with their q (RFC 9110, 12.5.1), and their order."""
    ranges = []
    for position, part in enumerate(accept.split(",")):
        media, *parameters = (p.strip() for p in part.split(";"))
        quality = 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media:
            ranges.append((media.lower(), quality, position))
    return ranges


def _quality(media: str, ranges: list[tuple[str, float, int]]) -> float:
    """The q the most specific range matching `media` gives it (0: not acceptable)."""
    kind = media.split("/")[0]
    specificity, quality = -1, 0.0
    for pattern, q, _ in ranges:
        level = 2 if pattern == media else 1 if pattern == f"{kind}/*" else 0
        if (level == 2 or pattern in (f"{kind}/*", "*/*")) and level > specificity:
            specificity, quality = level, q
    return quality


def negotiate(accept: str | None, offered: list[str]) -> str:
    """The media type of `offered` (in the server's order of preference) that `accept`
    prefers, the first offered among equals and without an Accept header; NotAcceptable
    when none is acceptable."""
    if not accept or not accept.strip():
        return offered[0]
    ranges = _accepted(accept)
    quality, _, media = max((_quality(m, ranges), -i, m) for i, m in enumerate(offered))
    if quality <= 0:
        raise NotAcceptable(f"this resource is served as {', '.join(offered)}")
    return media


def canonical_time(at: datetime) -> str:
    """A UTC time in xsd:dateTime's canonical form (XML Schema 1.1, 3.3.7.2): `Z` for the
    zone, no trailing zeros in the fraction. Every serialization writes this one form: a
    harvester that compares triples sees the same literal in Turtle, JSON-LD and RDF/XML."""
    text = at.astimezone(UTC).replace(tzinfo=None).isoformat()
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + "Z"


def graph(document: dict[str, Any], prefixes: dict[str, str]) -> Graph:
    """The JSON-LD document's graph, its times in the canonical form."""
    from rdflib import Graph  # loaded on the first request for it, not by every worker

    parsed = Graph()
    with warnings.catch_warnings():
        # rdflib 7.6's JSON-LD parser makes a ConjunctiveGraph, which rdflib itself deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        parsed.parse(data=orjson.dumps(document).decode(), format="json-ld")
    _canonical_times(parsed)
    for prefix, namespace in prefixes.items():
        parsed.bind(prefix, namespace)
    return parsed


def _canonical_times(parsed: Graph) -> None:
    """Write the graph's xsd:dateTime literals in the canonical form the JSON-LD has: rdflib
    reads `…Z` into a datetime and writes it back as `…+00:00`."""
    from rdflib import Literal
    from rdflib.namespace import XSD

    for subject, predicate, value in list(parsed):
        if isinstance(value, Literal) and value.datatype == XSD.dateTime:
            at = value.toPython()
            if isinstance(at, datetime):
                canonical = Literal(canonical_time(at), datatype=XSD.dateTime, normalize=False)
                parsed.remove((subject, predicate, value))
                parsed.add((subject, predicate, canonical))


def serialized(document: dict[str, Any], extension: str, prefixes: dict[str, str]) -> bytes:
    """The document in the serialization of `extension` (a key of FORMATS)."""
    rdflib_format = FORMATS[extension][1]
    if rdflib_format is None:
        return orjson.dumps(document)
    if rdflib_format == "xml":  # a dataset kept before such characters were refused
        document = _writable_in_xml(document)
    return graph(document, prefixes).serialize(format=rdflib_format).encode()


def _writable_in_xml(value: Any) -> Any:
    """`value` without the characters XML 1.0 cannot hold (2.2 Char), which rdflib writes as
    they are, making the whole document not well-formed."""
    if isinstance(value, str):
        return NOT_XML.sub("", value)
    if isinstance(value, dict):
        return {_writable_in_xml(k): _writable_in_xml(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_writable_in_xml(v) for v in value]
    return value


def rdf_response(
    document: dict[str, Any], extension: str, prefixes: dict[str, str], *, negotiated: bool
) -> Response:
    """The document as `extension` asks; `negotiated`: chosen by Accept (so `Vary: Accept`)."""
    response = Response(serialized(document, extension, prefixes), media_type=FORMATS[extension][0])
    if negotiated:
        response.headers["Vary"] = "Accept"
    return response
