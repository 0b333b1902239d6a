"""HTTP side of the gateway: the IoT Agent provisioning API and the HTTP southbound.

Paths, parameters and headers are the FIWARE IoT Agents' (`/iot/services`, `/iot/devices`,
`/iot/d` for UltraLight 2.0, `/iot/json` for JSON; `fiware-service` is the NGSI-LD tenant and
`fiware-servicepath` the service path), so existing provisioning scripts and devices work
unchanged. Errors are ProblemDetails like the rest of Dalgu's HTTP edge; the provisioning
API's also carry the agents' `name` and `message` (`agent_errors.py`).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dalgu import jsonbytes
from dalgu.api.edge import runtime
from dalgu.api.respond import plain_json
from dalgu.devices.provisioning import WRONG_SYNTAX
from dalgu.devices.service import DeviceService, Message
from dalgu.errors import (
    BadRequestData,
    DalguError,
    OperationNotSupported,
    PayloadError,
    PayloadTooLarge,
    QuotaExceeded,
    UnsupportedMediaType,
)
from dalgu.gateway.agent_errors import agent_problem, with_agent_errors
from dalgu.gateway.auth import authenticated
from dalgu.gateway.command_payloads import command_results, polled_commands
from dalgu.gateway.jsonpayload import parse_json_measures, parse_single_measure
from dalgu.gateway.retry import QUOTA_RETRY_AFTER
from dalgu.gateway.ultralight import MAX_PAYLOAD, parse_measures, split_command_results

_SERVICE = re.compile(r"[A-Za-z0-9_]{0,50}")
_SERVICE_PATH = re.compile(r"/[A-Za-z0-9_/#]{0,50}")


def _devices(request: Request) -> DeviceService:
    service = runtime(request).devices
    if service is None:
        raise OperationNotSupported("this store keeps no device registry")
    return service


def _tenant(request: Request) -> tuple[str, str]:
    """The request's FIWARE service (its NGSI-LD tenant) and service path; without the
    headers, the default tenant and `/` (see docs/testbed.md)."""
    path = request.headers.get("fiware-servicepath", "/") or "/"
    if not _SERVICE_PATH.fullmatch(path):
        raise BadRequestData(f"invalid fiware-servicepath {path!r}")
    return fiware_service(request), path


def fiware_service(request: Request) -> str:
    """The fiware-service of a request (for one that reads, its service path is a filter),
    in lower case: the IoT Agents compare services in lower case, and Orion keeps them so,
    so `Testservice` and `testservice` are one service and one tenant."""
    lines = request.headers.getlist("fiware-service")
    if len(lines) > 1:  # a proxy checking one line and Dalgu taking another disagree on it
        raise BadRequestData("more than one fiware-service header: a request has one service")
    service = lines[0] if lines else ""
    if not _SERVICE.fullmatch(service):
        raise BadRequestData(f"invalid fiware-service {service!r}")
    return service.lower()


def _path_filter(request: Request) -> str | None:
    """The service path a read is limited to; None (every one) for `/*` or `/#`, as the IoT
    Agents read them."""
    path = request.headers.get("fiware-servicepath")
    return None if path in (None, "", "/*", "/#") else _tenant(request)[1]


async def json_body(request: Request) -> Any:
    """A provisioning request's JSON body (its size bounded by `bodylimit.BoundedBody`)."""
    body = await request.body()
    try:
        return jsonbytes.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequestData(f"the body is not JSON: {exc.msg}", name=WRONG_SYNTAX) from None


def _page(request: Request) -> tuple[int, int]:
    try:
        limit = int(request.query_params.get("limit", "20"))
        offset = int(request.query_params.get("offset", "0"))
    except ValueError:
        raise BadRequestData("limit and offset must be integers") from None
    if not (0 <= limit <= 1000 and offset >= 0):
        raise BadRequestData("limit must be 0..1000 and offset non-negative")
    return limit, offset


def _group_key(request: Request) -> tuple[str, str]:
    apikey = request.query_params.get("apikey")
    if not apikey:  # the agents name a missing query parameter as a missing header
        raise BadRequestData(
            "apikey (and resource) query parameters name the group", name="MISSING_HEADERS"
        )
    return apikey, request.query_params.get("resource", "")


# --- provisioning (north port) ----------------------------------------------------------


async def create_groups(request: Request) -> Response:
    tenant, path = _tenant(request)
    await _devices(request).provisioner.create_groups(tenant, path, await json_body(request))
    return _created()


async def list_groups(request: Request) -> Response:
    """`GET /iot/services` answers `services`, `GET /iot/groups` `groups`, as the agents do;
    `limit` and `offset` page them when given."""
    groups = await _devices(request).provisioner.groups(
        fiware_service(request), _path_filter(request)
    )
    count = len(groups)
    if "limit" in request.query_params or "offset" in request.query_params:
        limit, offset = _page(request)
        groups = groups[offset : offset + limit]
    member = "groups" if request.url.path.endswith("/groups") else "services"
    return plain_json({"count": count, member: groups})


async def update_group(request: Request) -> Response:
    tenant, path = _tenant(request)
    apikey, resource = _group_key(request)
    await _devices(request).provisioner.update_group(
        tenant, path, apikey, resource, await json_body(request)
    )
    return Response(status_code=204)


async def delete_group(request: Request) -> Response:
    """With `device=true`, the group's devices go too, as with the agents."""
    tenant, path = _tenant(request)
    apikey, resource = _group_key(request)
    with_devices = request.query_params.get("device", "").lower() == "true"
    await _devices(request).provisioner.delete_group(
        tenant, path, apikey, resource, with_devices=with_devices
    )
    return Response(status_code=204)


async def create_devices(request: Request) -> Response:
    tenant, path = _tenant(request)
    await _devices(request).provisioner.create_devices(tenant, path, await json_body(request))
    return _created()


def _created() -> Response:
    """201 with the body `{}`, as the agents answer a provisioning POST: an agent-era script
    that reads the answer as JSON reads it."""
    return Response(b"{}", status_code=201, media_type="application/json")


async def list_devices(request: Request) -> Response:
    tenant = fiware_service(request)
    limit, offset = _page(request)
    return plain_json(
        await _devices(request).provisioner.devices(tenant, _path_filter(request), limit, offset)
    )


async def get_device(request: Request) -> Response:
    tenant = fiware_service(request)
    device_id = request.path_params["device_id"]
    return plain_json(
        await _devices(request).provisioner.device(tenant, _path_filter(request), device_id)
    )


async def update_device(request: Request) -> Response:
    tenant, _ = _tenant(request)
    device_id = request.path_params["device_id"]
    fields = await json_body(request)
    await _devices(request).provisioner.update_device(
        tenant, _path_filter(request), device_id, fields
    )
    return Response(status_code=204)


async def delete_device(request: Request) -> Response:
    tenant, _ = _tenant(request)
    device_id = request.path_params["device_id"]
    await _devices(request).provisioner.delete_device(tenant, _path_filter(request), device_id)
    return Response(status_code=204)


async def delete_devices(request: Request) -> Response:
    """`POST /iot/op/delete` with `{"devices": [{"deviceId", "apikey"}, …]}`."""
    tenant, path = _tenant(request)
    await _devices(request).provisioner.delete_devices(tenant, path, await json_body(request))
    return Response(status_code=204)


async def about(request: Request) -> Response:
    from dalgu import __version__

    server = request.scope.get("server")  # the port asked: the API's or the agent's own
    port = "" if not server or server[1] is None else str(server[1])
    return plain_json(
        {"libVersion": "dalgu", "port": port, "baseRoot": "/", "version": __version__}
    )


# --- southbound ---------------------------------------------------------------------------


async def _device_params(request: Request) -> tuple[str, str, str | None]:
    """The API key (checked by the runtime's device authenticator), device id and time."""
    apikey = request.query_params.get("k")
    device_id = request.query_params.get("i")
    if not apikey or not device_id:
        raise BadRequestData(
            "a measure needs the query parameters k (apikey) and i (device id)",
            name="MANDATORY_PARAMS_NOT_FOUND",
        )
    authenticate = runtime(request).device_auth
    if authenticate is not None:
        await authenticated(authenticate, _devices(request), "http", apikey, device_id)
    return apikey, device_id, request.query_params.get("t")


async def _body_text(request: Request) -> bytes:
    """The body a device sent, decoded from its `Content-Encoding` (gzip or deflate, as the
    IoT Agents' body parser inflates them); another coding is a 415 (RFC 9110 15.5.16)."""
    body = await request.body()
    if len(body) > MAX_PAYLOAD:
        raise PayloadTooLarge(f"payload longer than {MAX_PAYLOAD} bytes")
    codings = [c.strip().lower() for c in request.headers.get("content-encoding", "").split(",")]
    for coding in reversed([c for c in codings if c and c != "identity"]):
        body = _decoded(coding, body)
    return body


def _decoded(coding: str, body: bytes) -> bytes:
    if coding in ("gzip", "x-gzip"):
        windows = [16 + zlib.MAX_WBITS]
    elif coding == "deflate":  # zlib's format, or the raw deflate some clients send
        windows = [zlib.MAX_WBITS, -zlib.MAX_WBITS]
    else:
        raise UnsupportedMediaType(
            f"Content-Encoding {coding!r} is not taken: send the body as it is, gzip or deflate"
        )
    for window in windows:
        inflater = zlib.decompressobj(window)
        try:
            out = inflater.decompress(body, MAX_PAYLOAD + 1)
        except zlib.error:
            continue
        if len(out) > MAX_PAYLOAD or inflater.unconsumed_tail:
            raise PayloadTooLarge(f"payload longer than {MAX_PAYLOAD} bytes once inflated")
        if inflater.eof:
            return out
    raise PayloadError(f"the body is not {coding} as its Content-Encoding says", 0)


def _wants_commands(request: Request) -> bool:
    return request.query_params.get("getCmd") == "1"


async def _commands_answer(
    request: Request, fmt: str, apikey: str, device_id: str, resource: str
) -> Response:
    """The answer to a measure: empty, or with `getCmd=1` the device's waiting commands."""
    if not _wants_commands(request):
        return Response(status_code=200)
    commands = await _devices(request).fetch_commands(apikey, device_id, resource)
    body = polled_commands(fmt, device_id, [(c.name, c.value) for c in commands])
    media = "application/json" if fmt == "json" else "text/plain"
    return Response(body, status_code=200, media_type=media)


async def ultralight_measures(request: Request) -> Response:
    """`GET /iot/d?k=&i=&d=` or `POST /iot/d?k=&i=` with an UltraLight 2.0 body (whose
    `device@command|result` groups are command results); with `getCmd=1` the answer holds the
    device's waiting commands (and `d` may be left out)."""
    apikey, device_id, stamp = await _device_params(request)
    if request.method == "GET":
        text = request.query_params.get("d")
        if text is None and not _wants_commands(request):
            raise BadRequestData("GET /iot/d carries its measures in the d parameter")
    else:
        try:
            text = (await _body_text(request)).decode()
        except UnicodeDecodeError:
            raise PayloadError("the payload is not UTF-8 text", 0) from None
        if not text.strip() and _wants_commands(request):
            text = None
    if text is not None and "@" in text:  # a polling device's results, where measures go
        text, results = split_command_results(text)
        devices = _devices(request)
        await devices.known(apikey, device_id, "/iot/d", "http")
        for result in results:
            await devices.command_result(apikey, device_id, result.name, result.result)
    if text is not None:
        measures = text
        await _devices(request).receive_arriving(
            "http",
            Message(
                apikey,
                device_id,
                lambda: [(g.values, g.timestamp) for g in parse_measures(measures)],
                resource="/iot/d",
                timestamp=stamp,
            ),
        )
    return await _commands_answer(request, "ul", apikey, device_id, "/iot/d")


async def json_measures(request: Request) -> Response:
    """`POST /iot/json?k=&i=` with an IoT Agent JSON body; `GET /iot/json?k=&i=&getCmd=1`
    (or the POST with `getCmd=1`) answers with the device's waiting commands."""
    apikey, device_id, stamp = await _device_params(request)
    if request.method == "GET":
        if not _wants_commands(request):
            raise BadRequestData("GET /iot/json only fetches commands (getCmd=1)")
        body = b""
    else:
        body = await _body_text(request)
    if body.strip() or not _wants_commands(request):
        payload = body
        await _devices(request).receive_arriving(
            "http",
            Message(
                apikey,
                device_id,
                lambda: parse_json_measures(payload),
                resource="/iot/json",
                timestamp=stamp,
            ),
        )
    return await _commands_answer(request, "json", apikey, device_id, "/iot/json")


async def json_single_measure(request: Request) -> Response:
    """`POST /iot/json/attrs/<attribute>?k=&i=`: one measure, its body read by its type."""
    apikey, device_id, stamp = await _device_params(request)
    body = await _body_text(request)
    attribute = request.path_params["attribute"]
    media = request.headers.get("content-type", "application/json")
    await _devices(request).receive_arriving(
        "http",
        Message(
            apikey,
            device_id,
            lambda: parse_single_measure(attribute, body, media),
            resource="/iot/json",
            timestamp=stamp,
        ),
    )
    return Response(status_code=200)


async def ultralight_command_results(request: Request) -> Response:
    """`POST /iot/d/commands?k=&i=` with `dev@cmd|result`: a polling device's result."""
    return await _command_results(request, "ul")


async def json_command_results(request: Request) -> Response:
    """`POST /iot/json/commands?k=&i=` with `{"cmd": result}`: a polling device's result."""
    return await _command_results(request, "json")


async def _command_results(request: Request, fmt: str) -> Response:
    apikey, device_id, _ = await _device_params(request)
    results = command_results(fmt, await _body_text(request))
    devices = _devices(request)
    resource = "/iot/json" if fmt == "json" else "/iot/d"
    await devices.known(apikey, device_id, resource, "http")
    for name, result in results.items():
        await devices.command_result(apikey, device_id, name, result)
    return Response(status_code=200)


def _retry_hint(
    endpoint: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint, its refusals carrying the agents' `name` and `message` as well
    (`PARSE_ERROR`, `DEVICE_GROUP_NOT_FOUND`, `MANDATORY_PARAMS_NOT_FOUND`, …), a device test
    harness branching on them; a quota refusal (429) saying when to send again
    (`Retry-After`)."""

    async def answer(request: Request) -> Response:
        try:
            return await endpoint(request)
        except QuotaExceeded as error:
            response = agent_problem(error, "measure")
            response.headers["Retry-After"] = str(QUOTA_RETRY_AFTER)
            return response
        except DalguError as error:
            return agent_problem(error, "measure")

    return answer


def southbound_routes() -> list[Route]:
    """What devices call (the IoT Agents' south port, 7896)."""
    return [
        Route("/iot/d", _retry_hint(ultralight_measures), methods=["GET", "POST"]),
        Route("/iot/json", _retry_hint(json_measures), methods=["GET", "POST"]),
        Route("/iot/d/commands", _retry_hint(ultralight_command_results), methods=["POST"]),
        Route("/iot/json/commands", _retry_hint(json_command_results), methods=["POST"]),
        Route("/iot/json/attrs/{attribute}", _retry_hint(json_single_measure), methods=["POST"]),
    ]


def provisioning_routes() -> list[Route]:
    """What operators and scripts call (the IoT Agents' north port, 4041)."""
    return [
        Route("/iot/about", about, methods=["GET"]),
        *(
            Route(path, with_agent_errors("group", handler), methods=[method])
            for path in ("/iot/services", "/iot/groups")
            for method, handler in (
                ("POST", create_groups),
                ("GET", list_groups),
                ("PUT", update_group),
                ("DELETE", delete_group),
            )
        ),
        *(
            Route(path, with_agent_errors("device", handler), methods=[method])
            for path, method, handler in (
                ("/iot/devices", "POST", create_devices),
                ("/iot/devices", "GET", list_devices),
                ("/iot/devices/{device_id}", "GET", get_device),
                ("/iot/devices/{device_id}", "PUT", update_device),
                ("/iot/devices/{device_id}", "DELETE", delete_device),
                ("/iot/op/delete", "POST", delete_devices),
            )
        ),
    ]


def routes() -> list[Route]:
    """Both, as the NGSI-LD port also serves them."""
    return southbound_routes() + provisioning_routes()
