"""Public Wi-Fi zones over HTTP: `GET /wifi/zones` (each zone's status, load and access points,
as JSON) and `GET /wifi/coverage` (where the Wi-Fi reaches, as GeoJSON for a map or a GIS).

Both read the state as it is (nothing is written: the sweep does that, `dalgu.wifi.monitor`).
The tenant is `NGSILD-Tenant`, or the `tenant` query parameter for clients that cannot set a
header (a GIS layer's URL). A zone named by a LanguageProperty is named in the language of
`lang`, else the first of `Accept-Language` it has, else its untagged (or first) name. Times
are ISO 8601 in UTC with milliseconds, as the NGSI-LD API writes them.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dalgu.api.edge import runtime
from dalgu.api.negotiation import checked_tenant, tenant_of
from dalgu.errors import ResourceNotFound
from dalgu.languages import ranked_languages
from dalgu.wifi.selection import Selection
from dalgu.wifi.service import WifiService, WifiState, zones_by_status
from dalgu.wifi.zones import AccessPoint, Zone, stamp


def routes() -> list[BaseRoute]:
    return [
        Route("/wifi/zones", zones, methods=["GET"]),
        Route("/wifi/zones/{zone:path}", one_zone, methods=["GET"]),
        Route("/wifi/coverage", coverage, methods=["GET"]),
    ]


def _service(request: Request) -> tuple[WifiService, str]:
    wifi = runtime(request).wifi
    if wifi is None:
        raise ResourceNotFound("Wi-Fi zones are not served by this store")
    asked = request.query_params.get("tenant")
    tenant = checked_tenant(asked, "tenant") if asked is not None else tenant_of(request)
    return wifi, tenant


def _languages(request: Request) -> tuple[str, ...]:
    """The reader's languages, most wanted first: `lang`, then `Accept-Language` by weight."""
    asked = request.query_params.get("lang", "").strip()
    tags = [asked] if asked else []
    for tag in ranked_languages(request.headers.get("accept-language")):
        tags += [tag, tag.split("-")[0]]
    return tuple(dict.fromkeys(tags))


def _seconds(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _json(data: Any, media_type: str = "application/json") -> Response:
    """`data`, its zones named as `Accept-Language` asks: a cache must not give the answer
    in one language to a reader of another (RFC 9110, 12.5.5)."""
    return Response(orjson.dumps(data), media_type=media_type, headers={"Vary": "Accept-Language"})


def _point(p: AccessPoint, up: bool) -> dict[str, Any]:
    return {
        "id": p.id,
        "zone": p.zone,
        "up": up,
        "apState": p.reported_state,
        "clientsConnected": p.clients,
        "maxClients": p.capacity,
        "load": round(p.clients / p.capacity, 3),
        "lastReport": stamp(p.last_report) if p.last_report else None,
        "location": list(p.position) if p.position else None,
        "problems": list(p.problems),
    }


def _zone(z: Zone, languages: tuple[str, ...]) -> dict[str, Any]:
    return {
        "id": z.id,
        "name": z.name_in(*languages),
        "wifiStatus": z.status,
        "accessPointsUp": z.up,
        "accessPointsTotal": z.total,
        "clientsConnected": z.clients,
        "load": round(z.load, 3) if z.load is not None else None,
        "accessPointsDown": list(z.down),
        "location": list(z.position) if z.position else None,
    }


def _selection(request: Request) -> Selection:
    """The zones asked for: `id` (comma-separated), `lon`, `lat` and `radius` (metres)."""
    asked = request.query_params
    return Selection.asked(asked.get("id"), asked.get("lon"), asked.get("lat"), asked.get("radius"))


async def zones(request: Request) -> Response:
    wifi, tenant = _service(request)
    state = _selection(request).apply(await wifi.state(tenant))
    return _zones(wifi, state, _languages(request))


async def one_zone(request: Request) -> Response:
    """`/wifi/zones/{zone id}`: as `/wifi/zones?id=…`, a 404 when there is no such zone."""
    wifi, tenant = _service(request)
    zone = request.path_params["zone"]
    state = Selection(frozenset([zone])).apply(await wifi.state(tenant))
    if not state.zones:
        raise ResourceNotFound(f"no Wi-Fi zone {zone}")
    return _zones(wifi, state, _languages(request))


def _zones(wifi: WifiService, state: WifiState, languages: tuple[str, ...]) -> Response:
    return _json(
        {
            "at": stamp(state.at),
            "silenceSeconds": _seconds(wifi.silence),
            "summary": zones_by_status(state.zones),
            "zones": [_zone(z, languages) for z in state.zones],
            "accessPoints": [_point(p, p.up(state.at, wifi.silence)) for p in state.points],
            "withoutZone": list(state.orphans),
        }
    )


async def coverage(request: Request) -> Response:
    wifi, tenant = _service(request)
    select = _selection(request).apply
    answer = await wifi.coverage(tenant, languages=_languages(request), select=select)
    return _json(answer, "application/geo+json")
