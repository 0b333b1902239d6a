"""`dalgu demo`: load the simulated city into the embedded store and show where to look."""

from __future__ import annotations

from importlib import resources

import orjson
from rich.console import Console

from dalgu.broker.model import now_iso
from dalgu.broker.parse import parse_entity
from dalgu.broker.service import EntityService
from dalgu.ldcontext import ContextResolver
from dalgu.settings import Settings
from dalgu.store.factory import open_store


def city_context() -> dict[str, object]:
    raw = resources.files("dalgu.simulation").joinpath("context.jsonld").read_bytes()
    document: dict[str, object] = orjson.loads(raw)
    return document


async def load_city(settings: Settings, count: int) -> int:
    """Upsert the simulated city; returns how many entities it holds."""
    import importlib

    city = importlib.import_module("dalgu.simulation.city")

    store = open_store(settings)
    await store.open()
    try:
        terms = await ContextResolver().resolve(city_context()["@context"])
        now = now_iso()
        entities = [parse_entity(e, terms, now) for e in city.city_entities(count)]
        result = await EntityService(store).batch_upsert("", entities, "replace")
        return len(result.success)
    finally:
        await store.close()


def print_tour(console: Console, settings: Settings, count: int) -> None:
    api = f"{settings.base_url}/ngsi-ld/v1"
    console.print(f"\n[bold green]Dalgu is loading a simulated Daegu[/] ({count} entities)\n")
    console.print("Serving:")
    console.print(f"  NGSI-LD API      {api}/entities?type=ParkingSpot")
    console.print(f"  Entity types     {api}/types")
    console.print(f"  Attributes       {api}/attributes")
    console.print(f"  OpenAPI          {api}/openapi.json")
    console.print(f"  API docs         {api}/docs")
    console.print(f"  Health           {settings.base_url}/health")
    link = "<" + api + '/jsonldContexts/dalgu-city>; rel="http://www.w3.org/ns/json-ld#context"'
    console.print("\nTry:")
    console.print(
        f"  curl -s '{api}/entities?type=https://smartdatamodels.org/dataModel.Parking/"
        "ParkingSpot&limit=2' | python3 -m json.tool"
    )
    console.print(f"  curl -s -H '{link}' '{api}/entities?type=AirQualityObserved&limit=1'\n")
