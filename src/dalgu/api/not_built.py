"""Resources of NGSI-LD V1.9.1 that Dalgu does not build (docs/conformance.md, "Not built").

Snapshots (clauses 5.16, 6.36–6.38) and EntityMaps (clauses 5.14, 6.35) are optional. Their
URLs answer OperationNotSupported (Table 5.5.2-1, 422 by Table 6.3.2-1) for every method, so a
client can tell "not supported here" from "no such snapshot" (a 404 ResourceNotFound).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dalgu.errors import OperationNotSupported

_METHODS = ["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"]
_NOT_BUILT = {
    "snapshots": "Snapshots (clauses 5.16, 6.36-6.38)",
    "entityMaps": "EntityMaps (clauses 5.14, 6.35)",
}


async def not_built(request: Request) -> Response:
    resource = request.url.path.removeprefix("/ngsi-ld/v1/").split("/", 1)[0]
    raise OperationNotSupported(f"{_NOT_BUILT[resource]} are not built in this broker")


def routes(v1: str) -> list[BaseRoute]:
    out: list[BaseRoute] = []
    for resource in _NOT_BUILT:
        out.append(Route(f"{v1}/{resource}", not_built, methods=_METHODS))
        out.append(Route(f"{v1}/{resource}/{{rest:path}}", not_built, methods=_METHODS))
    return out
