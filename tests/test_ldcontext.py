"""Dalgu's compiled term maps agree with a full JSON-LD processor (pyld) on names."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pyld import jsonld

from dalgu.errors import InvalidLdContext
from dalgu.ldcontext import ContextResolver, is_core_context
from tests.jsonld_oracle import offline_loader

USER = {
    "ex": "http://example.org/",
    "Car": "ex:Car",
    "speed": "https://schema.org/speed",
    "brand": {"@id": "ex:brandName"},
    "owner": {"@id": "ex:owner", "@type": "@id"},
}
NAMES = [
    "Car",
    "speed",
    "brand",
    "owner",
    "location",
    "ex:extra",
    "plainName",
    "http://other.org/x",
    "ngsi-ld:foo",
]


@pytest.mark.parametrize("name", NAMES)
def test_expansion_matches_pyld(name: str) -> None:
    context = [USER, "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"]
    # attribute values are nodes (a Property with a value), as in NGSI-LD payloads
    doc = {"@context": context, "@id": "urn:x:1", name: {"type": "Property", "value": 1}}
    expanded = jsonld.expand(doc, {"documentLoader": offline_loader})[0]
    oracle = next(k for k in expanded if k != "@id")
    terms = asyncio.run(ContextResolver().resolve(context))
    assert terms.expand(name) == oracle
    compacted = jsonld.compact(expanded, {"@context": context}, {"documentLoader": offline_loader})
    oracle_term = next(k for k in compacted if k not in ("@context", "id", "@id"))
    assert terms.compact(oracle) == oracle_term


@pytest.mark.parametrize(
    "url",
    [
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.3.jsonld",
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld",
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld",
    ],
)
def test_every_core_context_url_is_embedded(url: str) -> None:
    assert is_core_context(url)
    terms = asyncio.run(ContextResolver().resolve(url))
    assert terms.expand("observedAt") == "https://uri.etsi.org/ngsi-ld/observedAt"


@pytest.mark.parametrize(
    ("context", "valid"),
    [
        # Smart Data Models' IssueTracking: a compact-IRI term mapped elsewhere
        ({"open311:type": "https://example.org/ns/open311:type"}, False),
        # its prefix defined, and the term mapped where the prefix puts it: valid
        ({"ex": "https://example.org/ns/", "ex:type": "https://example.org/ns/type"}, True),
        ({"ex": "https://example.org/ns/", "ex:type": "https://example.org/other/type"}, False),
        # an absolute IRI as a term maps to itself only
        ({"https://example.org/a": {"@id": "https://example.org/a", "@type": "@id"}}, True),
        ({"https://example.org/a": "https://example.org/b"}, False),
        ({"plain": "https://example.org/elsewhere"}, True),
    ],
)
def test_a_term_in_the_form_of_an_iri_must_map_to_it_as_pyld_says(
    context: dict[str, Any], valid: bool
) -> None:
    """JSON-LD 1.1 API, Create Term Definition 14.2.3 ("invalid IRI mapping"): pyld refuses
    such a context, and Dalgu accepted it (two attributes then came back under one name)."""

    def refuses(run: Any) -> bool:
        try:
            run()
        except Exception:
            return True
        return False

    oracle = refuses(lambda: jsonld.expand({"@context": context, "plain": 1}))
    assert oracle is not valid  # the cases say what pyld does

    async def build() -> None:
        await ContextResolver().resolve(context)

    assert refuses(lambda: asyncio.run(build())) is not valid


PROTECTED = {"@protected": True, "speed": "http://ex.org/speed"}


@pytest.mark.parametrize(
    ("context", "expands_to"),
    [
        # a protected term defined otherwise later: pyld's "protected term redefinition"
        ([PROTECTED, {"speed": "http://other.org/speed"}], None),
        (
            [
                {"speed": {"@id": "http://ex.org/speed", "@protected": True}},
                {"speed": "http://o/s"},
            ],
            None,
        ),
        # defined again the same way: allowed
        ([PROTECTED, {"speed": {"@id": "http://ex.org/speed"}}], "http://ex.org/speed"),
        ([PROTECTED, {"speed": "http://ex.org/speed"}], "http://ex.org/speed"),
        # a term of the same context not protected by itself
        (
            [
                {"@protected": True, "speed": {"@id": "http://ex.org/speed", "@protected": False}},
                {"speed": "http://other.org/speed"},
            ],
            "http://other.org/speed",
        ),
        # unprotected terms are redefined by later contexts
        (
            [{"speed": "http://ex.org/speed"}, {"speed": "http://other.org/speed"}],
            "http://other.org/speed",
        ),
        # a null drops the definitions before it, but not protected ones
        (
            [{"speed": "http://ex.org/speed"}, None, {"ex": "http://ex.org/"}],
            "https://uri.etsi.org/ngsi-ld/default-context/speed",
        ),
        ([PROTECTED, None], None),
    ],
)
def test_protected_terms_and_nulls_as_pyld_takes_them(
    context: list[Any], expands_to: str | None
) -> None:
    """JSON-LD 1.1 4.1.11 (protected terms) and 4.1.8 (a null context): pyld refused a
    redefinition that Dalgu accepted, storing the attribute under the IRI the context's
    author had forbidden (an outside test, round 6)."""
    core = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"
    doc = {"@context": [*context, core], "@id": "urn:x:1", "speed": {"type": "Property"}}
    try:
        expanded = jsonld.expand(doc, {"documentLoader": offline_loader})[0]
        oracle: str | None = next(k for k in expanded if k != "@id")
    except jsonld.JsonLdError:
        oracle = None
    assert oracle == expands_to  # the cases say what pyld does

    async def expand() -> str:
        return (await ContextResolver().resolve([*context, core])).expand("speed")

    if expands_to is None:
        with pytest.raises(InvalidLdContext, match="protected"):
            asyncio.run(expand())
    else:
        assert asyncio.run(expand()) == expands_to


@pytest.mark.parametrize(
    "scoped",
    [
        {"Car": {"@id": "http://ex.org/Car", "@context": {"speed": "http://ex.org/carSpeed"}}},
        {"address": {"@id": "http://ex.org/address", "@context": {"street": "http://ex/s"}}},
    ],
)
def test_a_user_context_with_a_scoped_context_is_refused(scoped: dict[str, Any]) -> None:
    """NGSI-LD clause 5.5.7: a user @context "shall not contain JSON-LD Scoped Contexts";
    Dalgu accepted them and ignored the scoped part, so that pyld and Dalgu expanded the same
    document to different IRIs. The core context's own scoped context (`ngsildproof`) stays."""
    with pytest.raises(InvalidLdContext, match="scoped"):
        asyncio.run(ContextResolver().resolve(scoped))
    assert asyncio.run(ContextResolver().resolve(None)).expand("ngsildproof")


@pytest.mark.parametrize(
    "context",
    [
        {"speed": "not an iri"},  # @vocab-relative: the core's vocabulary + a space
        {"speed": "http://ex.org/a b"},
        {"speed": {"@id": "http://ex.org/<speed>"}},
    ],
)
def test_a_term_mapped_to_no_iri_is_refused(context: dict[str, Any]) -> None:
    """JSON-LD 1.1, Create Term Definition: a mapping that is neither a keyword, an IRI nor a
    blank node is an "invalid IRI mapping". Dalgu stored the attribute under the text, which
    no query could then name (an outside test, round 6)."""
    with pytest.raises(InvalidLdContext, match="invalid IRI mapping"):
        asyncio.run(ContextResolver().resolve(context))


def test_a_term_mapped_to_null_names_nothing_to_store() -> None:
    """JSON-LD 1.1 4.2.1: a term defined as null is not expanded and its key is dropped (pyld
    drops it); Dalgu stored the attribute under the core vocabulary instead. It now refuses
    to name it rather than drop data silently; the other terms expand as before."""
    context = [{"speed": "http://ex.org/speed", "other": "http://ex.org/other"}, {"speed": None}]
    core = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"
    doc = {"@context": [*context, core], "@id": "urn:x:1", "speed": {"type": "Property"}}
    expanded = jsonld.expand(doc, {"documentLoader": offline_loader})
    assert all(set(node) == {"@id"} for node in expanded)  # pyld: dropped
    terms = asyncio.run(ContextResolver().resolve(context))
    with pytest.raises(InvalidLdContext, match="maps 'speed' to null"):
        terms.expand("speed")
    assert terms.expand("other") == "http://ex.org/other"
    with pytest.raises(InvalidLdContext, match="reverse"):
        asyncio.run(ContextResolver().resolve({"parent": {"@reverse": "http://ex.org/child"}}))
