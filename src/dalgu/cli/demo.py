"""`dalgu demo`: load the simulated city into the embedded store and show where to look."""

from __future__ import annotations

import contextlib
import multiprocessing
import random
import time
from datetime import UTC, datetime, timedelta
from importlib import resources
from multiprocessing.process import BaseProcess
from typing import Any

import httpx
import orjson
from rich.console import Console

from dalgu.broker.model import now_iso
from dalgu.broker.parse import parse_entity
from dalgu.broker.service import EntityService
from dalgu.ldcontext import ContextResolver
from dalgu.settings import Settings
from dalgu.simulation import city_entities, tick
from dalgu.simulation.wifi import wifi_entities, wifi_tick
from dalgu.store.factory import open_store

CITY_CONTEXT_ID = "dalgu-city"


def city_context() -> dict[str, object]:
    raw = resources.files("dalgu.simulation").joinpath("context.jsonld").read_bytes()
    document: dict[str, object] = orjson.loads(raw)
    return document


async def load_city(settings: Settings, count: int) -> int:
    """Upsert the simulated city and its public Wi-Fi, and host their @context; returns how
    many city entities it holds (the Wi-Fi's zones and access points besides)."""
    store = open_store(settings)
    await store.open()
    try:
        document = city_context()
        await store.put_context(CITY_CONTEXT_ID, orjson.dumps(document), "Hosted")
        terms = await ContextResolver().resolve(document["@context"])
        now = now_iso()
        entities = [parse_entity(e, terms, now) for e in city_entities(count)]
        service = EntityService(store)
        result = await service.batch_upsert("", entities, "replace")
        wifi = [parse_entity(e, terms, now) for e in wifi_entities(now=datetime.now(UTC))]
        await service.batch_upsert("", wifi, "replace")
        await publish_examples(settings, store, service)
        return len(result.success)
    finally:
        await store.close()


def example_datasets(settings: Settings) -> list[dict[str, Any]]:
    """Two open datasets over the simulated city: parking spots as they are now, and hourly
    air-quality aggregates (street addresses and devices withheld)."""
    context = f"{settings.base_url}/ngsi-ld/v1/jsonldContexts/{CITY_CONTEXT_ID}"
    # hourly buckets on the hour: counted from midnight (UTC) of the day before the load
    since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z")
    return [
        {
            "name": "daegu-parking",
            "title": "Daegu parking spots",
            "notes": "Whether each public parking spot is free now, located to 100 m.",
            "tags": ["parking", "mobility"],
            "organization": "daegu-city",
            "license_id": "KOGL-Type1",
            "entity_type": "ParkingSpot",
            "attributes": ["status", "category"],
            "geometry_attribute": "location",
            "withheld_attributes": ["refParkingSite"],
            "grid_metres": 100,
            "context": context,
        },
        {
            "name": "daegu-air-quality-hourly",
            "title": "Daegu air quality, hourly",
            "notes": "Hourly mean and peak PM10, PM2.5 and NO2 of each station, located to 500 m.",
            "tags": ["air", "environment"],
            "organization": "daegu-city",
            "license_id": "KOGL-Type1",
            "entity_type": "AirQualityObserved",
            "attributes": ["pm10", "pm25", "no2"],
            "geometry_attribute": "location",
            "withheld_attributes": ["address", "refDevice"],
            "grid_metres": 500,
            "aggregate_period": "PT1H",
            "aggregate_methods": ["avg", "max"],
            "aggregate_since": since,
            "context": context,
        },
    ]


async def publish_examples(settings: Settings, store: Any, service: EntityService) -> None:
    """Publish (or replace) the example datasets in the default tenant."""
    from dalgu.broker.contexts import hosted_context_resolver
    from dalgu.cli.opendata import upsert
    from dalgu.opendata.service import OpenDataService

    resolver = hosted_context_resolver(settings, store)
    try:
        opendata = OpenDataService(store, service, None, resolver)
        for fields in example_datasets(settings):
            await upsert(opendata, "", fields)
    finally:
        await resolver.close()


def city_link(settings: Settings) -> str:
    url = f"{settings.base_url}/ngsi-ld/v1/jsonldContexts/{CITY_CONTEXT_ID}"
    return f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


def _simulate(base_url: str, link: str, count: int, every: float) -> None:
    rng = random.Random(11)
    entities = city_entities(count)
    hotspots = wifi_entities(now=datetime.now(UTC))
    url = f"{base_url}/ngsi-ld/v1/entityOperations/upsert?options=update"
    # Ctrl-C in the terminal reaches this process too: the demo is over, quietly
    with contextlib.suppress(KeyboardInterrupt), httpx.Client(timeout=10) as client:
        while True:
            time.sleep(every)
            updates = tick(entities, rng) + wifi_tick(hotspots, rng, now=datetime.now(UTC))
            try:
                client.post(url, json=updates, headers={"Link": link})
            except httpx.HTTPError:
                continue  # the server is starting or stopping


def run_simulation(settings: Settings, count: int, every: float = 2.0) -> BaseProcess:
    """Keep the city alive: every `every` seconds, a tenth of it reports new readings.

    A separate (spawned) process: the server forks its workers, which must not inherit a
    running client thread.
    """
    process = multiprocessing.get_context("spawn").Process(
        target=_simulate,
        args=(settings.base_url, city_link(settings), count, every),
        name="dalgu-city-simulation",
        daemon=True,
    )
    process.start()
    return process


def print_tour(console: Console, settings: Settings, count: int) -> None:
    api = f"{settings.base_url}/ngsi-ld/v1"
    link = city_link(settings)
    lines = [
        "",
        f"Dalgu is serving a simulated Daegu ({count} entities, updated every 2 s)",
        "",
        "Serving:",
        f"  Dashboard          {settings.base_url}/dashboard  (한국어; English: ?lang=en)",
        f"  NGSI-LD API        {api}",
        f"  Entity types       {api}/types",
        f"  Attributes         {api}/attributes?details=true",
        f"  Subscriptions      {api}/subscriptions",
        f"  Temporal history   {api}/temporal/entities",
        f"  Registrations      {api}/csourceRegistrations?type=Vehicle  (context sources)",
        f"  Source identity    {api}/info/sourceIdentity",
        f"  City @context      {api}/jsonldContexts/{CITY_CONTEXT_ID}",
        f"  Wi-Fi zones        {settings.base_url}/wifi/zones  (coverage: /wifi/coverage)",
        f"  OpenAPI            {api}/openapi.json",
        f"  API docs           {api}/docs",
        f"  Health             {settings.base_url}/health  (version: /version)",
        f"  FHIR R4            {settings.base_url}/fhir  (CapabilityStatement: /fhir/metadata)",
        *opendata_lines(settings),
        *gateway_lines(settings),
        "",
        "Try:",
        f"  curl -s -H 'Link: {link}' "
        f"'{api}/entities?type=ParkingSpot&q=status==%22free%22&limit=2'",
        f"  curl -s -H 'Link: {link}' '{api}/temporal/entities?type=AirQualityObserved"
        "&attrs=pm10&lastN=5&limit=1'",
        *gateway_tour(settings),
        f"  curl -s '{settings.base_url}/fhir/Patient?_count=5' -H 'X-Dalgu-Role: admin'",
        f"  curl -s '{settings.base_url}/opendata/api/3/action/package_search?fq=tags:parking'",
        f"  curl -s '{opendata_download(settings, 'daegu-parking', 'csv')}' | head -5",
        "",
        "Learn by doing (runnable lessons, docs/tutorials):",
        "  .venv/bin/dalgu tutorial list",
        "  .venv/bin/dalgu tutorial run entities --pause",
        "",
    ]
    for line in lines:
        console.print(line, soft_wrap=True, highlight=False, markup=False)


def opendata_download(settings: Settings, name: str, extension: str) -> str:
    return f"{settings.base_url}/opendata/dataset/{name}/download/{name}.{extension}"


def opendata_lines(settings: Settings) -> list[str]:
    """The open-data portal: its CKAN API, DCAT catalogue and the examples' downloads."""
    portal = f"{settings.base_url}/opendata"
    lines = [
        "",
        "Open data (de-identified):",
        f"  Portal             {portal}  (each dataset's page: /opendata/dataset/<id>.html)",
        f"  CKAN API           {portal}/api/3/action/package_list",
        f"  DCAT catalogue     {portal}/catalog.jsonld  (also .ttl, .rdf)",
    ]
    for dataset in example_datasets(settings):
        name = dataset["name"]
        lines.append(f"  Dataset            {portal}/api/3/action/package_show?id={name}")
        for extension in ("csv", "geojson", "parquet"):
            lines.append(f"    download         {opendata_download(settings, name, extension)}")
    return lines


def gateway_lines(settings: Settings) -> list[str]:
    """Where devices and provisioning scripts reach the gateway (the IoT Agents' ports)."""
    host = settings.host
    lines = ["", "Device gateway (FIWARE IoT Agent compatible):"]
    north = f"http://{host}:{settings.iot_north_port}" if settings.iot_north_port else None
    provisioning = north or settings.base_url
    lines.append(f"  Provisioning API   {provisioning}/iot/services, /iot/devices")
    lines.append(f"  Testbed            {provisioning}/testbed/sandboxes, /testbed/runs")
    if settings.iot_south_port:
        south = f"http://{host}:{settings.iot_south_port}"
        lines.append(f"  HTTP southbound    {south}/iot/d (UltraLight 2.0), {south}/iot/json")
    if settings.coap_port:
        lines.append(f"  CoAP southbound    coap://{host}:{settings.coap_port}/iot/d, /iot/json")
    if settings.mqtt_broker != "off":
        mqtt_host, mqtt_port = settings.mqtt_address
        kind = "embedded broker" if settings.mqtt_broker == "embedded" else "broker"
        lines.append(
            f"  MQTT ({kind})  mqtt://{mqtt_host}:{mqtt_port}  topics /<apikey>/<device>/attrs"
        )
    return lines


def gateway_tour(settings: Settings) -> list[str]:
    north = (
        f"http://{settings.host}:{settings.iot_north_port}"
        if settings.iot_north_port
        else settings.base_url
    )
    south = (
        f"http://{settings.host}:{settings.iot_south_port}"
        if settings.iot_south_port
        else settings.base_url
    )
    group = (
        '{"services":[{"apikey":"demo-key","entity_type":"Thermometer","attributes":'
        '[{"object_id":"t","name":"temperature","type":"Number"}]}]}'
    )
    return [
        f"  curl -s -X POST {north}/iot/services -H 'Content-Type: application/json' -d '{group}'",
        f"  curl -s -X POST '{south}/iot/d?k=demo-key&i=thermo1' -d 't|21.5'",
        f"  curl -s '{settings.base_url}/ngsi-ld/v1/entities/urn:ngsi-ld:Thermometer:thermo1'",
    ]
