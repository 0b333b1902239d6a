"""CoAP southbound (aiocoap): the HTTP southbound's resources over CoAP, for devices too small
for HTTP.

    POST coap://host:5683/iot/d?k=<apikey>&i=<device_id>[&t=<timestamp>]   UltraLight 2.0 body
    GET  coap://host:5683/iot/d?k=<apikey>&i=<device_id>&d=<payload>
    POST coap://host:5683/iot/json?k=<apikey>&i=<device_id>                 JSON body

Success is 2.04 Changed; bad input 4.00 Bad Request and an unknown API key or device 4.04
Not Found, each with a ProblemDetails JSON payload saying why. A payload over the southbound's
limit is 4.13 with Size1 giving the limit (at the first block of a block-wise upload that
announces or reaches it), a Content-Format other than the resource's is 4.15, and a sandbox's
quota 4.29 with Max-Age saying when to send again (RFC 8516). `coapwire` turns away what
cannot be read as CoAP at all.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import aiocoap
import aiocoap.resource as resource
import orjson

from dalgu.devices.service import DeviceService, Message
from dalgu.errors import (
    BadRequestData,
    DalguError,
    MethodNotAllowed,
    PayloadError,
    PayloadTooLarge,
    ResourceNotFound,
    UnsupportedMediaType,
)
from dalgu.gateway.auth import DeviceAuthenticator, authenticated
from dalgu.gateway.coapblock import Block1Assembly, quiet_continues
from dalgu.gateway.coaplistener import CoapListener
from dalgu.gateway.coapwire import guard
from dalgu.gateway.command_payloads import command_results
from dalgu.gateway.jsonpayload import parse_json_measures
from dalgu.gateway.retry import QUOTA_RETRY_AFTER
from dalgu.gateway.ultralight import MAX_PAYLOAD, parse_measures, split_command_results

log = logging.getLogger(__name__)

_CODES = {
    400: aiocoap.BAD_REQUEST,
    401: aiocoap.UNAUTHORIZED,
    404: aiocoap.NOT_FOUND,
    405: aiocoap.METHOD_NOT_ALLOWED,
    413: aiocoap.REQUEST_ENTITY_TOO_LARGE,
    415: aiocoap.UNSUPPORTED_CONTENT_FORMAT,
    429: aiocoap.TOO_MANY_REQUESTS,
    503: aiocoap.SERVICE_UNAVAILABLE,
}
NO_GETCMD = "commands are not fetched over CoAP (getCmd): a polling device asks for them over HTTP"
_TEXT, _JSON = 0, 50  # CoAP content formats of text/plain;charset=utf-8 and application/json
_FORMATS = {"ul": _TEXT, "json": _JSON}


def _query(request: aiocoap.Message) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in request.opt.uri_query:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def _utf8(payload: bytes) -> str:
    try:
        return payload.decode()
    except UnicodeDecodeError:
        raise PayloadError("the payload is not UTF-8 text", 0) from None


async def _device_params(
    request: aiocoap.Message, devices: DeviceService, authenticate: DeviceAuthenticator | None
) -> tuple[str, str, str | None]:
    """The API key (checked by the device authenticator), device id and time of a request."""
    query = _query(request)
    apikey, device_id = query.get("k"), query.get("i")
    if not apikey or not device_id:
        raise BadRequestData("a measure needs the query parameters k and i")
    if authenticate is not None:
        await authenticated(authenticate, devices, "coap", apikey, device_id)
    return apikey, device_id, query.get("t")


def _problem(error: DalguError) -> aiocoap.Message:
    body = {"type": error.type_uri, "title": error.title, "detail": error.detail}
    code = _CODES.get(error.status, aiocoap.INTERNAL_SERVER_ERROR)
    answer = aiocoap.Message(code=code, payload=orjson.dumps(body), content_format=_JSON)
    if code == aiocoap.TOO_MANY_REQUESTS:
        answer.opt.max_age = QUOTA_RETRY_AFTER  # without it a device would wait 60 s
    elif code == aiocoap.REQUEST_ENTITY_TOO_LARGE:
        answer.opt.size1 = MAX_PAYLOAD  # the most the southbound takes (RFC 7959 §4)
    return answer


def _too_large(request: aiocoap.Message) -> bool:
    """The request's body is over the limit: announced (Size1), reached by this block (Block1:
    the blocks before it are already in) or, unsplit, its own."""
    block = request.opt.block1
    start = block.start if block is not None else 0
    announced = request.opt.size1 or 0
    return announced > MAX_PAYLOAD or start + len(request.payload) > MAX_PAYLOAD


class _SouthboundSite(resource.Site):  # type: ignore[misc]
    """aiocoap's site, its 4.04 for an unknown path a ProblemDetails as the other refusals."""

    async def render_to_pipe(self, pipe: Any) -> None:
        try:
            await super().render_to_pipe(pipe)
        except aiocoap.error.NotFound:
            path = "/" + "/".join(pipe.request.opt.uri_path)
            error = ResourceNotFound(
                f"no CoAP resource {path}: the southbound serves /iot/d, /iot/json, "
                "/iot/d/commands and /iot/json/commands (listed at /.well-known/core)"
            )
            pipe.add_response(_problem(error), is_last=True)


class _Resource(resource.Resource):  # type: ignore[misc]
    """A southbound resource: a method it does not take is a 4.05 with a ProblemDetails."""

    async def render(self, request: aiocoap.Message) -> aiocoap.Message:
        try:
            answer: aiocoap.Message = await super().render(request)
        except aiocoap.error.UnallowedMethod:
            methods = " or ".join(
                name.upper() for name in ("get", "post") if hasattr(self, f"render_{name}")
            )
            return _problem(MethodNotAllowed(f"this resource takes {methods}, not {request.code}"))
        return answer


class _Measures(_Resource):
    def __init__(
        self, devices: DeviceService, fmt: str, path: str, authenticate: DeviceAuthenticator | None
    ) -> None:
        super().__init__()
        self._block1 = Block1Assembly()  # aiocoap's own answered 5.00 to a gap
        self.devices = devices
        self.authenticate = authenticate
        self.fmt = fmt
        self.path = path
        self.ct = _FORMATS[fmt]  # its Content-Format in /.well-known/core

    async def render_to_pipe(self, pipe: Any) -> None:
        """Refuse a body too large or of another format at its first block, before aiocoap
        reassembles a block-wise upload (a 70 kB upload was taken to its last block)."""
        request = pipe.request
        error: DalguError | None = None
        if request.code == aiocoap.POST and _too_large(request):
            error = PayloadTooLarge(f"payload longer than {MAX_PAYLOAD} bytes")
        elif request.code == aiocoap.POST and request.opt.content_format not in (
            None,
            _FORMATS[self.fmt],
        ):
            error = UnsupportedMediaType(
                f"{self.path} takes Content-Format {_FORMATS[self.fmt]} "
                f"({'text/plain' if self.fmt == 'ul' else 'application/json'}), "
                f"not {int(request.opt.content_format)}"
            )
        block = request.opt.block1
        if error is None and block is not None and block.block_number == 0:
            try:  # no upload is kept for a request without a device or with a revoked key
                await self._device(request)
            except DalguError as refused:  # counted where found, if it names a device
                log.warning("CoAP measure refused: %s", refused.detail)
                pipe.add_response(_problem(refused), is_last=True)
                return
        if error is None:
            try:
                await super().render_to_pipe(pipe)
                return
            except BadRequestData as refused:  # a block-wise upload's block (Block1Assembly)
                error = refused
        self._refused(request, error)
        pipe.add_response(_problem(error), is_last=True)

    def _refused(self, request: aiocoap.Message, error: DalguError) -> None:
        query = _query(request)
        apikey, device_id = query.get("k"), query.get("i")
        if apikey and device_id:  # counted (and logged) with the device's other refusals
            self.devices.refused("coap", apikey, device_id, time.time(), (), error)
        else:
            log.warning("CoAP measure refused: %s", error.detail)

    async def _ingest(self, request: aiocoap.Message, payload: bytes) -> aiocoap.Message:
        try:
            apikey, device_id, stamp = await self._device(request)
            measures: bytes | None = payload
            if self.fmt == "ul" and b"@" in payload:  # a polling device's results, as HTTP
                text, results = split_command_results(_utf8(payload))
                await self.devices.known(apikey, device_id, self.path, "coap")
                for result in results:
                    await self.devices.command_result(apikey, device_id, result.name, result.result)
                measures = None if text is None else text.encode()
            if measures is not None:
                body = measures
                await self.devices.receive_arriving(
                    "coap",
                    Message(
                        apikey,
                        device_id,
                        lambda: self._parse(body),
                        resource=self.path,
                        timestamp=stamp,
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

    async def _device(self, request: aiocoap.Message) -> tuple[str, str, str | None]:
        """The API key (checked), device id and time of a request."""
        return await _device_params(request, self.devices, self.authenticate)

    def _parse(self, payload: bytes) -> list[tuple[dict[str, Any], str | None]]:
        if self.fmt == "json":
            return parse_json_measures(payload)
        return [(g.values, g.timestamp) for g in parse_measures(_utf8(payload))]

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        if _query(request).get("getCmd") == "1":  # refused before anything is stored
            return _problem(BadRequestData(f"{NO_GETCMD}; nothing of this request was stored"))
        return await self._ingest(request, request.payload)

    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        if "getCmd" in _query(request):
            return _problem(
                BadRequestData(
                    f"{NO_GETCMD}; a CoAP GET carries UltraLight measures in the d parameter"
                )
            )
        data = _query(request).get("d")
        if self.fmt != "ul" or data is None:
            return _problem(BadRequestData("GET carries UltraLight measures in the d parameter"))
        return await self._ingest(request, data.encode())


class _CommandResults(_Resource):
    """`/iot/d/commands` (`dev@cmd|result`) and `/iot/json/commands` (`{"cmd": result}`): a
    polling device's results, as over HTTP."""

    def __init__(
        self, devices: DeviceService, fmt: str, authenticate: DeviceAuthenticator | None
    ) -> None:
        super().__init__()
        self._block1 = Block1Assembly()
        self.devices = devices
        self.fmt = fmt
        self.authenticate = authenticate

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        try:
            apikey, device_id, _ = await _device_params(request, self.devices, self.authenticate)
            results = command_results(self.fmt, request.payload)
            resource_path = "/iot/json" if self.fmt == "json" else "/iot/d"
            await self.devices.known(apikey, device_id, resource_path, "coap")
            for name, result in results.items():
                await self.devices.command_result(apikey, device_id, name, result)
        except DalguError as error:
            log.warning("CoAP command result refused: %s", error.detail)
            return _problem(error)
        return aiocoap.Message(code=aiocoap.CHANGED)


async def start_coap(
    devices: DeviceService, host: str, port: int, authenticate: DeviceAuthenticator | None = None
) -> CoapListener:
    """The CoAP southbound listening on host:port; `await listener.shutdown()` stops it."""
    site = _SouthboundSite()
    site.add_resource(["iot", "d"], _Measures(devices, "ul", "/iot/d", authenticate))
    site.add_resource(["iot", "json"], _Measures(devices, "json", "/iot/json", authenticate))
    # CoRE Link Format discovery (RFC 7252 §7.2, RFC 6690), without aiocoap's own link
    site.add_resource(
        [".well-known", "core"],
        resource.WKCResource(site.get_resources_as_linkheader, impl_info=None),
    )
    site.add_resource(["iot", "d", "commands"], _CommandResults(devices, "ul", authenticate))
    site.add_resource(["iot", "json", "commands"], _CommandResults(devices, "json", authenticate))

    async def context() -> Any:
        # UDP only: aiocoap would also serve CoAP over TCP and TLS on the same port number and
        # over WebSockets (8683), ports nobody asked for (and that another process may hold)
        created = await aiocoap.Context.create_server_context(
            site, bind=(host, port), transports=["udp6"]
        )
        guard(created)
        quiet_continues(created.log)
        return created

    listener = CoapListener(context, host, port)
    await listener.start()
    return listener
