"""FHIR patch (http://hl7.org/fhir/R4/http.html#patch) with a JSON Patch document (RFC 6902),
applied by the `jsonpatch` library to the current version of a resource."""

from __future__ import annotations

from typing import Any

import jsonpatch
import jsonpointer

from dalgu.errors import BadRequestData, InvalidResource

JSON_PATCH = "application/json-patch+json"


def apply_json_patch(resource: dict[str, Any], operations: Any) -> Any:
    """`resource` with `operations` applied (a new document; `resource` is left as it is).

    A document that is not a JSON Patch is a 400; a patch that does not apply to this resource
    (a failed `test`, a path that is not there) is a 422, as for any content the server
    cannot process.
    """
    if not isinstance(operations, list) or not operations:
        raise BadRequestData("a JSON Patch is a non-empty array of operations")
    if not all(isinstance(op, dict) for op in operations):
        raise BadRequestData("each operation of a JSON Patch is an object")
    try:
        patch = jsonpatch.JsonPatch(operations)
        return patch.apply(resource, in_place=False)
    except jsonpatch.InvalidJsonPatch as exc:
        raise BadRequestData(f"not a valid JSON Patch: {exc}") from None
    except jsonpatch.JsonPatchTestFailed as exc:
        raise InvalidResource(f"the patch's test failed: {exc}") from None
    except (jsonpatch.JsonPatchConflict, jsonpointer.JsonPointerException) as exc:
        raise InvalidResource(f"the patch does not apply to this resource: {exc}") from None
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise BadRequestData(f"not a valid JSON Patch: {exc}") from None
