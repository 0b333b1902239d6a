"""JSON-LD 1.1 context features a user @context may use: `@import` (4.1.10: the definitions of
the context it names, under the importing object's own) and `@direction` (a base direction of
strings, nothing a name's IRI depends on). Both were a 400; `@version` other than 1.1 is the
"invalid @version value" JSON-LD says (an outside test, round 6)."""

from __future__ import annotations

from typing import Any

from pyld import jsonld
from starlette.testclient import TestClient

from tests.hosted_contexts import hosted

E = "/ngsi-ld/v1/entities"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"
LD = {"Content-Type": "application/ld+json"}
IMPORTED = {"bb": "http://ex.org/bb", "cc": "http://ex.org/imported-cc"}


def _expanded_names(context: list[Any], imported_url: str) -> set[str]:
    """What pyld expands the attributes to, the imported document served from memory."""

    def loader(url: str, options: dict[str, Any]) -> dict[str, Any]:
        if url == imported_url:
            return {"document": {"@context": IMPORTED}, "documentUrl": url, "contextUrl": None}
        from tests.jsonld_oracle import offline_loader

        return offline_loader(url, options)

    doc = {"@context": context, "@id": "urn:x:1", "bb": {"@value": 1}, "cc": {"@value": 2}}
    expanded = jsonld.expand(doc, {"documentLoader": loader})[0]
    return {key for key in expanded if key != "@id"}


def test_an_imported_context_defines_names_under_the_importing_ones(client: TestClient) -> None:
    url = hosted(client, IMPORTED)
    own = {"@version": 1.1, "@import": url, "cc": "http://ex.org/cc", "@direction": "ltr"}
    context = [own, CORE]
    assert _expanded_names(context, url) == {"http://ex.org/bb", "http://ex.org/cc"}
    body = {
        "id": "urn:ngsi-ld:T:imp",
        "type": "T",
        "bb": {"type": "Property", "value": 1},
        "cc": {"type": "Property", "value": 2},
        "@context": context,
    }
    created = client.post(E, json=body, headers=LD)
    assert created.status_code == 201, created.text
    stored = client.get(f"{E}/urn:ngsi-ld:T:imp").json()  # core context: full IRIs
    assert {"http://ex.org/bb", "http://ex.org/cc"} <= set(stored)


def test_a_bad_import_or_version_is_a_400(client: TestClient) -> None:
    inner = hosted(client, {"ee": "http://ex.org/ee"})
    url = hosted(client, {"@import": inner, "dd": "http://ex.org/dd"})  # valid, used alone
    for context in ({"@import": url}, {"@import": 5}, {"@version": 1.0, "aa": "http://ex.org/a"}):
        body = {"id": "urn:ngsi-ld:T:bad", "type": "T", "@context": [context, CORE]}
        refused = client.post(E, json=body, headers=LD)
        assert refused.status_code == 400, (context, refused.text)
        assert refused.json()["type"].endswith("BadRequestData")
