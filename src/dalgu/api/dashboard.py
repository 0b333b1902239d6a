"""The web dashboard's HTTP edge: `/dashboard` (the page), `/dashboard/alerts` (its alerts
section, which the page refreshes), `/dashboard/entity?id=` (one entity, where the page's
links go) and `/dashboard/static/` (its stylesheet, script and icon).

A browser cannot send `NGSILD-Tenant`, so the tenant is the `tenant` query parameter; the map's
type is `type` (an IRI, or a term of the core `@context`); the language is `lang`, else
`Accept-Language` (`dalgu.dashboard.messages`). Bad parameters are a 400 and an entity the
tenant does not have a 404: for a browser (`Accept` naming `text/html`) on the page and the
entity's page, a page in the reader's language that says so with the way back; for any other
client, and on the parts the page's script reads, a ProblemDetails as everywhere else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from dalgu.api.edge import runtime
from dalgu.api.negotiation import checked_tenant
from dalgu.broker.model import is_uri, is_valid_name
from dalgu.dashboard.devices import DeviceOverview
from dalgu.dashboard.entity import EntityReader
from dalgu.dashboard.messages import choose_language
from dalgu.dashboard.overview import CityOverview
from dalgu.dashboard.page import (
    PARTS,
    Sections,
    View,
    render_alerts,
    render_entity,
    render_error,
    render_page,
    render_part,
)
from dalgu.errors import BadRequestData, DalguError, ResourceNotFound

#: what a browser may load and run on these pages: their own files only, no inline script
POLICY: Final = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
MAX_TYPE: Final = 1024
MAX_ID: Final = 2048


Handler = Callable[[Request], Awaitable[Response]]


def _for_readers(handler: Handler) -> Handler:
    """`handler`, whose errors a browser gets as a page in the reader's language."""

    @wraps(handler)
    async def handle(request: Request) -> Response:
        try:
            return await handler(request)
        except DalguError as error:
            if error.status >= 500 or "text/html" not in request.headers.get("accept", ""):
                raise  # an outage keeps its ProblemDetails and Retry-After
            return _error_page(request, error)

    return handle


def _error_page(request: Request, error: DalguError) -> Response:
    params = request.query_params
    lang = choose_language(params.get("lang"), request.headers.get("accept-language"))
    try:
        tenant = checked_tenant(params.get("tenant", ""), "tenant")
    except DalguError:
        tenant = ""  # the error may be the tenant itself

    def switch(code: str) -> str:
        changed = {**params, "lang": code}
        return f"{request.url.path}?{urlencode(changed)}"

    view = View(lang, tenant, None)
    return _html(render_error(view, error.status, error.detail, switch), view, error.status)


def routes() -> list[BaseRoute]:
    return [
        Route("/dashboard", _for_readers(dashboard), methods=["GET"]),
        Route("/dashboard/alerts", dashboard_alerts, methods=["GET"]),
        Route("/dashboard/entity", _for_readers(dashboard_entity), methods=["GET"]),
        Route("/dashboard/part/{part}", dashboard_part, methods=["GET"]),
        # pages that name no icon (the API docs page, a JSON answer in a browser tab) make the
        # browser ask for /favicon.ico: the dashboard's icon, rather than a 404 logged each time
        Route("/favicon.ico", _favicon, methods=["GET", "HEAD"]),
        Mount(
            "/dashboard/static",
            app=StaticFiles(packages=[("dalgu.dashboard", "static")]),
            name="dashboard-static",
        ),
    ]


async def _favicon(request: Request) -> Response:
    return RedirectResponse("/dashboard/static/favicon.svg", status_code=301)


def _view(request: Request) -> tuple[View, CityOverview]:
    rt = runtime(request)
    terms = rt.resolver.core
    params = request.query_params
    tenant = checked_tenant(params.get("tenant", ""), "tenant")
    shown = params.get("type", "").strip()
    if shown:
        if len(shown) > MAX_TYPE:
            raise BadRequestData(f"the type is longer than {MAX_TYPE} characters")
        if not is_uri(shown):
            if not is_valid_name(shown):
                raise BadRequestData(f"{shown!r} is neither an IRI nor an entity type name")
            shown = terms.expand(shown)
    lang = choose_language(params.get("lang"), request.headers.get("accept-language"))
    return View(lang, tenant, shown or None), CityOverview(rt.service, terms)


def _html(body: str, view: View, status: int = 200) -> Response:
    return HTMLResponse(
        body,
        status_code=status,
        headers={
            "Content-Language": view.lang,
            "Vary": "Accept-Language",
            "Cache-Control": "no-store",
            "Content-Security-Policy": POLICY,
            "X-Content-Type-Options": "nosniff",
        },
    )


async def dashboard(request: Request) -> Response:
    view, overview = _view(request)
    types = await overview.types(view.tenant)
    places = await overview.places(view.tenant, view.shown_type, view.lang)
    alerts = await overview.alerts(view.tenant, view.lang)
    rt = runtime(request)
    zones = (await rt.wifi.state(view.tenant)).zones if rt.wifi is not None else ()
    devices = None
    if rt.devices is not None:
        devices = await DeviceOverview(rt.devices, rt.service).listed(view.tenant)
    return _html(render_page(view, types, places, alerts, zones, devices), view)


async def dashboard_part(request: Request) -> Response:
    """One section of the page again (`PARTS`), for the page's script to put in place."""
    part = request.path_params["part"]
    if part not in PARTS:
        raise ResourceNotFound(f"the dashboard has no part {part[:40]!r}")
    view, overview = _view(request)
    rt = runtime(request)
    sections = Sections(await overview.types(view.tenant))
    if part == "map":
        places = await overview.places(view.tenant, view.shown_type, view.lang)
        sections = Sections(sections.types, places)
    elif part == "wifi" and rt.wifi is not None:
        sections = Sections(sections.types, zones=(await rt.wifi.state(view.tenant)).zones)
    elif part == "devices" and rt.devices is not None:
        devices = await DeviceOverview(rt.devices, rt.service).listed(view.tenant)
        sections = Sections(sections.types, devices=devices)
    return _html(render_part(view, part, sections), view)


async def dashboard_alerts(request: Request) -> Response:
    view, overview = _view(request)
    return _html(render_alerts(view, await overview.alerts(view.tenant, view.lang)), view)


async def dashboard_entity(request: Request) -> Response:
    view, _ = _view(request)
    entity_id = request.query_params.get("id", "")
    if not is_uri(entity_id) or len(entity_id) > MAX_ID:
        raise BadRequestData(f"id {entity_id[:100]!r} is not an entity id (a URI)")
    rt = runtime(request)
    detail = await EntityReader(rt.service, rt.resolver.core).read(
        view.tenant, entity_id, view.lang
    )
    base_url = str(request.base_url).rstrip("/")
    return _html(render_entity(view, detail, base_url), view)
