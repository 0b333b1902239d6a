"""FHIR patch (http://hl7.org/fhir/R4/http.html#patch), applied to the current version of a
resource: a JSON Patch document (RFC 6902, the `jsonpatch` library), which R4 asks servers to
support, or a JSON Merge Patch (RFC 7386), which Aidbox and the fhirpy client send (a partial
resource as `application/json`). FHIRPath Patch is not supported."""

from __future__ import annotations

from typing import Any

import jsonpatch
import jsonpointer

from dalgu.errors import BadRequestData, InvalidResource, UnsupportedMediaType
from dalgu.fhir.wire import json_text

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
PATCH_FORMATS = (JSON_PATCH, MERGE_PATCH)


def check_patch_media(media: str | None) -> None:
    """Refuse (415) a patch sent as anything but JSON Patch, JSON Merge Patch or plain JSON."""
    if media not in (*PATCH_FORMATS, "application/json"):
        raise UnsupportedMediaType(
            f"send a JSON Patch as {JSON_PATCH} or a JSON Merge Patch as {MERGE_PATCH}, not "
            f"{media or 'no content type'!r} (FHIRPath Patch is not supported)"
        )


def apply_patch(resource: dict[str, Any], media: str | None, document: Any) -> Any:
    """`resource` changed by `document` sent as `media` (checked by `check_patch_media`): plain
    JSON is a JSON Patch when it is an array and a merge patch when it is an object."""
    if media == JSON_PATCH or (media != MERGE_PATCH and isinstance(document, list)):
        return apply_json_patch(resource, document)
    if (
        isinstance(document, dict)
        and document.get("resourceType") == "Parameters"
        and resource.get("resourceType") != "Parameters"
    ):
        raise UnsupportedMediaType("FHIRPath Patch (a Parameters resource) is not supported")
    return apply_merge_patch(resource, document)


def apply_merge_patch(resource: dict[str, Any], patch: Any) -> dict[str, Any]:
    """`resource` with the JSON Merge Patch `patch` applied (a new document): a member set to
    null is removed, an object is merged member by member, anything else replaces. The patch
    may repeat the resource's type and id, never change them."""
    if not isinstance(patch, dict):
        raise BadRequestData("a JSON Merge Patch is an object")
    for key in ("resourceType", "id"):
        if key in patch and patch[key] != resource.get(key):
            raise BadRequestData(f"a patch cannot change the resource's {key}")
    merged = _merged(resource, patch)
    assert isinstance(merged, dict)
    return merged


def _merged(target: Any, patch: Any) -> Any:
    """RFC 7386's MergePatch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merged(result.get(key), value)
    return result


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
    document: Any = resource
    try:
        for position, operation in enumerate(operations):
            try:  # one by one, so that a failed test names its operation
                patch = jsonpatch.JsonPatch([operation])
                document = patch.apply(document, in_place=position > 0)
            except jsonpatch.JsonPatchTestFailed:
                raise InvalidResource(_test_failure(document, position, operation)) from None
        return document
    except jsonpatch.InvalidJsonPatch as exc:
        raise BadRequestData(f"not a valid JSON Patch: {exc}") from None
    except (jsonpatch.JsonPatchConflict, jsonpointer.JsonPointerException) as exc:
        raise InvalidResource(f"the patch does not apply to this resource: {exc}") from None
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise BadRequestData(f"not a valid JSON Patch: {exc}") from None


def _test_failure(document: Any, position: int, operation: dict[str, Any]) -> str:
    """What a failed `test` operation found, in JSON (never Python's reprs)."""
    path = str(operation.get("path"))
    try:
        found = json_text(jsonpointer.resolve_pointer(document, path))
    except jsonpointer.JsonPointerException:
        found = "nothing"
    expected = json_text(operation.get("value"))
    return f"the patch's test (operation {position}) failed: {path} is {found}, not {expected}"
