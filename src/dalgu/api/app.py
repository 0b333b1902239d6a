"""The ASGI application: Starlette routing (no framework encoder on hot paths), one error map.

Authentication will be a middleware placed in `build_app` that puts an identity on the request
scope; handlers and services do not change for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dalgu.api import (
    batch,
    catalogue,
    contexts,
    csource_subscriptions,
    dashboard,
    entities,
    identity,
    not_built,
    openapi,
    purge,
    registrations,
    subscriptions,
    temporal,
    wifi,
)
from dalgu.api import fhir as fhir_api
from dalgu.api import opendata as opendata_api
from dalgu.api.attribute_paths import with_attribute_segment
from dalgu.api.bodylimit import BoundedBody
from dalgu.api.cors import with_cors
from dalgu.api.edge import Runtime
from dalgu.api.health import health
from dalgu.api.outage import OutageAnswer
from dalgu.api.problem import (
    client_gone_handler,
    dalgu_error_handler,
    http_error_handler,
    problem_response,
    unexpected_error_handler,
)
from dalgu.api.respond import CONTEXTS_PATH, VARY
from dalgu.api.retrieve import EntityRetrieval
from dalgu.api.route_groups import GroupedRouter
from dalgu.api.version import version
from dalgu.broker.contexts import hosted_context_resolver
from dalgu.broker.rendered import RenderCache
from dalgu.broker.service import EntityService
from dalgu.collector import restore, settle
from dalgu.devices.context import device_terms
from dalgu.devices.service import DeviceService
from dalgu.errors import BadRequestData, DalguError
from dalgu.federation.client import ContextSourceClient
from dalgu.federation.distributor import Distributor, via_name
from dalgu.feed.relay import start_feed
from dalgu.fhir.service import FhirService
from dalgu.fhir.wearables import WearableRecorder
from dalgu.gateway import http as gateway_http
from dalgu.gateway import testbed_http
from dalgu.gateway.listeners import start_listeners
from dalgu.gateway.service import start_mqtt_gateway
from dalgu.heap import HeapTrim
from dalgu.opendata.service import OpenDataService
from dalgu.query.duration import parse_duration
from dalgu.registrations import RegistrationService
from dalgu.registrations.subscriptions import CSourceSubscriptionService
from dalgu.settings import Settings
from dalgu.store.base import (
    DatasetStore,
    DeviceRegistry,
    EntityStore,
    FhirStore,
    RegistrationStore,
    ReportArchive,
    RunJournal,
    SandboxRegistry,
    SubscriptionStore,
    TemporalStore,
)
from dalgu.store.factory import open_store
from dalgu.subscriptions import Notifier, SubscriptionService
from dalgu.temporal.retention import RetentionPolicy
from dalgu.temporal.service import TemporalService
from dalgu.testbed.runs import RECENT, TestbedService
from dalgu.testbed.sandboxes import SandboxService
from dalgu.wifi.monitor import WifiMonitor
from dalgu.wifi.service import WifiService

V1 = "/ngsi-ld/v1"
FHIR = "/fhir"
log = logging.getLogger(__name__)


def routes() -> list[BaseRoute]:
    e, b, c, x, s, t = entities, batch, catalogue, contexts, subscriptions, temporal
    # the hottest route first: Starlette tries routes in order (no GET exists below /attrs)
    return [
        Route(f"{V1}/entities/{{entity_id:path}}", e.retrieve_entity, methods=["GET"]),
        Route(f"{V1}/entities", e.create_entity, methods=["POST"]),
        Route(f"{V1}/entities", e.query_entities, methods=["GET"]),
        Route(
            f"{V1}/entities/{{entity_id:path}}/attrs/{{attr}}", e.patch_attribute, methods=["PATCH"]
        ),
        Route(
            f"{V1}/entities/{{entity_id:path}}/attrs/{{attr}}", e.replace_attribute, methods=["PUT"]
        ),
        Route(
            f"{V1}/entities/{{entity_id:path}}/attrs/{{attr}}",
            e.delete_attribute,
            methods=["DELETE"],
        ),
        Route(f"{V1}/entities/{{entity_id:path}}/attrs", e.append_attributes, methods=["POST"]),
        Route(f"{V1}/entities/{{entity_id:path}}/attrs", e.update_attributes, methods=["PATCH"]),
        Route(
            f"{V1}/entities/{{entity_id:path}}/attrs",
            e.attrs_method_not_allowed,
            methods=["DELETE", "PUT"],
        ),
        Route(f"{V1}/entities", e.entity_id_missing, methods=["PATCH", "PUT"]),
        Route(f"{V1}/entities", purge.purge_entities, methods=["DELETE"]),
        Route(f"{V1}/entities/{{entity_id:path}}", e.delete_entity, methods=["DELETE"]),
        Route(f"{V1}/entities/{{entity_id:path}}", e.replace_entity, methods=["PUT"]),
        Route(f"{V1}/entities/{{entity_id:path}}", e.merge_entity, methods=["PATCH"]),
        Route(f"{V1}/entityOperations/create", b.batch_create, methods=["POST"]),
        Route(f"{V1}/entityOperations/upsert", b.batch_upsert, methods=["POST"]),
        Route(f"{V1}/entityOperations/update", b.batch_update, methods=["POST"]),
        Route(f"{V1}/entityOperations/merge", b.batch_merge, methods=["POST"]),
        Route(f"{V1}/entityOperations/delete", b.batch_delete, methods=["POST"]),
        Route(f"{V1}/entityOperations/query", b.query_post, methods=["POST"]),
        Route(f"{V1}/subscriptions", s.create_subscription, methods=["POST"]),
        Route(f"{V1}/subscriptions", s.query_subscriptions, methods=["GET"]),
        Route(
            f"{V1}/subscriptions/{{subscription_id:path}}", s.retrieve_subscription, methods=["GET"]
        ),
        Route(
            f"{V1}/subscriptions/{{subscription_id:path}}", s.update_subscription, methods=["PATCH"]
        ),
        Route(
            f"{V1}/subscriptions/{{subscription_id:path}}",
            s.delete_subscription,
            methods=["DELETE"],
        ),
        *_registration_routes(),
        Route(f"{V1}/info/sourceIdentity", identity.source_identity, methods=["GET"]),
        Route(f"{V1}/temporal/entities", t.query_temporal, methods=["GET"]),
        Route(f"{V1}/temporal/entities", t.create_temporal, methods=["POST"]),
        Route(f"{V1}/temporal/entityOperations/query", t.query_temporal_post, methods=["POST"]),
        Route(
            f"{V1}/temporal/entities/{{entity_id:path}}/attrs//{{instance_id}}",
            t.missing_attribute,
            methods=["PATCH", "DELETE"],
        ),
        Route(
            f"{V1}/temporal/entities/{{entity_id:path}}/attrs/{{attr}}/{{instance_id}}",
            t.modify_instance,
            methods=["PATCH"],
        ),
        Route(
            f"{V1}/temporal/entities/{{entity_id:path}}/attrs/{{attr}}/{{instance_id}}",
            t.delete_instance,
            methods=["DELETE"],
        ),
        Route(
            f"{V1}/temporal/entities/{{entity_id:path}}/attrs/{{attr}}",
            t.delete_temporal_attribute,
            methods=["DELETE"],
        ),
        Route(
            f"{V1}/temporal/entities/{{entity_id:path}}/attrs", t.append_temporal, methods=["POST"]
        ),
        Route(f"{V1}/temporal/entities/{{entity_id:path}}", t.retrieve_temporal, methods=["GET"]),
        Route(f"{V1}/temporal/entities/{{entity_id:path}}", t.delete_temporal, methods=["DELETE"]),
        Route(f"{V1}/types", c.list_types, methods=["GET"]),
        Route(f"{V1}/types/{{type:path}}", c.type_info, methods=["GET"]),
        Route(f"{V1}/attributes", c.list_attributes, methods=["GET"]),
        Route(f"{V1}/attributes/{{attr:path}}", c.attribute_info, methods=["GET"]),
        Route(f"{V1}/jsonldContexts", x.create_context, methods=["POST"]),
        Route(f"{V1}/jsonldContexts", x.list_contexts, methods=["GET"]),
        Route(f"{V1}/jsonldContexts/{{context_id:path}}", x.get_context, methods=["GET"]),
        Route(f"{V1}/jsonldContexts/{{context_id:path}}", x.delete_context, methods=["DELETE"]),
        *not_built.routes(V1),
        Route(f"{V1}/openapi.json", openapi.document, methods=["GET"]),
        Route(f"{V1}/docs", openapi.docs_page, methods=["GET"]),
        Mount(f"{V1}/docs/static", app=openapi.static_files()),
        Route("/health", health, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        *gateway_http.routes(),
        *testbed_http.routes(),
        *fhir_api.routes(),
        *opendata_api.routes(),
        *dashboard.routes(),
        *wifi.routes(),
    ]


def _registration_routes() -> list[BaseRoute]:
    r, c = registrations, csource_subscriptions
    one = f"{V1}/csourceRegistrations/{{registration_id:path}}"
    sub = f"{V1}/csourceSubscriptions/{{subscription_id:path}}"
    return [
        Route(f"{V1}/csourceRegistrations", r.create_registration, methods=["POST"]),
        Route(f"{V1}/csourceRegistrations", r.query_registrations, methods=["GET"]),
        Route(one, r.retrieve_registration, methods=["GET"]),
        Route(one, r.update_registration, methods=["PATCH"]),
        Route(one, r.delete_registration, methods=["DELETE"]),
        Route(f"{V1}/csourceSubscriptions", c.create_csource_subscription, methods=["POST"]),
        Route(f"{V1}/csourceSubscriptions", c.query_csource_subscriptions, methods=["GET"]),
        Route(sub, c.retrieve_csource_subscription, methods=["GET"]),
        Route(sub, c.update_csource_subscription, methods=["PATCH"]),
        Route(sub, c.delete_csource_subscription, methods=["DELETE"]),
    ]


SHUTDOWN_SECONDS = 10.0


async def _bounded(stopping: Awaitable[None], what: str) -> None:
    try:
        await asyncio.wait_for(stopping, SHUTDOWN_SECONDS)
    except TimeoutError:
        log.error("%s did not stop within %.0f s; shutting down without it", what, SHUTDOWN_SECONDS)


def build_app(settings: Settings, store: EntityStore | None = None) -> TrailingSlash:
    """The ASGI app; opens `store` (or the one settings name) for the app's lifetime."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        the_store = store or open_store(settings)
        # the service gives the store its rendering before it opens: kept renderings are
        # brought up to date as it opens
        service = EntityService(the_store)
        await the_store.open()

        resolver = hosted_context_resolver(settings, the_store)
        runtime = Runtime(settings, the_store, service, resolver)
        runtime.rendered = RenderCache(settings.render_cache_mib * 2**20)
        notifier = None
        relay = None
        if isinstance(the_store, SubscriptionStore):
            runtime.subscriptions = SubscriptionService(the_store)
            if settings.notifier == "inline":
                notifier = Notifier(
                    the_store, resolver, the_store, backlog=settings.notification_backlog
                )
                service.listeners.append(notifier.changed)
                notifier.start()
                relay = await start_feed(settings, the_store, notifier)
        if isinstance(the_store, RegistrationStore):
            if isinstance(the_store, SubscriptionStore):
                runtime.csource_subscriptions = CSourceSubscriptionService(
                    the_store, the_store, resolver
                )
            runtime.distributor = Distributor(
                the_store,
                ContextSourceClient(
                    settings.forward_timeout,
                    request_tenant=settings.forward_tenant == "request",
                ),
                via_name(settings),
            )
            runtime.registrations = RegistrationService(
                the_store,
                the_store,
                runtime.csource_subscriptions,
                changed=runtime.distributor.forget,
            )
        retention = None
        if isinstance(the_store, TemporalStore):
            runtime.temporal = TemporalService(the_store)
            if settings.temporal_retention:
                keep = parse_duration(settings.temporal_retention, "temporal_retention")
                retention = RetentionPolicy(
                    runtime.temporal, keep, settings.temporal_retention_interval
                )
                retention.start()
        if isinstance(the_store, DeviceRegistry):
            runtime.devices = DeviceService(
                the_store,
                service,
                await device_terms(settings, resolver),
                lazy_timeout=settings.device_lazy_timeout,
                command_expiry=settings.device_command_expiry,
            )
            if runtime.devices.polling is not None:
                runtime.devices.polling.start()
            if isinstance(the_store, ReportArchive) and isinstance(the_store, RunJournal):
                runtime.testbed = TestbedService(
                    runtime.devices,
                    the_store,
                    the_store,
                    recent=RECENT if settings.workers > 1 else 0.0,
                )
                runtime.testbed.open()
            if isinstance(the_store, SandboxRegistry):
                subscriptions_store = (
                    the_store if isinstance(the_store, SubscriptionStore) else None
                )
                runtime.sandboxes = SandboxService(
                    the_store, service, the_store, subscriptions_store
                )
                runtime.devices.admission = runtime.sandboxes
                runtime.device_auth = runtime.sandboxes.keys.authenticate
        if isinstance(the_store, FhirStore):
            runtime.fhir = FhirService(
                the_store,
                default_count=settings.fhir_default_count,
                max_count=settings.fhir_max_count,
            )
        if isinstance(the_store, DatasetStore):
            runtime.opendata = OpenDataService(
                the_store, service, runtime.temporal, resolver, token=settings.opendata_token
            )
        vitals = None
        if runtime.fhir is not None and settings.fhir_vitals:
            vitals = WearableRecorder(runtime.fhir, settings.fhir_vitals_window)
            service.listeners.append(vitals.changed)
            vitals.start()
        app.state.dalgu_vitals = vitals
        runtime.wifi = WifiService(
            service,
            silence=settings.wifi_silence,
            radius=settings.wifi_radius,
            capacity=settings.wifi_capacity,
        )
        wifi_monitor = None
        if settings.wifi_interval > 0:
            wifi_monitor = WifiMonitor(runtime.wifi, service, settings.wifi_interval)
            wifi_monitor.start()
        app.state.dalgu = runtime
        safety = None
        if settings.safety and runtime.devices is not None:
            from dalgu.fhir.summary import SafetyMedicalSummaries
            from dalgu.safety.service import SafetyService

            medical = SafetyMedicalSummaries(runtime.fhir) if runtime.fhir is not None else None
            safety = SafetyService(service, resolver.core, medical=medical)
            runtime.devices.traffic.observers.append(safety.observe)
            safety.start()
        app.state.dalgu_safety = safety
        gateway = await start_mqtt_gateway(settings, runtime.devices, runtime.device_auth)
        app.state.dalgu_gateway = gateway
        listeners = await start_listeners(settings, runtime)
        app.state.dalgu_listeners = listeners
        # what start-up loaded (modules, the collation table, compiled contexts) lives as long
        # as the app: out of the collector's sight, a full collection under load no longer
        # stalls every request for ~40 ms twice a second (q at -c1: p99 35 -> 9 ms); young
        # collections every `gc_young_threshold` allocations, not every few entities written
        collector = settle(settings.gc_young_threshold, settings.gc_freeze)
        heap = HeapTrim(settings.heap_trim_interval)
        heap.start()
        app.state.dalgu_heap = heap
        try:
            yield
        finally:
            await heap.stop()
            # each part gets a bounded time to stop: a stuck one is logged, never a hang
            if retention is not None:
                await _bounded(retention.stop(), "temporal retention")
            if wifi_monitor is not None:
                await _bounded(wifi_monitor.stop(), "Wi-Fi monitor")
            await _bounded(listeners.stop(), "gateway ports")
            await _bounded(gateway.stop(), "MQTT gateway")
            if runtime.testbed is not None:
                await _bounded(runtime.testbed.stop(), "testbed runs")
            if runtime.devices is not None and runtime.devices.polling is not None:
                await _bounded(runtime.devices.polling.stop(), "command expiry")
            if safety is not None:
                await _bounded(safety.stop(), "safety service")
            if notifier is not None:
                await _bounded(notifier.stop(), "notifier")
            if relay is not None:
                await _bounded(relay.stop(), "change feed")
            if vitals is not None:
                await _bounded(vitals.stop(), "wearable vital signs")
            await _bounded(resolver.close(), "context resolver")
            if runtime.distributor is not None:
                await _bounded(runtime.distributor.client.close(), "context source client")
            await the_store.close()
            restore(collector)  # an app made and dropped (tests) leaves nothing uncollectable

    app = Starlette(
        lifespan=lifespan,
        middleware=[
            Middleware(BoundedBody, settings.max_body_bytes, settings.body_timeout),
            Middleware(OutageAnswer),
        ],
        exception_handlers={
            DalguError: dalgu_error_handler,
            HTTPException: http_error_handler,
            ClientDisconnect: client_gone_handler,
            Exception: unexpected_error_handler,
        },
    )
    # before the first request builds the middleware stack around it
    app.router = GroupedRouter(routes(), lifespan=lifespan)
    return TrailingSlash(app, settings.cors_origin_list)


class TrailingSlash:
    """`/ngsi-ld/v1/entities/` is `/ngsi-ld/v1/entities` (and `/fhir/Patient/` is
    `/fhir/Patient`, `/fhir/` is `/fhir`): clients (and the ETSI suite) write collection URLs
    both ways, and FHIR clients post batches and transactions to their base URL with its
    slash."""

    def __init__(self, app: Starlette, cors_origins: list[str] | None = None) -> None:
        # the hottest request skips the routing: middleware that must see every request
        # (authentication, CORS) goes around this, not inside Starlette
        self.app = with_cors(EntityRetrieval(_varying(app), app.state), cors_origins or [])
        self.state = app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.endswith("/") and (
                any(
                    path.startswith(root) and len(path) > len(root) + 1
                    for root in (V1, FHIR, "/iot")  # the IoT Agent's paths on the API port too
                )
                or path == FHIR + "/"  # the base URL of a FHIR client (batch, transaction)
            ):
                trimmed = path.rstrip("/")
                scope = {**scope, "path": trimmed, "raw_path": trimmed.encode()}
            if path.startswith(V1):
                scope = with_attribute_segment(scope)
                tenant, service = _tenant_headers(scope)
                if service is not None:  # Fiware-Service, as Orion-LD takes it
                    if tenant is None:
                        tenant = service.lower()
                        headers = [*scope["headers"], (b"ngsild-tenant", tenant)]
                        scope = {**scope, "headers": headers}
                    elif tenant.lower() != service.lower():
                        error = BadRequestData(
                            "the NGSILD-Tenant and Fiware-Service headers name two tenants: "
                            "a request has one (send NGSILD-Tenant alone)"
                        )
                        await problem_response(error)(scope, receive, send)
                        return
                if tenant is not None:
                    send = _echoing(send, tenant)
        await self.app(scope, receive, send)


def _tenant_headers(scope: Scope) -> tuple[bytes | None, bytes | None]:
    """The request's `NGSILD-Tenant` and `Fiware-Service` (the first line of each).

    Orion-LD takes `Fiware-Service` as the tenant too (lower-cased, as the IoT Agents and
    Dalgu's gateway keep it), and refuses the two naming different tenants: clients ported from
    NGSI-v2 and the FIWARE tutorials send it, and their data went to the default tenant."""
    tenant = service = None
    for name, value in scope["headers"]:
        if name == b"ngsild-tenant" and tenant is None:
            tenant = bytes(value)
        elif name == b"fiware-service" and service is None:
            service = bytes(value)
    return tenant, service


def _varying(app: ASGIApp) -> ASGIApp:
    """`app` whose NGSI-LD answers carry `Vary` (the GET shortcut, `retrieve.py`, which
    answers before it, puts it in its own headers)."""

    async def vary(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(V1):
            await app(scope, receive, send)
            return

        async def varying(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (b"vary", VARY)]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, varying)

    return vary


def _echoing(send: Send, tenant: bytes) -> Send:
    """`send` with the request's tenant in the response's headers (clause 5.5.10: "In case an
    operation applies to a Tenant, this information shall also be provided in the
    response")."""

    async def echo(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", ()))
            if not any(name.lower() == b"ngsild-tenant" for name, _ in headers):
                headers.append((b"NGSILD-Tenant", tenant))
            message = {**message, "headers": headers}
        await send(message)

    return echo


__all__ = ["CONTEXTS_PATH", "build_app"]
