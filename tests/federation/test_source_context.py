"""Clause 4.3.6.6: a registration's `contextSourceInfo` keys `jsonldContext`, `contentType`,
`accept` and `ngsildConformance` change how a request is put to its context source and how
the answer is read. The
source here is a FIWARE IoT Agent's kind: it knows its devices' attributes by its own names
(`switch`, `temp`), which the client knows by others (`turnOn`, `temperature`) for the same
IRIs. Both contexts are hosted by the broker (POST /jsonldContexts) and read from its store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from starlette.testclient import TestClient

from dalgu.federation.client import query_string
from tests.contextsource import ContextSource
from tests.hosted_contexts import hosted
from tests.jsonld_oracle import offline_loader

E = "/ngsi-ld/v1/entities"
R = "/ngsi-ld/v1/csourceRegistrations"
IOT = "https://example.org/iot/"
L1 = "urn:ngsi-ld:Device:lamp1"
REG = "urn:ngsi-ld:ContextSourceRegistration:agent"
LINK = '<{}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
#: the agent's vocabulary, and the client's for the same IRIs
AGENT = {"Device": IOT + "Device", "switch": IOT + "switch", "temp": IOT + "temperature"}
CLIENT = {"Thing": IOT + "Device", "turnOn": IOT + "switch", "temperature": IOT + "temperature"}


@pytest.fixture
def source() -> Iterator[ContextSource]:
    cs = ContextSource()
    yield cs
    cs.close()


def register(
    client: TestClient, source: ContextSource, info: list[dict[str, str]], **extra: Any
) -> None:
    """A registration of the lamp's devices at `source`, its names given as IRIs."""
    body = {
        "id": REG,
        "type": "ContextSourceRegistration",
        "information": [{"entities": [{"type": IOT + "Device"}]}],
        "endpoint": source.endpoint,
        "contextSourceInfo": info,
        **extra,
    }
    created = client.post(R, json=body)
    assert created.status_code == 201, created.text


def register_switch(client: TestClient, source: ContextSource, info: list[dict[str, str]]) -> None:
    """The lamp's switch command, held by the agent alone (as IoT Agents register commands)."""
    register(
        client,
        source,
        info,
        mode="exclusive",
        operations=["updateOps", "createEntity", "retrieveEntity"],
        information=[
            {"entities": [{"id": L1, "type": IOT + "Device"}], "propertyNames": [IOT + "switch"]}
        ],
    )


def test_a_patched_attribute_reaches_the_source_by_its_name(
    client: TestClient, source: ContextSource
) -> None:
    agent = hosted(client, AGENT)
    register_switch(client, source, [{"key": "jsonldContext", "value": agent}])
    source.reply("PATCH", f"/entities/{L1}/attrs/switch", 204)
    link = {"Link": LINK.format(hosted(client, CLIENT))}
    patched = client.patch(f"{E}/{L1}/attrs/turnOn", json={"value": "on"}, headers=link)
    assert patched.status_code == 204, patched.text
    (seen,) = source.requests("PATCH")
    assert seen.path == f"/ngsi-ld/v1/entities/{L1}/attrs/switch"
    assert seen.headers["link"] == LINK.format(agent)
    assert seen.headers["content-type"] == "application/json"
    assert seen.body == {"value": "on"}


def test_a_full_iri_reaches_the_source_as_its_term(
    client: TestClient, source: ContextSource
) -> None:
    agent = hosted(client, AGENT)
    register_switch(client, source, [{"key": "jsonldContext", "value": agent}])
    source.reply("PATCH", f"/entities/{L1}/attrs/", 204)
    body = {IOT + "switch": {"type": "Property", "value": "off"}}
    assert client.patch(f"{E}/{L1}/attrs", json=body).status_code == 204
    (seen,) = source.requests("PATCH")
    assert seen.body == {"switch": {"type": "Property", "value": "off"}}
    assert seen.headers["link"] == LINK.format(agent)


def test_a_retrieved_answer_is_read_in_the_source_vocabulary(
    client: TestClient, source: ContextSource
) -> None:
    agent = hosted(client, AGENT)
    register(client, source, [{"key": "jsonldContext", "value": agent}])
    link = {"Link": LINK.format(hosted(client, CLIENT))}
    lamp = {"id": L1, "type": "Thing", "name": {"type": "Property", "value": "porch"}}
    assert client.post(E, json=lamp, headers=link).status_code == 201
    answer = {"id": L1, "type": "Device", "temp": {"type": "Property", "value": 21}}
    source.reply("GET", f"/entities/{L1}", 200, answer)
    got = client.get(f"{E}/{L1}", params={"options": "keyValues"}, headers=link)
    assert got.status_code == 200
    assert got.json() == {"id": L1, "type": "Thing", "name": "porch", "temperature": 21}
    (seen,) = source.requests("GET")
    assert seen.headers["link"] == LINK.format(agent)


def test_query_parameters_are_compacted_for_the_source(
    client: TestClient, source: ContextSource
) -> None:
    agent = hosted(client, AGENT)
    register(client, source, [{"key": "jsonldContext", "value": agent}])
    link = {"Link": LINK.format(hosted(client, CLIENT))}
    expected = [("type", "Device"), ("attrs", "temp"), ("q", 'temp>20;switch=="on"')]
    answer = [{"id": L1, "type": "Device", "temp": {"type": "Property", "value": 23}}]
    source.reply("GET", "/entities?" + query_string(expected), 200, answer)
    asked = {"type": "Thing", "attrs": "temperature", "q": "temperature>20;turnOn==on"}
    got = client.get(E, params={**asked, "options": "keyValues"}, headers=link)
    assert got.status_code == 200
    (seen,) = source.requests("GET")
    assert parse_qsl(urlsplit(seen.path).query) == expected
    assert got.json() == [{"id": L1, "type": "Thing", "temperature": 23}]


def test_a_type_is_asked_and_read_in_the_source_vocabulary(
    client: TestClient, source: ContextSource
) -> None:
    agent = hosted(client, AGENT)
    register(client, source, [{"key": "jsonldContext", "value": agent}])
    answer = {
        "id": IOT + "Device",
        "type": "EntityTypeInfo",
        "typeName": "Device",
        "entityCount": 2,
        "attributeDetails": [{"attributeName": "temp", "attributeTypes": ["Property"]}],
    }
    source.reply("GET", "/types/Device", 200, answer)
    got = client.get(
        "/ngsi-ld/v1/types/Thing", headers={"Link": LINK.format(hosted(client, CLIENT))}
    )
    assert got.status_code == 200, got.text
    info = got.json()
    assert (info["typeName"], info["entityCount"]) == ("Thing", 2)
    assert [a["attributeName"] for a in info["attributeDetails"]] == ["temperature"]


def test_content_type_ld_json_puts_the_context_in_the_body(
    client: TestClient, source: ContextSource
) -> None:
    register_switch(client, source, [{"key": "contentType", "value": "application/ld+json"}])
    source.reply("PATCH", f"/entities/{L1}/attrs/", 204)
    mine = hosted(client, CLIENT)
    body = {"turnOn": {"type": "Property", "value": "on"}}
    patched = client.patch(f"{E}/{L1}/attrs", json=body, headers={"Link": LINK.format(mine)})
    assert patched.status_code == 204, patched.text
    (seen,) = source.requests("PATCH")
    assert seen.headers["content-type"] == "application/ld+json"
    assert "link" not in seen.headers
    assert seen.body == {**body, "@context": mine}
    # a request without a body has its @context in the Link all the same
    client.get(f"{E}/{L1}", headers={"Link": LINK.format(mine)})
    (read,) = source.requests("GET")
    assert read.headers["link"] == LINK.format(mine)


def test_content_type_ld_json_with_the_source_context(
    client: TestClient, source: ContextSource
) -> None:
    agent = hosted(client, AGENT)
    info = [
        {"key": "jsonldContext", "value": agent},
        {"key": "contentType", "value": "application/ld+json"},
    ]
    register_switch(client, source, info)
    source.reply("POST", "/entities", 201)
    lamp = {"id": L1, "type": "Thing", "turnOn": {"type": "Property", "value": "on"}}
    created = client.post(E, json=lamp, headers={"Link": LINK.format(hosted(client, CLIENT))})
    assert created.status_code == 201, created.text
    (seen,) = source.requests("POST")
    assert seen.headers["content-type"] == "application/ld+json"
    assert "link" not in seen.headers
    expected = {"id": L1, "type": "Device", "switch": {"type": "Property", "value": "on"}}
    assert seen.body == {**expected, "@context": agent}


def test_content_type_json_links_the_body_context_or_spells_it_out(
    client: TestClient, source: ContextSource
) -> None:
    register_switch(client, source, [{"key": "contentType", "value": "application/json"}])
    source.reply("PATCH", f"/entities/{L1}/attrs/", 204)
    ld = {"Content-Type": "application/ld+json"}
    mine = hosted(client, CLIENT)
    body = {"turnOn": {"type": "Property", "value": "on"}}
    linked = client.patch(f"{E}/{L1}/attrs", json={**body, "@context": mine}, headers=ld)
    assert linked.status_code == 204, linked.text
    inline = client.patch(f"{E}/{L1}/attrs", json={**body, "@context": CLIENT}, headers=ld)
    assert inline.status_code == 204, inline.text
    first, second = source.requests("PATCH")
    assert first.headers["content-type"] == second.headers["content-type"] == "application/json"
    assert first.body == body and first.headers["link"] == LINK.format(mine)
    # an inline @context cannot be linked: the names go as IRIs, which need none
    assert second.body == {IOT + "switch": {"type": "Property", "value": "on"}}
    assert "link" not in second.headers


def test_accept_ld_json_answer_is_read_with_its_own_context(
    client: TestClient, source: ContextSource
) -> None:
    agent = hosted(client, AGENT)
    register(client, source, [{"key": "accept", "value": "application/ld+json"}])
    answer = {"@context": agent, "id": L1, "type": "Device", "temp": {"value": 19}}
    source.reply("GET", f"/entities/{L1}", 200, answer)
    link = {"Link": LINK.format(hosted(client, CLIENT))}
    got = client.get(f"{E}/{L1}", params={"options": "keyValues"}, headers=link)
    assert got.status_code == 200, got.text
    assert got.json() == {"id": L1, "type": "Thing", "temperature": 19}
    (seen,) = source.requests("GET")
    assert seen.headers["accept"] == "application/ld+json"


def test_a_batch_reaches_the_source_in_its_vocabulary(
    client: TestClient, source: ContextSource
) -> None:
    agent = hosted(client, AGENT)
    register(
        client,
        source,
        [{"key": "jsonldContext", "value": agent}],
        mode="redirect",
        operations=["upsertBatch"],
    )
    source.reply("POST", "/entityOperations/upsert", 204)
    items = [
        {
            "@context": hosted(client, CLIENT),
            "id": L1,
            "type": "Thing",
            "temperature": {"type": "Property", "value": 5, "observedAt": "2026-12-07T10:00:00Z"},
        }
    ]
    upsert = client.post(
        "/ngsi-ld/v1/entityOperations/upsert",
        json=items,
        headers={"Content-Type": "application/ld+json"},
    )
    assert upsert.status_code in (201, 204), upsert.text
    (seen,) = source.requests("POST")
    assert seen.body == [
        {
            "id": L1,
            "type": "Device",
            "temp": {"type": "Property", "value": 5, "observedAt": "2026-12-07T10:00:00Z"},
        }
    ]
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["link"] == LINK.format(agent)


def test_an_unreachable_source_context_is_a_failed_part(
    client: TestClient, source: ContextSource
) -> None:
    missing = "http://127.0.0.1:9/agent-context.jsonld"
    register(
        client,
        source,
        [{"key": "jsonldContext", "value": missing}],
        operations=["updateOps"],
    )
    lamp = {"id": L1, "type": IOT + "Device", "name": {"type": "Property", "value": "porch"}}
    assert client.post(E, json=lamp).status_code == 201
    patched = client.patch(f"{E}/{L1}/attrs", json={"name": {"type": "Property", "value": "x"}})
    assert patched.status_code == 207, patched.text
    (error,) = patched.json()["errors"]
    assert error["registrationId"] == REG
    problem = error["error"]
    assert problem["type"] == "https://uri.etsi.org/ngsi-ld/errors/LdContextNotAvailable"
    assert REG in problem["detail"] and missing in problem["detail"]
    assert source.seen == []  # nothing went to the source in a vocabulary it does not know
    local = client.get(f"{E}/{L1}", params={"local": "true", "options": "keyValues"}).json()
    assert local["name"] == "x"  # this broker's part was done


@pytest.mark.parametrize(
    "context",
    [
        "http://127.0.0.1:9/ctx.jsonld",  # nothing listens
        "http://127.0.0.1:99999/ctx.jsonld",  # no such port: the resolver refuses the URL
        "urn:not:a:url",
    ],
)
def test_the_only_part_failing_on_its_context_is_that_error(
    client: TestClient, source: ContextSource, context: str
) -> None:
    register_switch(client, source, [{"key": "jsonldContext", "value": context}])
    body = {IOT + "switch": {"type": "Property", "value": "on"}}
    patched = client.patch(f"{E}/{L1}/attrs", json=body)
    assert patched.status_code == 503, patched.text
    assert patched.json()["type"].endswith("/LdContextNotAvailable")
    assert REG in patched.json()["detail"]
    registration = client.get(f"{R}/{REG}").json()
    assert registration["status"] == "failed" and registration["timesFailed"] == 1


# --- the translation of names, against a JSON-LD processor (pyld) and the q parser ---------

CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"
#: a client context with a prefix, @vocab-free terms and an expanded term definition
CLIENT_FULL = {
    "iot": IOT,
    "Thing": "iot:Device",
    "turnOn": {"@id": "iot:switch"},
    "temperature": "iot:temperature",
    "accuracy": "iot:accuracy",
    "Celsius": "iot:Celsius",
}
AGENT_FULL = {**AGENT, "acc": IOT + "accuracy", "degC": IOT + "Celsius"}


def _names(doc: dict[str, Any]) -> dict[str, Any]:
    """The names of an entity: its types, and each attribute with its sub-attributes."""
    out: dict[str, Any] = {"type": doc["type"]}
    for key, value in doc.items():
        if key not in ("@context", "id", "type"):
            out[key] = sorted(k for k in value if k not in ("type", "value", "vocab"))
    return out


def test_translated_names_agree_with_pyld() -> None:
    import asyncio

    from pyld import jsonld

    from dalgu.federation.translation import Translation
    from dalgu.ldcontext import ContextResolver

    entity = {
        "id": L1,
        "type": "Thing",
        "temperature": {
            "type": "Property",
            "value": 21,
            "accuracy": {"type": "Property", "value": 0.5},
        },
        "iot:switch": {"type": "Property", "value": "on"},
        "http://example.org/other": {"type": "Property", "value": 1},
        "scale": {"type": "VocabProperty", "vocab": "Celsius"},
    }
    resolver = ContextResolver()
    client_terms = asyncio.run(resolver.resolve([CLIENT_FULL, CORE]))
    agent_terms = asyncio.run(resolver.resolve([AGENT_FULL, CORE]))
    translated = Translation(client_terms, agent_terms).entity(entity)
    options = {"documentLoader": offline_loader}
    expanded = jsonld.expand({"@context": [CLIENT_FULL, CORE], **entity}, options)
    oracle = jsonld.compact(expanded, {"@context": [AGENT_FULL, CORE]}, options)
    assert _names(translated) == _names(oracle), oracle
    assert translated["type"] == "Device" and "switch" in translated
    assert translated["temp"]["acc"] == {"type": "Property", "value": 0.5}
    assert translated["scale"]["vocab"] == oracle["scale"]["vocab"] == "degC"


@pytest.mark.parametrize(
    "text",
    [
        "temperature>20",
        'temperature.accuracy<1;turnOn=="on"',
        '(temperature==1..5|turnOn!=off,on);iot:switch~="^o(n|ff)$"',
        "temperature.observedAt>=2026-12-07T10:00:00Z|address[city]==Daegu",
        "turnOn==urn:ngsi-ld:X:1;temperature==true",
    ],
)
def test_a_translated_q_reads_back_as_the_same_query(text: str) -> None:
    import asyncio

    from dalgu.federation.translation import Translation
    from dalgu.ldcontext import ContextResolver
    from dalgu.query.ast import map_names
    from dalgu.query.q import parse_q

    resolver = ContextResolver()
    client_terms = asyncio.run(resolver.resolve([CLIENT_FULL, CORE]))
    agent_terms = asyncio.run(resolver.resolve([AGENT_FULL, CORE]))
    sent = Translation(client_terms, agent_terms).q(text)
    # what the agent reads, in IRIs, is what the client asked
    assert map_names(parse_q(sent), agent_terms.expand) == map_names(
        parse_q(text), client_terms.expand
    )
    assert "turnOn" not in sent and "temperature" not in sent


def test_ngsild_conformance_sends_an_older_version_payload(
    client: TestClient, source: ContextSource
) -> None:
    register(
        client,
        source,
        [{"key": "ngsildConformance", "value": "1.2"}],
        mode="redirect",
        operations=["createEntity"],
    )
    source.reply("POST", "/entities", 201)
    lamp = {
        "id": L1,
        "type": [IOT + "Device", IOT + "Lamp"],
        "scope": "/porch",
        "colour": {"type": "VocabProperty", "vocab": "white"},
        "power": [
            {"type": "Property", "value": 5, "datasetId": "urn:ngsi-ld:Dataset:a"},
            {
                "type": "Property",
                "value": 7,
                "unitCode": "WTT",
                "observedAt": "2026-12-07T10:00:00Z",
            },
        ],
        "label": {"type": "LanguageProperty", "languageMap": {"en": "lamp", "ko": "램프"}},
        "near": {"type": "ListRelationship", "objectList": [{"object": "urn:ngsi-ld:X:1"}]},
    }
    assert client.post(E, json=lamp).status_code == 201
    (seen,) = source.requests("POST")
    assert seen.body == {
        "id": L1,
        "type": IOT + "Device",  # 1.0 to 1.2: one type
        "colour": {"type": "Property", "value": "white"},  # VocabProperty: 1.8
        "power": {"type": "Property", "value": 7},  # the default instance; unitCode: 1.3
        "label": {"type": "Property", "value": {"en": "lamp", "ko": "램프"}},  # 1.4
        "near": {"type": "Relationship", "object": ["urn:ngsi-ld:X:1"]},  # 1.8
    }


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        ((1, 9), {"type": "JsonProperty", "json": {"a": 1}, "expiresAt": "2030-01-01T00:00:00Z"}),
        ((1, 8), {"type": "JsonProperty", "json": {"a": 1}}),
        ((1, 7), {"type": "Property", "value": {"a": 1}}),
    ],
)
def test_conformance_fallbacks_by_version(to: tuple[int, int], expected: dict[str, Any]) -> None:
    from dalgu.federation import conformance

    given = {"type": "JsonProperty", "json": {"a": 1}, "expiresAt": "2030-01-01T00:00:00Z"}
    assert conformance.instance(given, to) == expected
    assert conformance.version("1.10") == (1, 10) and conformance.version("v1") is None


# --- two real brokers: the source is a Dalgu that knows the agent's vocabulary ---------------


PRIVATE = "http://broker.invalid"


@pytest.fixture
def brokers(tmp_path: Any) -> Iterator[tuple[str, str]]:
    from tests.ports import free_port
    from tests.server import kill_server, start_server

    ports = free_port(), free_port()
    # the broker names itself by a host the source cannot reach: the contexts it hosts (the
    # client's) are the broker's own, as a private context would be
    servers = [
        start_server(tmp_path / "a.db", ports[0], environment={"DALGU_PUBLIC_URL": PRIVATE}),
        start_server(tmp_path / "b.db", ports[1]),
    ]
    try:
        yield f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}"
    finally:
        for server in servers:
            kill_server(server)


def test_a_real_source_stores_what_a_client_of_another_context_sends(
    brokers: tuple[str, str],
) -> None:
    """The source never sees the client's context, which it could not fetch: it is spoken to
    in the agent's vocabulary, and its answers are read in it."""
    import httpx

    broker, agent = brokers
    v1 = "/ngsi-ld/v1"
    # the agent's context, hosted by the source and fetched over HTTP by the broker
    hosted_at = httpx.post(f"{agent}{v1}/jsonldContexts", json={"@context": AGENT})
    assert hosted_at.status_code == 201
    agent_context = agent + hosted_at.headers["location"]
    lamp = {"id": L1, "type": "Device", "temp": {"type": "Property", "value": 20}}
    link = {"Link": LINK.format(agent_context)}
    assert httpx.post(f"{agent}{v1}/entities", json=lamp, headers=link).status_code == 201
    registration = {
        "type": "ContextSourceRegistration",
        "information": [{"entities": [{"id": L1, "type": IOT + "Device"}]}],
        "endpoint": agent,
        "mode": "redirect",
        "operations": ["redirectionOps"],
        "contextSourceInfo": [{"key": "jsonldContext", "value": agent_context}],
    }
    assert httpx.post(f"{broker}{v1}/csourceRegistrations", json=registration).status_code == 201
    client_at = httpx.post(f"{broker}{v1}/jsonldContexts", json={"@context": CLIENT})
    mine = {"Link": LINK.format(PRIVATE + client_at.headers["location"])}
    patched = httpx.patch(
        f"{broker}{v1}/entities/{L1}/attrs/turnOn", json={"value": "on"}, headers=mine
    )
    assert patched.status_code == 404  # the lamp has no switch yet: the agent says so
    appended = httpx.post(
        f"{broker}{v1}/entities/{L1}/attrs", json={"turnOn": {"value": "on"}}, headers=mine
    )
    assert appended.status_code == 204, appended.text
    by_iri = httpx.get(f"{agent}{v1}/entities/{L1}", params={"options": "keyValues"}).json()
    assert by_iri[IOT + "switch"] == "on"  # stored under the agent's IRI, not a default one
    got = httpx.get(
        f"{broker}{v1}/entities/{L1}", params={"options": "keyValues"}, headers=mine, timeout=10
    )
    assert got.json() == {"id": L1, "type": "Thing", "turnOn": "on", "temperature": 20}
