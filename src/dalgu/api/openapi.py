"""The OpenAPI document of Dalgu's NGSI-LD API and a docs page that renders it.

The document declares OpenAPI 3.0.3: it uses nothing that 3.1 added (no `null` types, `const`,
`examples` or webhooks), and the bundled Swagger UI (`swagger-ui-bundle`, Swagger UI 4) renders
3.0.n only; a 3.1 document is refused with "does not specify a valid version field".
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from dalgu import __version__

#: the OpenAPI version declared: one that the bundled Swagger UI reads (3.0.n)
OPENAPI_VERSION: Final = "3.0.3"
#: where the document and its page are served
DOCUMENT_PATH: Final = "/ngsi-ld/v1/openapi.json"
DOCS_PATH: Final = "/ngsi-ld/v1/docs"

_PROBLEM = {"$ref": "#/components/responses/Problem"}
_ID = {"name": "entityId", "in": "path", "required": True, "schema": {"type": "string"}}
_ATTR = {"name": "attrId", "in": "path", "required": True, "schema": {"type": "string"}}
_TENANT = {"name": "NGSILD-Tenant", "in": "header", "schema": {"type": "string"}}
#: the brokers a distributed request has passed (clause 4.3.6.4); 508 if it names this one
_VIA = {"name": "Via", "in": "header", "schema": {"type": "string"}}
_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "object"}},
        "application/ld+json": {"schema": {"type": "object"}},
    },
}
_ARRAY_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
        "application/ld+json": {"schema": {"type": "array", "items": {"type": "object"}}},
    },
}


#: the query parameters of Query Entities (clause 6.4.3.2), in the document's order
_ENTITY_QUERY = (
    *("id", "idPattern", "type", "attrs", "pick", "omit", "q"),
    *("georel", "geometry", "coordinates", "geoproperty", "scopeQ"),
    *("lang", "options", "format", "limit", "offset", "count"),
    *("orderBy", "orderFrom", "orderGeometry", "collation"),
)


def _query(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "query", "schema": {"type": "string"}} for n in names]


def _op(summary: str, ok: str, *, body: Any = None, params: Any = ()) -> dict[str, Any]:
    responses: dict[str, Any] = {ok: {"description": "success"}}
    for status in ("400", "404", "406", "409", "413", "415", "422"):
        responses[status] = _PROBLEM
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": [_TENANT, *params],
        "responses": responses,
    }
    if body is not None:
        op["requestBody"] = body
    return op


@cache
def openapi_document() -> bytes:
    listing = _query(*_ENTITY_QUERY, "join", "joinLevel", "containedBy")
    paths: dict[str, Any] = {
        "/ngsi-ld/v1/entities": {
            "post": _op("Create an entity", "201", body=_BODY),
            "get": _op("Query entities", "200", params=listing),
            "delete": _op(
                "Purge entities",
                "204",
                params=_query(
                    "id", "idPattern", "type", "attrs", "q", "scopeQ", "keep", "drop", "options"
                ),
            ),
        },
        "/ngsi-ld/v1/entities/{entityId}": {
            "get": _op(
                "Retrieve an entity",
                "200",
                params=[_ID, *_query("attrs", "pick", "omit", "options", "lang")],
            ),
            "put": _op("Replace an entity", "204", body=_BODY, params=[_ID]),
            "patch": _op("Merge into an entity", "204", body=_BODY, params=[_ID]),
            "delete": _op("Delete an entity", "204", params=[_ID]),
        },
        "/ngsi-ld/v1/entities/{entityId}/attrs": {
            "post": _op("Append attributes", "204", body=_BODY, params=[_ID, *_query("options")]),
            "patch": _op("Update attributes", "204", body=_BODY, params=[_ID]),
        },
        "/ngsi-ld/v1/entities/{entityId}/attrs/{attrId}": {
            "patch": _op("Partial attribute update", "204", body=_BODY, params=[_ID, _ATTR]),
            "put": _op("Replace an attribute", "204", body=_BODY, params=[_ID, _ATTR]),
            "delete": _op(
                "Delete an attribute", "204", params=[_ID, _ATTR, *_query("datasetId", "deleteAll")]
            ),
        },
        "/ngsi-ld/v1/entityOperations/query": {
            "post": _op(
                "Query entities (POST)",
                "200",
                body=_BODY,
                params=_query("limit", "offset", "count", "options"),
            ),
        },
        "/ngsi-ld/v1/types": {"get": _op("List entity types", "200", params=_query("details"))},
        "/ngsi-ld/v1/types/{type}": {
            "get": _op(
                "Entity type information",
                "200",
                params=[
                    {"name": "type", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
            ),
        },
        "/ngsi-ld/v1/attributes": {
            "get": _op("List attributes", "200", params=_query("details")),
        },
        "/ngsi-ld/v1/attributes/{attrId}": {
            "get": _op("Attribute information", "200", params=[_ATTR]),
        },
        "/ngsi-ld/v1/jsonldContexts": {
            "post": _op("Host a @context", "201", body=_BODY),
            "get": _op("List @contexts", "200", params=_query("details", "kind")),
        },
        "/ngsi-ld/v1/jsonldContexts/{contextId}": {
            "get": _op(
                "Serve a @context",
                "200",
                params=[
                    {
                        "name": "contextId",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
            ),
            "delete": _op(
                "Delete a @context",
                "204",
                params=[
                    {
                        "name": "contextId",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
            ),
        },
    }
    paths["/ngsi-ld/v1/info/sourceIdentity"] = {
        "get": _op("This broker's ContextSourceIdentity (clause 5.15.1)", "200")
    }
    paths.update(_subscription_paths())
    paths.update(_temporal_paths())
    paths.update(_registration_paths())
    for name in ("create", "upsert", "update", "merge", "delete"):
        paths[f"/ngsi-ld/v1/entityOperations/{name}"] = {
            "post": _op(f"Batch {name}", "200", body=_ARRAY_BODY, params=_query("options"))
        }
    for path, ops in paths.items():
        if path.startswith(("/ngsi-ld/v1/entities", "/ngsi-ld/v1/entityOperations")):
            for op in ops.values():  # distributed operations (clause 4.3.6)
                op["parameters"] += [*_query("local"), _VIA]
                op["responses"].update(
                    {
                        "502": {"description": "a context source could not be reached"},
                        "504": {"description": "a context source did not answer in time"},
                        "508": _PROBLEM,
                    }
                )
    for ops in paths.values():
        for op in ops.values():
            op["responses"].update(
                {
                    "201": {"description": "created"},
                    "204": {"description": "done"},
                    "207": {"description": "partial success"},
                }
            )
    document = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Dalgu NGSI-LD API",
            "version": __version__,
            "description": "ETSI GS CIM 009 NGSI-LD context broker of Dalgu.",
        },
        "paths": paths,
        "components": {
            "responses": {
                "Problem": {
                    "description": "RFC 9457 ProblemDetails with an NGSI-LD error type",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "type": {"type": "string"},
                                    "title": {"type": "string"},
                                    "status": {"type": "integer"},
                                    "detail": {"type": "string"},
                                },
                                "required": ["type"],
                            }
                        }
                    },
                }
            }
        },
    }
    return orjson.dumps(document)


def _registration_paths() -> dict[str, Any]:
    """Context Source Registrations and their subscriptions (clauses 6.8–6.11)."""
    sub_id = {
        "name": "subscriptionId",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    reg_id = {
        "name": "registrationId",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    discovery = _query(
        "id",
        "type",
        "idPattern",
        "attrs",
        "q",
        "csf",
        "georel",
        "geometry",
        "coordinates",
        "geoproperty",
        "timeproperty",
        "timerel",
        "timeAt",
        "endTimeAt",
        "scopeQ",
        "datasetId",
        "options",
        "limit",
        "offset",
        "count",
    )
    return {
        "/ngsi-ld/v1/csourceRegistrations": {
            "post": _op("Register a context source", "201", body=_BODY),
            "get": _op("Discover context source registrations", "200", params=discovery),
        },
        "/ngsi-ld/v1/csourceRegistrations/{registrationId}": {
            "get": _op(
                "Retrieve a context source registration",
                "200",
                params=[reg_id, *_query("options")],
            ),
            "patch": _op(
                "Update a context source registration", "204", body=_BODY, params=[reg_id]
            ),
            "delete": _op("Delete a context source registration", "204", params=[reg_id]),
        },
        "/ngsi-ld/v1/csourceSubscriptions": {
            "post": _op("Subscribe to context source registrations", "201", body=_BODY),
            "get": _op(
                "List context source registration subscriptions",
                "200",
                params=_query("limit", "offset", "count", "options"),
            ),
        },
        "/ngsi-ld/v1/csourceSubscriptions/{subscriptionId}": {
            "get": _op(
                "Retrieve a context source registration subscription",
                "200",
                params=[sub_id, *_query("options")],
            ),
            "patch": _op(
                "Update a context source registration subscription",
                "204",
                body=_BODY,
                params=[sub_id],
            ),
            "delete": _op(
                "Delete a context source registration subscription", "204", params=[sub_id]
            ),
        },
    }


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _subscription_paths() -> dict[str, Any]:
    sub_id = _path_param("subscriptionId")
    return {
        "/ngsi-ld/v1/subscriptions": {
            "post": _op("Create a subscription", "201", body=_BODY),
            "get": _op(
                "Query subscriptions", "200", params=_query("limit", "offset", "count", "options")
            ),
        },
        "/ngsi-ld/v1/subscriptions/{subscriptionId}": {
            "get": _op("Retrieve a subscription", "200", params=[sub_id, *_query("options")]),
            "patch": _op("Update a subscription", "204", body=_BODY, params=[sub_id]),
            "delete": _op("Delete a subscription", "204", params=[sub_id]),
        },
    }


def _temporal_paths() -> dict[str, Any]:
    temporal = _query(
        *("timerel", "timeAt", "endTimeAt", "timeproperty"),
        *("lastN", "aggrMethods", "aggrPeriodDuration"),
    )
    listing = _query(*_ENTITY_QUERY, "datasetId")
    entity_id = _path_param("entityId")
    attr_id = _path_param("attrId")
    instance_id = _path_param("instanceId")
    base = "/ngsi-ld/v1/temporal/entities"
    return {
        base: {
            "get": _op(
                "Query the temporal evolution of entities", "200", params=[*temporal, *listing]
            ),
            "post": _op("Create or update the temporal evolution of an entity", "201", body=_BODY),
        },
        "/ngsi-ld/v1/temporal/entityOperations/query": {
            "post": _op(
                "Query the temporal evolution of entities (POST)",
                "200",
                body=_BODY,
                params=_query("limit", "offset", "count", "options", "format"),
            ),
        },
        base + "/{entityId}": {
            "get": _op(
                "Retrieve the temporal evolution of an entity",
                "200",
                params=[
                    entity_id,
                    *temporal,
                    *_query("attrs", "pick", "omit", "datasetId", "lang", "options", "format"),
                ],
            ),
            "delete": _op("Delete the temporal evolution of an entity", "204", params=[entity_id]),
        },
        base + "/{entityId}/attrs": {
            "post": _op(
                "Add attribute instances to the temporal evolution of an entity",
                "204",
                body=_BODY,
                params=[entity_id],
            ),
        },
        base + "/{entityId}/attrs/{attrId}": {
            "delete": _op(
                "Delete an attribute's temporal evolution",
                "204",
                params=[entity_id, attr_id, *_query("datasetId", "deleteAll")],
            ),
        },
        base + "/{entityId}/attrs/{attrId}/{instanceId}": {
            "patch": _op(
                "Modify an attribute instance",
                "204",
                body=_BODY,
                params=[entity_id, attr_id, instance_id],
            ),
            "delete": _op(
                "Delete an attribute instance", "204", params=[entity_id, attr_id, instance_id]
            ),
        },
    }


async def document(request: Request) -> Response:
    return Response(openapi_document(), media_type="application/json")


async def docs_page(request: Request) -> Response:
    """Swagger UI (served from the swagger-ui-bundle package, no network) on openapi.json.

    Its URLs are absolute: the page is also answered at `docs/` (a trailing slash is trimmed
    before routing), where relative ones would resolve under `docs/docs/`."""
    return HTMLResponse(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Dalgu NGSI-LD API</title>"
        f"<link rel='stylesheet' href='{DOCS_PATH}/static/swagger-ui.css'></head><body>"
        "<div id='swagger-ui'></div>"
        f"<script src='{DOCS_PATH}/static/swagger-ui-bundle.js'></script>"
        f"<script>SwaggerUIBundle({{url: '{DOCUMENT_PATH}', dom_id: '#swagger-ui'}});</script>"
        "</body></html>"
    )


def static_files() -> StaticFiles:
    import swagger_ui_bundle

    return StaticFiles(directory=swagger_ui_bundle.swagger_ui_path)
