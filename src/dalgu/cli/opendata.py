"""`dalgu opendata`: publish, list and delete open datasets in the store the settings name
(an operator on the machine: no API token needed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dalgu.errors import DalguError, InvalidFields, ResourceNotFound
from dalgu.settings import InvalidSettings, Settings

if TYPE_CHECKING:  # the service loads on use: `dalgu --help` stays quick
    from dalgu.opendata.model import Dataset
    from dalgu.opendata.service import OpenDataService

opendata = typer.Typer(help="Publish de-identified datasets (CKAN, DCAT).", no_args_is_help=True)
console = Console()
T = TypeVar("T")

ConfigOption = typer.Option(None, "--config", "-c", help="TOML settings file (a \\[dalgu] table).")
TenantOption = typer.Option("", "--tenant", help="The tenant (NGSILD-Tenant) of the datasets.")
TagOption = typer.Option([], "--tag", help="A tag (repeat for more).")
JsonOption = typer.Option(
    None, "--json", help="Take the fields from a CKAN package JSON file instead."
)


async def _with_service(settings: Settings, run: Callable[[OpenDataService], Awaitable[T]]) -> T:
    from dalgu.broker.contexts import hosted_context_resolver
    from dalgu.broker.service import EntityService
    from dalgu.opendata.service import OpenDataService
    from dalgu.store.base import DatasetStore
    from dalgu.store.factory import open_store

    store = open_store(settings)
    await store.open()
    resolver = hosted_context_resolver(settings, store)
    try:
        assert isinstance(store, DatasetStore)
        return await run(OpenDataService(store, EntityService(store), None, resolver))
    finally:
        await resolver.close()
        await store.close()


def _settings(config: Path | None) -> Settings:
    try:
        return Settings.load(config)
    except InvalidSettings as exc:
        console.print(f"[red]dalgu: invalid settings[/]\n{escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None


def _run(config: Path | None, run: Callable[[OpenDataService], Awaitable[T]]) -> T:
    try:
        return asyncio.run(_with_service(_settings(config), run))
    except InvalidFields as exc:
        for name, problems in exc.fields.items():
            console.print(f"[red]{name}[/]: {' '.join(problems)}", highlight=False)
        raise typer.Exit(2) from None
    except DalguError as exc:
        console.print(f"[red]{exc.detail}[/]", highlight=False)
        raise typer.Exit(1) from None


def publish_fields(
    name: str,
    entity_type: str,
    attributes: list[str],
    *,
    title: str | None = None,
    notes: str = "",
    tags: list[str] | None = None,
    organization: str | None = None,
    license_id: str | None = None,
    q: str | None = None,
    geometry: str | None = None,
    withhold: list[str] | None = None,
    grid: float | None = None,
    pseudonymise_ids: bool = False,
    context: str | None = None,
    aggregate_period: str | None = None,
    aggregate_methods: list[str] | None = None,
    aggregate_since: str | None = None,
) -> dict[str, Any]:
    """The dataset fields of the `publish` options (left-out options are not sent)."""
    fields: dict[str, Any] = {
        "name": name,
        "title": title,
        "notes": notes,
        "tags": tags,
        "organization": organization,
        "license_id": license_id,
        "entity_type": entity_type,
        "entity_q": q,
        "attributes": attributes,
        "geometry_attribute": geometry,
        "withheld_attributes": withhold,
        "grid_metres": grid,
        "pseudonymise_ids": pseudonymise_ids or None,
        "context": context,
        "aggregate_period": aggregate_period,
        "aggregate_methods": aggregate_methods,
        "aggregate_since": aggregate_since,
    }
    return {k: v for k, v in fields.items() if v not in (None, [])}


async def upsert(service: OpenDataService, tenant: str, fields: dict[str, Any]) -> Dataset:
    """Create the dataset, or replace the one of that name."""
    return (await _published(service, tenant, fields))[0]


async def _published(
    service: OpenDataService, tenant: str, fields: dict[str, Any]
) -> tuple[Dataset, bool, bool]:
    """Create or replace the dataset: it, whether it replaced one, whether any entity
    matches it now."""
    try:
        await service.show(tenant, fields["name"])
    except ResourceNotFound:
        dataset, replaced = await service.create(tenant, fields), False
    else:
        dataset, replaced = await service.update(tenant, fields["name"], fields), True
    return dataset, replaced, await service.has_entities(tenant, dataset)


@opendata.command("publish")
def publish(
    name: str = typer.Argument(..., help="The dataset's name (slug): lowercase, digits, - and _."),
    entity_type: str = typer.Option(..., "--type", help="The NGSI-LD entity type published."),
    attrs: str = typer.Option(..., help="Attributes published, comma-separated."),
    title: str | None = typer.Option(None, help="Title (default: the name)."),
    notes: str = typer.Option("", help="Description."),
    tag: list[str] = TagOption,
    organization: str | None = typer.Option(None, "--org", help="Publishing organization."),
    license_id: str | None = typer.Option(None, "--license", help="License id (license_list)."),
    q: str | None = typer.Option(None, help="NGSI-LD q the entities must match."),
    geometry: str | None = typer.Option(None, help="GeoProperty published as the location."),
    withhold: str = typer.Option("", help="Attributes never published, comma-separated."),
    grid: float | None = typer.Option(None, help="Grid (metres) locations snap to (100)."),
    pseudonymise: bool = typer.Option(
        False, "--pseudonymise-ids", help="Publish keyed hashes instead of entity ids."
    ),
    context: str | None = typer.Option(None, help="JSON-LD context URL to expand names with."),
    aggregate: str | None = typer.Option(None, help="Publish aggregates per period (PT1H)."),
    methods: str = typer.Option("avg", help="Aggregation methods, comma-separated."),
    since: str | None = typer.Option(None, help="Aggregate from this UTC time."),
    tenant: str = TenantOption,
    from_json: Path | None = JsonOption,
    config: Path | None = ConfigOption,
) -> None:
    """Create a dataset, or replace the one of that name (it says which); warns when no
    entity matches it (a missing --context)."""
    if from_json is not None:
        from dalgu.api.opendata.package import fields_from_package

        fields = fields_from_package(json.loads(from_json.read_text()))
        fields["name"] = name
    else:
        split = [a.strip() for a in attrs.split(",") if a.strip()]
        fields = publish_fields(
            name,
            entity_type,
            split,
            title=title,
            notes=notes,
            tags=tag,
            organization=organization,
            license_id=license_id,
            q=q,
            geometry=geometry,
            withhold=[w.strip() for w in withhold.split(",") if w.strip()],
            grid=grid,
            pseudonymise_ids=pseudonymise,
            context=context,
            aggregate_period=aggregate,
            aggregate_methods=[m.strip() for m in methods.split(",")] if aggregate else None,
            aggregate_since=since,
        )
    dataset, replaced, matched = _run(config, lambda service: _published(service, tenant, fields))
    done = "replaced" if replaced else "published"
    console.print(f"{done} [bold]{dataset.name}[/] ({dataset.id})", highlight=False)
    if not matched:
        expanded = "with the core context" if dataset.publication.context is None else "so"
        console.print(
            f"[yellow]warning[/]: no entity of type {dataset.publication.entity_type} "
            f"(its name expanded {expanded}) matches now: the downloads are empty until one "
            "does. Entities written with a @context of their own need it as --context "
            f"(e.g. the demo city's: {_settings(config).base_url}/ngsi-ld/v1/jsonldContexts/"
            "dalgu-city).",
            highlight=False,
        )


@opendata.command("list")
def list_datasets(tenant: str = TenantOption, config: Path | None = ConfigOption) -> None:
    """List the datasets of a tenant."""
    datasets = _run(config, lambda service: service.datasets(tenant))
    table = Table("name", "title", "type", "attributes", "policy")
    for d in datasets:
        policy = f"grid {d.policy.grid_metres:g} m"
        if d.policy.withheld:
            policy += f", withheld {','.join(d.policy.withheld)}"
        if d.policy.pseudonymise_ids:
            policy += ", pseudonymous ids"
        if d.policy.aggregation is not None:
            policy += (
                f", {','.join(d.policy.aggregation.methods)} per {d.policy.aggregation.period}"
            )
        attrs = ",".join(d.publication.attributes)
        table.add_row(d.name, d.title, d.publication.entity_type, attrs, policy)
    console.print(table)


@opendata.command("delete")
def delete(
    name: str = typer.Argument(..., help="The dataset's name or id."),
    tenant: str = TenantOption,
    config: Path | None = ConfigOption,
) -> None:
    """Delete a dataset for good."""
    _run(config, lambda service: service.delete(tenant, name))
    console.print(f"deleted {name}", highlight=False)
