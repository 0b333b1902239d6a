"""Commands sent to the IoT Agent's own port, as the FIWARE tutorials send them.

An IoT Agent in NGSI-LD mode is the context source of its devices' commands, and serves
`PATCH /ngsi-ld/v1/entities/{id}/attrs/{attr}` (and `.../attrs`) on its north port: the
context broker forwards a command there, and the FIWARE tutorials also send it there straight
(`fiware-service` naming the tenant). Dalgu's gateway runs in its broker, so a PATCH on the
broker's own API already sends the command; on the provisioning port this route sends it the
same way. Only commands are taken here: any other attribute is the broker's to change. The
tenant is `NGSILD-Tenant`, else `fiware-service`, as the agents' context server reads them.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dalgu.api.edge import runtime
from dalgu.errors import BadRequestData, OperationNotSupported, ResourceNotFound
from dalgu.gateway.http import fiware_service, json_body

_BASE = "/ngsi-ld/v1/entities/{entity_id}/attrs"


def _value(attribute: Any) -> Any:
    """A command's value from its NGSI-LD attribute (or the bare value)."""
    if isinstance(attribute, dict) and ("value" in attribute or "json" in attribute):
        return attribute.get("value", attribute.get("json"))
    return attribute


def _tenant(request: Request) -> str:
    """The tenant a command is for: `NGSILD-Tenant` (as given: NGSI-LD tenants are
    case-sensitive) before `fiware-service` (lower-cased, as provisioning keeps it), as the IoT
    Agent library's NGSI-LD context server reads them (`getLDTenant`), so a broker forwarding
    the command with the NGSI-LD header reaches the device. Both naming different tenants are
    refused, as on the NGSI-LD API."""
    lines = request.headers.getlist("ngsild-tenant")
    if not lines:
        return fiware_service(request)
    if len(lines) > 1 or not lines[0]:
        raise BadRequestData("a request names one NGSILD-Tenant")
    tenant = lines[0]
    if "fiware-service" in request.headers and fiware_service(request) != tenant.lower():
        raise BadRequestData(
            "the NGSILD-Tenant and Fiware-Service headers name two tenants: a request has one "
            "(send NGSILD-Tenant alone)"
        )
    return tenant


async def _send(request: Request, commands: dict[str, Any]) -> Response:
    devices = runtime(request).devices
    if devices is None:
        raise OperationNotSupported("this store keeps no device registry")
    tenant = _tenant(request)
    entity_id = request.path_params["entity_id"]
    for name, attribute in commands.items():
        if not await devices.commands.send(tenant, entity_id, name, _value(attribute)):
            raise ResourceNotFound(f"{name!r} is not a command of a device behind {entity_id}")
    return Response(status_code=204)


async def patch_command(request: Request) -> Response:
    """`PATCH .../attrs/{attr}` with the command's attribute: send that command."""
    return await _send(request, {request.path_params["attr"]: await json_body(request)})


async def patch_commands(request: Request) -> Response:
    """`PATCH .../attrs` with `{command: attribute, ...}`: send each command."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise BadRequestData("the body must be an object of command attributes")
    commands = {k: v for k, v in body.items() if k not in ("id", "type", "@context")}
    if not commands:
        raise BadRequestData("the body names no command")
    return await _send(request, commands)


def routes() -> list[Route]:
    """The command routes of the north port (not of the broker's API port, which has its own)."""
    return [
        Route(_BASE + "/{attr}", patch_command, methods=["PATCH"]),
        Route(_BASE, patch_commands, methods=["PATCH"]),
    ]
