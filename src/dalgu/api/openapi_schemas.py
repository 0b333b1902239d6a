"""The shapes of the NGSI-LD API's bodies in Dalgu's OpenAPI document (`components`), as
clause 5.2 defines them and Dalgu answers them: the data types a client generated from the
document reads, and the responses the operations share.

They are as loose as the representations allow and no looser: an entity is an object whose
`id` is a string and whose `type` is a name or a list of names (neither is required: `pick`
may leave them out; concise and simplified attributes are any JSON); the lists and results
have the members the clauses name, required where Dalgu always sends them.
"""

from __future__ import annotations

from typing import Any, Final

#: a response body the document names by reference
Ref = dict[str, str]


def ref(name: str) -> Ref:
    return {"$ref": f"#/components/schemas/{name}"}


def _array(items: Any) -> dict[str, Any]:
    return {"type": "array", "items": items}


_STRINGS = _array({"type": "string"})
_NAMES = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}

SCHEMAS: Final[dict[str, Any]] = {
    "ProblemDetails": {
        "description": "RFC 9457 ProblemDetails with an NGSI-LD error type (clause 5.5.11)",
        "type": "object",
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
        },
        "required": ["type"],
    },
    "Entity": {
        "description": "An entity in the normalized, concise or simplified representation "
        "(clause 5.2.4); `pick` may leave out `id` and `type`",
        "type": "object",
        "properties": {"id": {"type": "string"}, "type": _NAMES, "@context": {}},
    },
    "EntityList": _array(ref("Entity")),
    "Feature": {
        "description": "An entity as a GeoJSON Feature (clause 4.5.16)",
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string", "enum": ["Feature"]},
            "geometry": {"nullable": True},
            "properties": {"type": "object"},
        },
        "required": ["type"],
    },
    "FeatureCollection": {
        "description": "Entities as a GeoJSON FeatureCollection (clause 4.5.16)",
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": _array(ref("Feature")),
        },
        "required": ["type", "features"],
    },
    "TemporalEntity": {
        "description": "An entity's temporal evolution, normalized, simplified or aggregated "
        "(clause 5.2.37)",
        "type": "object",
        "properties": {"id": {"type": "string"}, "type": _NAMES},
    },
    "TemporalEntityList": _array(ref("TemporalEntity")),
    "BatchEntityError": {
        "type": "object",
        "properties": {
            "entityId": {
                "type": "string",
                "format": "uri",
                "nullable": True,
                "description": "the failed item's id; urn:dalgu:batch-item:<position> for an "
                "item with no id that is a URI (its place in the request array, from 0); null "
                "only for a context source's failure in a Purge Entities, which names no entity",
            },
            "registrationId": {"type": "string"},
            "error": ref("ProblemDetails"),
        },
        "required": ["error"],
    },
    "BatchOperationResult": {
        "description": "Clause 5.2.16",
        "type": "object",
        "properties": {"success": _STRINGS, "errors": _array(ref("BatchEntityError"))},
        "required": ["success", "errors"],
    },
    "EntityIds": {"description": "The ids of the entities created", **_STRINGS},
    "UpdateResult": {
        "description": "Clause 5.2.18",
        "type": "object",
        "properties": {
            "updated": _STRINGS,
            "notUpdated": _array(
                {
                    "type": "object",
                    "properties": {
                        "attributeName": {"type": "string"},
                        "reason": {"type": "string"},
                        "registrationId": {"type": "string"},
                    },
                    "required": ["attributeName", "reason"],
                }
            ),
        },
        "required": ["updated", "notUpdated"],
    },
    "EntityTypeList": {
        "description": "Clause 5.2.24",
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string", "enum": ["EntityTypeList"]},
            "typeList": _STRINGS,
        },
        "required": ["id", "type", "typeList"],
    },
    "EntityType": {
        "description": "Clause 5.2.25",
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string", "enum": ["EntityType"]},
            "typeName": {"type": "string"},
            "attributeNames": _STRINGS,
        },
        "required": ["id", "type", "typeName", "attributeNames"],
    },
    "EntityTypeInfo": {
        "description": "Clause 5.2.26",
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string", "enum": ["EntityTypeInfo"]},
            "typeName": {"type": "string"},
            "entityCount": {"type": "integer"},
            "attributeDetails": _array({"type": "object"}),
        },
        "required": ["id", "type", "typeName", "entityCount", "attributeDetails"],
    },
    "AttributeList": {
        "description": "Clause 5.2.28",
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string", "enum": ["AttributeList"]},
            "attributeList": _STRINGS,
        },
        "required": ["id", "type", "attributeList"],
    },
    "Attribute": {
        "description": "Clause 5.2.29",
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string", "enum": ["Attribute"]},
            "attributeName": {"type": "string"},
            "attributeCount": {"type": "integer"},
            "attributeTypes": _STRINGS,
            "typeNames": _STRINGS,
        },
        "required": ["id", "type", "attributeName"],
    },
    "Subscription": {
        "description": "Clause 5.2.12",
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string", "enum": ["Subscription"]},
            "notification": {"type": "object"},
        },
        "required": ["id", "type"],
    },
    "SubscriptionList": _array(ref("Subscription")),
    "CSourceRegistration": {
        "description": "Clause 5.2.9",
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string", "enum": ["ContextSourceRegistration"]},
            "endpoint": {"type": "string"},
            "information": _array({"type": "object"}),
        },
        "required": ["id", "type"],
    },
    "CSourceRegistrationList": _array(ref("CSourceRegistration")),
    "ContextSourceIdentity": {
        "description": "Clause 5.2.40",
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string", "enum": ["ContextSourceIdentity"]},
            "contextSourceAlias": {"type": "string"},
        },
        "required": ["id", "type", "contextSourceAlias"],
    },
    "LdContext": {
        "description": "A hosted @context document, or with `details=true` what is kept of it "
        "(clause 5.13)",
        "type": "object",
    },
    "LdContextList": {
        "description": "The hosted @contexts' URLs, or with `details=true` what is kept of "
        "each (clause 5.13.3)",
        "type": "array",
        "items": {"oneOf": [{"type": "string"}, {"type": "object"}]},
    },
}

#: the media types an answer carrying NGSI-LD data is given in (clause 6.3.5)
JSON_TYPES: Final = ("application/json", "application/ld+json")


def media_types(schema: Any, *, geo: Any = None) -> dict[str, Any]:
    """A response body of `schema` in JSON and JSON-LD, and `geo` in GeoJSON if given."""
    content = {kind: {"schema": schema} for kind in JSON_TYPES}
    if geo is not None:
        content["application/geo+json"] = {"schema": geo}
    return content


RESPONSES: Final[dict[str, Any]] = {
    "Problem": {
        "description": "ProblemDetails with an NGSI-LD error type",
        "content": {"application/json": {"schema": ref("ProblemDetails")}},
    },
    "BatchOperationResult": {
        "description": "some parts failed (a context source's, or a batch's entities)",
        "content": {"application/json": {"schema": ref("BatchOperationResult")}},
    },
}
