"""CoAP southbound (aiocoap): the HTTP southbound's resources over CoAP, for devices too small
for HTTP.

    POST coap://host:5683/iot/d?k=<apikey>&i=<device_id>[&t=<timestamp>]   UltraLight 2.0 body
    GET  coap://host:5683/iot/d?k=<apikey>&i=<device_id>&d=<payload>
    POST coap://host:5683/iot/json?k=<apikey>&i=<device_id>                 JSON body

Success is 2.04 Changed; bad input 4.00 Bad Request and an unknown API key or device 4.04
Not Found, each with a ProblemDetails JSON payload saying why.
"""

from __future__ import annotations

import logging
from typing import Any

import aiocoap
import aiocoap.resource as resource
import orjson

from dalgu.devices.service import DeviceService, Message
from dalgu.errors import BadRequestData, DalguError, PayloadError
from dalgu.gateway.auth import DeviceAuthenticator, authenticated
from dalgu.gateway.jsonpayload import parse_json_measures
from dalgu.gateway.ultralight import parse_measures

log = logging.getLogger(__name__)

_CODES = {
    400: aiocoap.BAD_REQUEST,
    401: aiocoap.UNAUTHORIZED,
    404: aiocoap.NOT_FOUND,
    413: aiocoap.REQUEST_ENTITY_TOO_LARGE,
    429: aiocoap.TOO_MANY_REQUESTS,
    503: aiocoap.SERVICE_UNAVAILABLE,
}
_JSON = 50  # CoAP content format of application/json


def _query(request: aiocoap.Message) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in request.opt.uri_query:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def _problem(error: DalguError) -> aiocoap.Message:
    body = {"type": error.type_uri, "title": error.title, "detail": error.detail}
    code = _CODES.get(error.status, aiocoap.INTERNAL_SERVER_ERROR)
    return aiocoap.Message(code=code, payload=orjson.dumps(body), content_format=_JSON)


class _Measures(resource.Resource):  # type: ignore[misc]
    def __init__(
        self, devices: DeviceService, fmt: str, path: str, authenticate: DeviceAuthenticator | None
    ) -> None:
        super().__init__()
        self.devices = devices
        self.authenticate = authenticate
        self.fmt = fmt
        self.path = path

    async def _ingest(self, request: aiocoap.Message, payload: bytes) -> aiocoap.Message:
        try:
            query = _query(request)
            apikey, device_id = query.get("k"), query.get("i")
            if not apikey or not device_id:
                raise BadRequestData("a measure needs the query parameters k and i")
            if self.authenticate is not None:
                await authenticated(self.authenticate, self.devices, "coap", apikey, device_id)
            await self.devices.receive_arriving(
                "coap",
                Message(
                    apikey,
                    device_id,
                    lambda: self._parse(payload),
                    resource=self.path,
                    timestamp=query.get("t"),
                ),
            )
        except DalguError as error:
            log.warning("CoAP measure refused: %s", error.detail)
            return _problem(error)
        except Exception as error:
            outage = self.devices.entities.outage(error)
            if outage is None:
                raise
            log.warning("CoAP measure not stored: %s", outage.detail)
            return _problem(outage)  # 5.03: the device sends it again later
        return aiocoap.Message(code=aiocoap.CHANGED)

    def _parse(self, payload: bytes) -> list[tuple[dict[str, Any], str | None]]:
        if self.fmt == "json":
            return parse_json_measures(payload)
        try:
            text = payload.decode()
        except UnicodeDecodeError:
            raise PayloadError("the payload is not UTF-8 text", 0) from None
        return [(g.values, g.timestamp) for g in parse_measures(text)]

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        return await self._ingest(request, request.payload)

    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        data = _query(request).get("d")
        if self.fmt != "ul" or data is None:
            return _problem(BadRequestData("GET carries UltraLight measures in the d parameter"))
        return await self._ingest(request, data.encode())


async def start_coap(
    devices: DeviceService, host: str, port: int, authenticate: DeviceAuthenticator | None = None
) -> Any:
    """A CoAP server context on host:port; `await ctx.shutdown()` stops it."""
    site = resource.Site()
    site.add_resource(["iot", "d"], _Measures(devices, "ul", "/iot/d", authenticate))
    site.add_resource(["iot", "json"], _Measures(devices, "json", "/iot/json", authenticate))
    # UDP only: aiocoap would also serve CoAP over TCP and TLS on the same port number and
    # over WebSockets (8683), ports nobody asked for (and that another process may hold)
    return await aiocoap.Context.create_server_context(site, bind=(host, port), transports=["udp6"])
