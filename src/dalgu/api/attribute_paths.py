"""Attribute names that are IRIs, in request paths: `/entities/{id}/attrs/{attr}`.

An attribute outside the client's `@context` is addressed by its IRI, percent-encoded in the
path (`/attrs/https%3A%2F%2Furi.etsi.org%2Fns%2Fon`). The server decodes the path before
routing, so the IRI's slashes became path separators: `{attr}` (one segment) could not match,
and `/entities/{id}` took the whole rest as an entity id (404). Here the attribute segment
is decoded with its slashes kept apart (as `ENCODED_SLASH`) for the routes to match it as one
segment, and `attribute_param` gives the handlers the IRI back.

Only a request whose raw path holds an encoded slash after `/attrs/` is rewritten: the check
is one search of the raw path for every other request.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from starlette.requests import Request
from starlette.types import Scope

#: stands for a slash of an attribute name while the path is routed (no decoded path holds
#: it: a NUL is refused in names)
ENCODED_SLASH = "\x00"
_ATTRS = b"/attrs/"


def with_attribute_segment(scope: Scope) -> Scope:
    """`scope` with its path's attribute segment made one segment, when it holds an encoded
    slash; else `scope` itself."""
    raw: bytes | None = scope.get("raw_path")
    if raw is None or b"%2" not in raw:
        return scope
    at = raw.rfind(_ATTRS)
    if at < 0:
        return scope
    rest = raw[at + len(_ATTRS) :].split(b"/")
    if not any(b"%2f" in part.lower() for part in rest):
        return scope
    head = unquote_to_bytes(raw[:at]).decode("utf-8", "replace")
    parts = [
        unquote_to_bytes(part).decode("utf-8", "replace").replace("/", ENCODED_SLASH)
        for part in rest
    ]
    return {**scope, "path": head + "/attrs/" + "/".join(parts)}


def attribute_param(request: Request) -> str:
    """The path's `attr` parameter, an IRI's slashes given back."""
    name: str = request.path_params["attr"]
    return name.replace(ENCODED_SLASH, "/")
