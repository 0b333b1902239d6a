"""The CapabilityStatement (`GET /fhir/metadata`), made from what the code supports: the
resource types of `model`, the search parameters of `searchparams`, the result parameters of
`search`, and the interactions the service implements."""

from __future__ import annotations

from typing import Any

from dalgu.fhir.model import RESOURCE_TYPES, instant
from dalgu.fhir.patch import PATCH_FORMATS
from dalgu.fhir.searchparams import COMMON, PARAMETERS

READ_ONLY = frozenset({"AuditEvent"})  # written by the server itself, never through the API
ALL_INTERACTIONS = (
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
)
READ_INTERACTIONS = ("read", "vread", "history-instance", "history-type", "search-type")


def capability_statement(base: str, version: str) -> dict[str, Any]:
    resources = []
    for type_name in RESOURCE_TYPES:
        interactions = READ_INTERACTIONS if type_name in READ_ONLY else ALL_INTERACTIONS
        params = {**COMMON, **PARAMETERS.get(type_name, {})}
        includes = [
            f"{type_name}:{p.name}"
            for p in PARAMETERS.get(type_name, {}).values()
            if p.is_reference
        ]
        revincludes = [
            f"{source}:{p.name}"
            for source in RESOURCE_TYPES
            for p in PARAMETERS.get(source, {}).values()
            if p.refers_to(type_name)
        ]
        resource: dict[str, Any] = {
            "type": type_name,
            "profile": f"http://hl7.org/fhir/StructureDefinition/{type_name}",
            "interaction": [{"code": code} for code in interactions],
            "versioning": "versioned-update",
            "readHistory": True,
            "updateCreate": type_name not in READ_ONLY,
            "conditionalCreate": type_name not in READ_ONLY,
            "conditionalRead": "not-match",
            "conditionalUpdate": False,
            "conditionalDelete": "not-supported",
            "searchInclude": includes,
            "searchRevInclude": revincludes,
            "searchParam": [
                {"name": p.name, "definition": p.definition, "type": p.type}
                for p in params.values()
            ],
        }
        # FHIR JSON has no empty arrays (json.html): a type with no reference parameter has
        # no searchInclude at all
        resources.append({k: v for k, v in resource.items() if v != []})
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": instant(),
        "publisher": "Dalgu",
        "kind": "instance",
        "software": {"name": "Dalgu", "version": version},
        "implementation": {"description": "Dalgu FHIR R4 server", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "patchFormat": list(PATCH_FORMATS),
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Access is decided by the caller's role and the patient's active Consent; "
                    "every interaction is recorded as an AuditEvent. Result parameters: "
                    "_count, _offset, _sort (_id, _lastUpdated, date parameters), _include, "
                    "_revinclude, _total, _summary (count on searches; true, text, data and "
                    "false on reads and searches, subsets tagged SUBSETTED), _elements."
                ),
                "resource": resources,
                "interaction": [{"code": "batch"}, {"code": "transaction"}],
                "searchParam": [
                    {"name": p.name, "definition": p.definition, "type": p.type}
                    for p in COMMON.values()
                ],
            }
        ],
    }
