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
from dalgu.api.openapi_schemas import RESPONSES, SCHEMAS, media_types, ref

#: the OpenAPI version declared: one that the bundled Swagger UI reads (3.0.n)
OPENAPI_VERSION: Final = "3.0.3"
#: where the document and its page are served
DOCUMENT_PATH: Final = "/ngsi-ld/v1/openapi.json"
DOCS_PATH: Final = "/ngsi-ld/v1/docs"

_PROBLEM = {"$ref": "#/components/responses/Problem"}
_PARTIAL = {"$ref": "#/components/responses/BatchOperationResult"}
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
_DONE = {"204": {"description": "done"}}
_CREATED = {"201": {"description": "created (its URL in Location)"}}


def _found(description: str, schema: str, geo: str | None = None) -> dict[str, Any]:
    """A 200 answer whose body is `schema` (and `geo` as GeoJSON)."""
    content = media_types(ref(schema), geo=None if geo is None else ref(geo))
    return {"200": {"description": description, "content": content}}


#: the query parameters of Query Entities (clause 6.4.3.2), in the document's order
_ENTITY_QUERY = (
    *("id", "idPattern", "type", "attrs", "pick", "omit", "q"),
    *("georel", "geometry", "coordinates", "geoproperty", "geometryProperty", "scopeQ"),
    *("lang", "options", "format", "limit", "offset", "count", "expandValues", "jsonKeys"),
    *("orderBy", "orderFrom", "orderGeometry", "collation", "datasetId"),
)
#: the errors of a query that pages (403 TooManyResults for a `limit` past the maximum, or
#: TooComplexQuery) and may order by a collation this store lacks (422)
_LISTING = ("403", "422")


def _query(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "query", "schema": {"type": "string"}} for n in names]


def _op(
    summary: str,
    answers: dict[str, Any],
    *,
    body: Any = None,
    params: Any = (),
    errors: tuple[str, ...] = (),
) -> dict[str, Any]:
    """An operation answering `answers` when it succeeds, and ProblemDetails for 400 (any
    malformed request), 406 (an `Accept` it cannot answer), 503 (a `@context` that cannot be
    fetched, or the store out of service), 413 and 415 where it takes a body, 404 where its
    path names a resource, and `errors`."""
    statuses = {"400", "406", "503", *errors}
    if body is not None:
        statuses |= {"413", "415"}
    if any(p.get("in") == "path" for p in params):
        statuses.add("404")
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": [_TENANT, *params],
        "responses": {**answers, **{status: _PROBLEM for status in sorted(statuses)}},
    }
    if body is not None:  # clause 6.3.4: "just a 411 HTTP status code (without any payload)"
        op["responses"]["411"] = {"description": "no Content-Length and no chunked body"}
    if body is not None:
        op["requestBody"] = body
    return op


@cache
def openapi_document() -> bytes:
    listing = _query(
        *_ENTITY_QUERY,
        "join",
        "joinLevel",
        "containedBy",
        "local",
        "entityMap",
        "splitEntities",
        "entityMapLifetime",
    )
    updated = {
        **_DONE,
        "207": {
            "description": "some attributes were not",
            "content": {"application/json": {"schema": ref("UpdateResult")}},
        },
    }
    paths: dict[str, Any] = {
        "/ngsi-ld/v1/entities": {
            "post": _op("Create an entity", _CREATED, body=_BODY, errors=("409",)),
            "get": _op(
                "Query entities",
                _found("the entities", "EntityList", "FeatureCollection"),
                params=listing,
                errors=_LISTING,
            ),
            "delete": _op(
                "Purge entities",
                _DONE,
                params=_query(
                    "id", "idPattern", "type", "attrs", "q", "scopeQ", "keep", "drop", "options"
                ),
            ),
        },
        "/ngsi-ld/v1/entities/{entityId}": {
            "get": _op(
                "Retrieve an entity",
                _found("the entity", "Entity", "Feature"),
                params=[
                    _ID,
                    *_query("type", "attrs", "pick", "omit", "options", "format", "lang"),
                    *_query("geometryProperty", "expandValues", "jsonKeys", "datasetId"),
                    *_query("join", "joinLevel", "containedBy", "entityMap", "entityMapLifetime"),
                ],
                errors=("403",),
            ),
            "put": _op("Replace an entity", _DONE, body=_BODY, params=[_ID]),
            "patch": _op(
                "Merge into an entity",
                _DONE,
                body=_BODY,
                params=[_ID, *_query("options", "observedAt", "lang", "format")],
            ),
            "delete": _op("Delete an entity", _DONE, params=[_ID, *_query("type")]),
        },
        "/ngsi-ld/v1/entities/{entityId}/attrs": {
            "post": _op("Append attributes", updated, body=_BODY, params=[_ID, *_query("options")]),
            "patch": _op("Update attributes", updated, body=_BODY, params=[_ID]),
        },
        "/ngsi-ld/v1/entities/{entityId}/attrs/{attrId}": {
            "patch": _op("Partial attribute update", _DONE, body=_BODY, params=[_ID, _ATTR]),
            "put": _op("Replace an attribute", _DONE, body=_BODY, params=[_ID, _ATTR]),
            "delete": _op(
                "Delete an attribute", _DONE, params=[_ID, _ATTR, *_query("datasetId", "deleteAll")]
            ),
        },
        "/ngsi-ld/v1/entityOperations/query": {
            "post": _op(
                "Query entities (POST)",
                _found("the entities", "EntityList", "FeatureCollection"),
                body=_BODY,
                params=_query("limit", "offset", "count", "options", "format", "lang", "local"),
                errors=_LISTING,
            ),
        },
        "/ngsi-ld/v1/types": {
            "get": _op(
                "List entity types",
                _found("the types (with details=true, EntityType each)", "EntityTypes"),
                params=_query("details", "local"),
            )
        },
        "/ngsi-ld/v1/types/{type}": {
            "get": _op(
                "Entity type information",
                _found("the type", "EntityTypeInfo"),
                params=[_path_param("type"), *_query("local")],
            ),
        },
        "/ngsi-ld/v1/attributes": {
            "get": _op(
                "List attributes",
                _found("the attributes (with details=true, Attribute each)", "Attributes"),
                params=_query("details", "local"),
            ),
        },
        "/ngsi-ld/v1/attributes/{attrId}": {
            "get": _op(
                "Attribute information",
                _found("the attribute", "Attribute"),
                params=[_ATTR, *_query("local")],
            ),
        },
        "/ngsi-ld/v1/jsonldContexts": {
            "post": _op("Host a @context", _CREATED, body=_BODY, errors=("409",)),
            "get": _op(
                "List @contexts",
                _found("the hosted @contexts", "LdContextList"),
                params=_query("details", "kind"),
            ),
        },
        "/ngsi-ld/v1/jsonldContexts/{contextId}": {
            "get": _op(
                "Serve a @context",
                _found("the @context", "LdContext"),
                params=[_path_param("contextId"), *_query("details")],
                errors=("422",),
            ),
            "delete": _op(
                "Delete a @context",
                _DONE,
                params=[_path_param("contextId"), *_query("reload")],
            ),
        },
        "/ngsi-ld/v1/info/sourceIdentity": {
            "get": _op(
                "This broker's ContextSourceIdentity (clause 5.15.1)",
                _found("this broker", "ContextSourceIdentity"),
            )
        },
    }
    paths.update(_subscription_paths())
    paths.update(_temporal_paths())
    paths.update(_registration_paths())
    batch_answers: dict[str, dict[str, Any]] = {
        "create": {"201": {"description": "all created", "content": media_types(ref("EntityIds"))}},
        "upsert": {
            "201": {"description": "some created", "content": media_types(ref("EntityIds"))},
            **_DONE,
        },
    }
    for name in ("create", "upsert", "update", "merge", "delete"):
        paths[f"/ngsi-ld/v1/entityOperations/{name}"] = {
            "post": _op(
                f"Batch {name}",
                {**batch_answers.get(name, _DONE), "207": _PARTIAL},
                body=_ARRAY_BODY,
                params=_query("options"),
            )
        }
    for path, ops in paths.items():
        if path.startswith(("/ngsi-ld/v1/entities", "/ngsi-ld/v1/entityOperations")):
            for method, op in ops.items():  # distributed operations (clause 4.3.6)
                op["parameters"] += [*_query("local"), _VIA]
                op["responses"].update(
                    {
                        "502": {"description": "a context source could not be reached"},
                        "504": {"description": "a context source did not answer in time"},
                        "508": _PROBLEM,
                    }
                )
                if method != "get" and "207" not in op["responses"]:
                    # a write split over context sources, of which some failed
                    op["responses"].update({"207": _PARTIAL, "409": _PROBLEM})
        for op in ops.values():
            op["parameters"] = _unique(op["parameters"])
    document = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Dalgu NGSI-LD API",
            "version": __version__,
            "description": "ETSI GS CIM 009 NGSI-LD context broker of Dalgu.",
        },
        "paths": paths,
        "components": {
            "schemas": {
                **SCHEMAS,
                "EntityTypes": {"oneOf": [ref("EntityTypeList"), _array_of("EntityType")]},
                "Attributes": {"oneOf": [ref("AttributeList"), _array_of("Attribute")]},
            },
            "responses": RESPONSES,
        },
    }
    return orjson.dumps(document)


def _array_of(name: str) -> dict[str, Any]:
    return {"type": "array", "items": ref(name)}


def _unique(params: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each (name, in) once: OpenAPI refuses an operation that lists one twice."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for param in params:
        key = (param["name"], param["in"])
        if key not in seen:
            seen.add(key)
            kept.append(param)
    return kept


def _registration_paths() -> dict[str, Any]:
    """Context Source Registrations and their subscriptions (clauses 6.8–6.11)."""
    sub_id = _path_param("subscriptionId")
    reg_id = _path_param("registrationId")
    discovery = _query(
        *("id", "type", "idPattern", "attrs", "q", "csf"),
        *("georel", "geometry", "coordinates", "geoproperty"),
        *("timeproperty", "timerel", "timeAt", "endTimeAt", "scopeQ", "datasetId"),
        *("options", "limit", "offset", "count"),
    )
    subscriptions = _found("the subscriptions", "SubscriptionList")
    return {
        "/ngsi-ld/v1/csourceRegistrations": {
            "post": _op("Register a context source", _CREATED, body=_BODY, errors=("409",)),
            "get": _op(
                "Discover context source registrations",
                _found("the registrations", "CSourceRegistrationList"),
                params=discovery,
                errors=("403",),
            ),
        },
        "/ngsi-ld/v1/csourceRegistrations/{registrationId}": {
            "get": _op(
                "Retrieve a context source registration",
                _found("the registration", "CSourceRegistration"),
                params=[reg_id, *_query("options")],
            ),
            "patch": _op(
                "Update a context source registration",
                _DONE,
                body=_BODY,
                params=[reg_id],
                errors=("409",),
            ),
            "delete": _op("Delete a context source registration", _DONE, params=[reg_id]),
        },
        "/ngsi-ld/v1/csourceSubscriptions": {
            "post": _op(
                "Subscribe to context source registrations", _CREATED, body=_BODY, errors=("409",)
            ),
            "get": _op(
                "List context source registration subscriptions",
                subscriptions,
                params=_query("limit", "offset", "count", "options"),
                errors=("403",),
            ),
        },
        "/ngsi-ld/v1/csourceSubscriptions/{subscriptionId}": {
            "get": _op(
                "Retrieve a context source registration subscription",
                _found("the subscription", "Subscription"),
                params=[sub_id, *_query("options")],
            ),
            "patch": _op(
                "Update a context source registration subscription",
                _DONE,
                body=_BODY,
                params=[sub_id],
            ),
            "delete": _op(
                "Delete a context source registration subscription", _DONE, params=[sub_id]
            ),
        },
    }


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _subscription_paths() -> dict[str, Any]:
    sub_id = _path_param("subscriptionId")
    return {
        "/ngsi-ld/v1/subscriptions": {
            "post": _op("Create a subscription", _CREATED, body=_BODY, errors=("409", "422")),
            "get": _op(
                "Query subscriptions",
                _found("the subscriptions", "SubscriptionList"),
                params=_query("limit", "offset", "count", "options"),
                errors=("403",),
            ),
        },
        "/ngsi-ld/v1/subscriptions/{subscriptionId}": {
            "get": _op(
                "Retrieve a subscription",
                _found("the subscription", "Subscription"),
                params=[sub_id, *_query("options")],
            ),
            "patch": _op(
                "Update a subscription", _DONE, body=_BODY, params=[sub_id], errors=("422",)
            ),
            "delete": _op("Delete a subscription", _DONE, params=[sub_id]),
        },
    }


def _temporal_paths() -> dict[str, Any]:
    temporal = _query(
        *("timerel", "timeAt", "endTimeAt", "timeproperty"),
        *("lastN", "aggrMethods", "aggrPeriodDuration"),
    )
    listing = _query(*_ENTITY_QUERY, "splitEntities")
    entity_id = _path_param("entityId")
    attr_id = _path_param("attrId")
    instance_id = _path_param("instanceId")
    base = "/ngsi-ld/v1/temporal/entities"
    evolutions = _found("the entities' temporal evolution", "TemporalEntityList")
    return {
        base: {
            "get": _op(
                "Query the temporal evolution of entities",
                evolutions,
                params=[*temporal, *listing],
                errors=_LISTING,
            ),
            "post": _op(
                "Create or update the temporal evolution of an entity",
                {**_CREATED, **_DONE},
                body=_BODY,
            ),
        },
        "/ngsi-ld/v1/temporal/entityOperations/query": {
            "post": _op(
                "Query the temporal evolution of entities (POST)",
                evolutions,
                body=_BODY,
                params=_query("limit", "offset", "count", "options", "format", "lang"),
                errors=_LISTING,
            ),
        },
        base + "/{entityId}": {
            "get": _op(
                "Retrieve the temporal evolution of an entity",
                _found("the entity's temporal evolution", "TemporalEntity"),
                params=[
                    entity_id,
                    *temporal,
                    *_query("attrs", "pick", "omit", "datasetId", "lang", "options", "format"),
                ],
                errors=("403",),
            ),
            "delete": _op("Delete the temporal evolution of an entity", _DONE, params=[entity_id]),
        },
        base + "/{entityId}/attrs": {
            "post": _op(
                "Add attribute instances to the temporal evolution of an entity",
                _DONE,
                body=_BODY,
                params=[entity_id],
            ),
        },
        base + "/{entityId}/attrs/{attrId}": {
            "delete": _op(
                "Delete an attribute's temporal evolution",
                _DONE,
                params=[entity_id, attr_id, *_query("datasetId", "deleteAll")],
            ),
        },
        base + "/{entityId}/attrs/{attrId}/{instanceId}": {
            "patch": _op(
                "Modify an attribute instance",
                _DONE,
                body=_BODY,
                params=[entity_id, attr_id, instance_id],
            ),
            "delete": _op(
                "Delete an attribute instance", _DONE, params=[entity_id, attr_id, instance_id]
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
