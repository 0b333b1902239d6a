"""What every handler needs: the running app's parts and the request's NGSI-LD context."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from dalgu.api import negotiation as neg
from dalgu.broker.model import is_uri
from dalgu.broker.rendered import RenderCache
from dalgu.broker.service import EntityService
from dalgu.devices.service import DeviceService
from dalgu.errors import BadRequestData, InvalidRequest, MethodNotAllowed
from dalgu.federation.distributor import Distributor
from dalgu.fhir.model import Principal
from dalgu.fhir.service import FhirService
from dalgu.gateway.auth import DeviceAuthenticator
from dalgu.ldcontext import ContextResolver
from dalgu.opendata.service import OpenDataService
from dalgu.registrations.service import RegistrationService
from dalgu.registrations.subscriptions import CSourceSubscriptionService
from dalgu.settings import Settings
from dalgu.store.base import EntityStore
from dalgu.subscriptions.service import SubscriptionService
from dalgu.temporal.service import TemporalService
from dalgu.testbed.runs import TestbedService
from dalgu.testbed.sandboxes import SandboxService
from dalgu.wifi.service import WifiService


@dataclass(slots=True)
class Runtime:
    settings: Settings
    store: EntityStore
    service: EntityService
    resolver: ContextResolver
    subscriptions: SubscriptionService | None = None
    registrations: RegistrationService | None = None
    csource_subscriptions: CSourceSubscriptionService | None = None
    temporal: TemporalService | None = None
    devices: DeviceService | None = None
    testbed: TestbedService | None = None
    sandboxes: SandboxService | None = None
    #: the southbound's API-key check (sandbox keys), called at each transport's edge
    device_auth: DeviceAuthenticator | None = None
    fhir: FhirService | None = None
    opendata: OpenDataService | None = None
    #: who a FHIR request comes from; None: the development headers (api/fhir/identity.py)
    fhir_principal: Callable[[Request], Principal] | None = None
    #: entities rendered before, as bytes (lists and Retrieve Entity)
    rendered: RenderCache = field(default_factory=lambda: RenderCache(0))
    #: distributed operations: requests forwarded to registered context sources
    distributor: Distributor | None = None
    #: public Wi-Fi zones (access points, zone status, coverage)
    wifi: WifiService | None = None


#: every query parameter NGSI-LD defines (clause 6.3.20: any other is an InvalidRequest)
KNOWN_PARAMETERS = frozenset(
    [
        "id",
        "idPattern",
        "type",
        "attrs",
        "pick",
        "omit",
        "q",
        "georel",
        "geometry",
        "coordinates",
        "geoproperty",
        "geometryProperty",
        "scopeQ",
        "lang",
        "options",
        "format",
        "limit",
        "offset",
        "count",
        "datasetId",
        "deleteAll",
        "details",
        "kind",
        "reload",
        "timerel",
        "timeAt",
        "endTimeAt",
        "timeproperty",
        "lastN",
        "aggrMethods",
        "aggrPeriodDuration",
        "csf",
        "local",
        "expandValues",
        "jsonKeys",
        "entityMap",
        "join",
        "joinLevel",
        "containedBy",
        "collect",
        "doNotCompact",
        "onlyIds",
        "via",
        "keep",
        "drop",
        "orderBy",
        "orderFrom",
        "observedAt",
        "orderGeometry",
        "collation",
        "splitEntities",  # Tables 6.4.3.2-1, 6.18.3.2-1: taken, and ignored (no entity maps)
        "entityMapLifetime",
    ]
)

#: parameters of other resources (discovery, temporal, contexts, purge, attribute deletion),
#: which Query and Retrieve Entity do not take (Tables 6.4.3.2-1, 6.5.3.1-1)
_NOT_OF_ENTITIES = frozenset(
    [
        "via",
        "details",
        "kind",
        "reload",
        "timerel",
        "timeAt",
        "endTimeAt",
        "timeproperty",
        "lastN",
        "aggrMethods",
        "aggrPeriodDuration",
        "deleteAll",
        "keep",
        "drop",
        "observedAt",
    ]
)
#: Query Entities' parameters (GET /entities)
QUERY_ENTITIES_PARAMETERS = KNOWN_PARAMETERS - _NOT_OF_ENTITIES
#: Retrieve Entity's: no paging, no filters of a query
RETRIEVE_ENTITY_PARAMETERS = QUERY_ENTITIES_PARAMETERS - frozenset(
    [
        "limit",
        "offset",
        "count",
        "q",
        "georel",
        "geometry",
        "coordinates",
        "idPattern",
        "scopeQ",
        "orderBy",
        "orderFrom",
        "orderGeometry",
        "collation",
    ]
)


def check_parameters(request: Request, known: frozenset[str] = KNOWN_PARAMETERS) -> None:
    """Unknown parameters are an InvalidRequest (clause 6.3.20); a repeated one, each being of
    cardinality 0..1 (lists are comma-separated), a BadRequestData naming it, rather than
    reading only its last occurrence."""
    query_params = request.query_params
    unknown = [k for k in query_params if k not in known]
    if unknown:
        raise InvalidRequest(f"unknown query parameter(s): {', '.join(sorted(set(unknown)))}")
    pairs = query_params.multi_items()
    if len(pairs) > len(query_params):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise BadRequestData(
                    f"{key} is given more than once; it takes one value (a list is comma-separated)"
                )
            seen.add(key)


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.dalgu
    return rt


def _geometry_property_needs_geojson(request: Request, accept: str) -> None:
    """Clauses 5.7.1.4 and 5.7.2.4: "If geometryProperty parameter is present and the Accept
    Header is not set to "application/geo+json", then an error of type BadRequestData shall
    be raised" (it was left unread)."""
    if "geometryProperty" in request.query_params and accept != neg.GEO_JSON:
        raise BadRequestData("geometryProperty needs Accept: application/geo+json")


async def read_context(
    request: Request, *, geojson: bool = False, known: frozenset[str] = KNOWN_PARAMETERS
) -> neg.RequestContext:
    """For requests without a body: tenant, Accept and the Link-header context; the query
    parameters checked against those the resource takes (`known`)."""
    rt = runtime(request)
    if request.query_params:
        check_parameters(request, known)
    accept = neg.negotiate(request, geojson=geojson)
    if geojson:
        _geometry_property_needs_geojson(request, accept)
    tenant = neg.tenant_of(request)
    context = neg.link_context(request)
    terms = await rt.resolver.resolve(context)
    return neg.RequestContext(tenant, terms, context, accept, neg.preferences(request, accept))


async def read_body(
    request: Request,
    *,
    merge_patch: bool = False,
    geojson: bool = False,
    batch: bool = False,
    an_object: bool = False,
) -> tuple[neg.RequestContext, Any]:
    """For requests with a body: media type, size and depth limits, JSON, and its context.

    With `an_object`, anything but a JSON object is an InvalidRequest. With `batch`, an array
    body's items carry or lack their own @context: the items are checked one by one, so one
    bad item is one error, not a failed request.
    """
    rt = runtime(request)
    headers = request.headers
    if "content-length" not in headers and "transfer-encoding" not in headers:
        # clauses 6.3.2, 6.3.4: "just a 411" (a chunked body has no length, and is taken)
        raise HTTPException(411)
    if request.query_params:
        check_parameters(request)
    media = neg.body_media_type(request, merge_patch=merge_patch)
    accept = neg.negotiate(request, geojson=geojson)
    if geojson:
        _geometry_property_needs_geojson(request, accept)
    tenant = neg.tenant_of(request)
    body = await neg.read_json(request, rt.settings.max_json_depth)
    if an_object and not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    if batch and isinstance(body, list):
        context = neg.link_context(request)
        if media == neg.JSON_LD and context is not None:
            raise BadRequestData("application/ld+json requests must not carry a context Link")
    else:
        context = await neg.body_context(request, body, media)
    terms = await rt.resolver.resolve(context)
    applied = neg.preferences(request, accept)
    return neg.RequestContext(tenant, terms, context, accept, applied), body


def uri_param(request: Request, name: str, what: str) -> str:
    """A path parameter that must be a URI (an id), else BadRequestData naming `what`."""
    value: str = request.path_params[name]
    if not is_uri(value):
        raise BadRequestData(f"{what} {value!r} is not a URI")
    return value


def entity_id_param(request: Request) -> str:
    """The entity id of the path. A path whose id would end in an unencoded `/attrs` or
    `/attrs/{x}` names the attributes' resource with a method it does not have (GET of
    `/entities/{id}/attrs`, clause 6.6.3): a 405 naming its methods (clause 6.3.2), not a 404
    of an entity `{id}/attrs`. An id that holds `/attrs` is sent with its slash encoded."""
    entity_id = uri_param(request, "entity_id", "entity id")
    if _ATTRS_TAIL.search(entity_id) and _RAW_ATTRS_TAIL.search(request.scope.get("raw_path", b"")):
        raise MethodNotAllowed(f"{request.method} is not a method of this attributes resource")
    return entity_id


_ATTRS_TAIL = re.compile(r"/attrs(?:/[^/]+)?$")
_RAW_ATTRS_TAIL = re.compile(rb"/attrs(?:/[^/]+)?/?$")
