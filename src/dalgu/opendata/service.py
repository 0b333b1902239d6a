"""The open-data service: a tenant's datasets (create, change, delete, find) and their
de-identified rows, read page by page through the entity and temporal services."""

from __future__ import annotations

import hmac
import secrets
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from dalgu.broker.service import EntityService
from dalgu.errors import AccessDenied, DalguError, InvalidFields, ResourceNotFound
from dalgu.ldcontext import ContextResolver, TermMap
from dalgu.opendata.aggregated import SLICE_PERIODS, AggregatedRows
from dalgu.opendata.exporters import Exporter
from dalgu.opendata.files import DownloadFile, DownloadFiles, FileReader
from dalgu.opendata.live_query import expanded_query
from dalgu.opendata.model import Dataset
from dalgu.opendata.policy import Release, Row, entity_row
from dalgu.opendata.search import Catalogue, SearchQuery, SearchResult, search
from dalgu.opendata.validation import dataset_fields, dataset_from_fields, given_id, q_names
from dalgu.query.ast import map_names, map_type_names
from dalgu.query.q import parse_q
from dalgu.query.typesel import parse_type_selection
from dalgu.store.base import DatasetStore, EntityQuery
from dalgu.temporal.service import TemporalService

#: entities (or entities' histories) read per page while a download streams
PAGE_SIZE = 500
#: tenants whose parsed catalogue a worker keeps at most
KEPT_TENANTS = 64
UTF8_BOM = b"\xef\xbb\xbf"


def ckan_time(at: datetime | None = None) -> str:
    """A time as CKAN writes it: ISO 8601 in UTC, microseconds, no zone."""
    return (
        (at or datetime.now(UTC))
        .astimezone(UTC)
        .replace(tzinfo=None)
        .isoformat(timespec="microseconds")
    )


#: a catalogue's first issue and last change, as CKAN writes times (None: never written)
CatalogueDates = tuple[str | None, str | None]


def _utc(at: str | datetime) -> datetime:
    """A CKAN time (UTC without a zone), or a datetime, as an aware UTC datetime."""
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class OpenDataService:
    """Datasets of each tenant over the broker's entities; `token`: the credential writes
    need (None: no writes at all)."""

    def __init__(
        self,
        store: DatasetStore,
        entities: EntityService,
        temporal: TemporalService | None,
        resolver: ContextResolver,
        *,
        token: str | None = None,
        page_size: int = PAGE_SIZE,
        slice_periods: int = SLICE_PERIODS,
    ) -> None:
        self.store = store
        self.entities = entities
        self.temporal = temporal
        self.resolver = resolver
        self._token = token or None  # an empty setting is no token, not an empty password
        self.page_size = page_size
        self.slice_periods = slice_periods  # periods one temporal request of a download holds
        #: tenant: (generation, its datasets, its catalogue's (issued, modified))
        self._kept: dict[str, tuple[int, Catalogue, CatalogueDates]] = {}
        self.files = DownloadFiles()

    # --- who may write ---------------------------------------------------------------------

    def authorize(self, credential: str | None) -> None:
        """AccessDenied unless `credential` is the configured publishing token."""
        if self._token is None:
            raise AccessDenied("publishing is off: this server has no open-data token configured")
        if credential is None or not hmac.compare_digest(credential.encode(), self._token.encode()):
            raise AccessDenied("a valid API token (Authorization header) is needed to publish")

    # --- the catalogue ---------------------------------------------------------------------

    async def show(self, tenant: str, id_or_name: str) -> Dataset:
        doc = await self.store.get_dataset(tenant, id_or_name)
        if doc is None:
            raise ResourceNotFound(f"no dataset {id_or_name}")
        return Dataset.from_document(doc)

    async def show_named(self, tenant: str, id_or_name: str) -> Dataset:
        """The dataset of that id or name, else the one that had that name before a rename
        (a URL made with it still leads there while no other dataset took the name)."""
        try:
            return await self.show(tenant, id_or_name)
        except ResourceNotFound:
            for dataset in await self.datasets(tenant):
                if id_or_name in dataset.former_names:
                    return dataset
            raise

    async def datasets(self, tenant: str) -> list[Dataset]:
        """Every dataset of the tenant, by name (a list to read, not to change)."""
        return (await self._catalogue(tenant)).datasets

    async def catalogue_dates(self, tenant: str) -> CatalogueDates:
        """When the tenant's catalogue was first issued and last changed (CKAN times), its
        deletions included: what the store kept, else (a catalogue kept before the store
        kept them) what its datasets say; None for a catalogue never written."""
        await self._catalogue(tenant)
        return self._kept[tenant][2]

    async def search(self, tenant: str, query: SearchQuery) -> SearchResult:
        return search(await self._catalogue(tenant), query)

    async def _catalogue(self, tenant: str) -> Catalogue:
        """The tenant's datasets, kept parsed (and as searches read them) while the store's
        catalogue generation stays the same: a search, `package_list` or the DCAT catalogue
        of a portal of 1,000 datasets read and parsed every one each time (~10 ms); now one
        point read when nothing was published since."""
        generation = await self.store.datasets_generation()
        kept = self._kept.get(tenant)
        if kept is not None and kept[0] == generation:
            return kept[1]
        found = [Dataset.from_document(doc) for doc in await self.store.datasets(tenant)]
        issued, modified = await self.store.catalogue_times(tenant)
        if tenant not in self._kept and len(self._kept) >= KEPT_TENANTS:
            del self._kept[next(iter(self._kept))]  # the tenant kept first goes first
        # read after the generation: a write in between leaves an older number with it,
        # which the next call finds changed
        catalogue = Catalogue(found)
        firsts = [_utc(d.created) for d in found] + ([issued] if issued else [])
        lasts = [_utc(d.modified) for d in found] + ([modified] if modified else [])
        dates = (
            ckan_time(min(firsts)) if firsts else None,
            ckan_time(max(lasts)) if lasts else None,
        )
        self._kept[tenant] = (generation, catalogue, dates)
        return catalogue

    async def create(
        self, tenant: str, fields: Mapping[str, Any], *, dataset_id: Any = None
    ) -> Dataset:
        """A new dataset; `dataset_id` the id to give it (as CKAN keeps a given one), else
        a new UUID."""
        now = ckan_time()
        given = given_id(dataset_id)
        if given is not None and await self.store.get_dataset(tenant, given) is not None:
            raise InvalidFields({"id": ["Dataset id already exists"]})
        dataset = dataset_from_fields(
            fields,
            dataset_id=given or str(uuid.uuid4()),
            created=now,
            modified=now,
            id_key=secrets.token_hex(32),
        )
        await self._check_names(tenant, dataset)
        dataset = await self._with_live_query(dataset)
        await self.store.put_dataset(
            tenant, dataset.id, dataset.name, dataset.to_document(), create=True, at=_utc(now)
        )
        return dataset

    async def update(self, tenant: str, id_or_name: str, fields: Mapping[str, Any]) -> Dataset:
        """Replace a dataset by `fields` (a field left out takes its default); its
        pseudonyms stay the same."""
        current = await self.show(tenant, id_or_name)
        dataset = dataset_from_fields(
            fields,
            dataset_id=current.id,
            created=current.created,
            modified=ckan_time(),
            id_key=current.policy.id_key or secrets.token_hex(32),
        )
        former = (*current.former_names, current.name)
        former = tuple(n for n in dict.fromkeys(former) if n != dataset.name)
        dataset = replace(dataset, former_names=former)
        await self._check_names(tenant, dataset)
        dataset = await self._with_live_query(dataset)
        await self.store.put_dataset(
            tenant,
            dataset.id,
            dataset.name,
            dataset.to_document(),
            create=False,
            at=_utc(dataset.modified),
        )
        return dataset

    async def patch(self, tenant: str, id_or_name: str, fields: Mapping[str, Any]) -> Dataset:
        """Change the given fields of a dataset, keep the others."""
        current = await self.show(tenant, id_or_name)
        return await self.update(tenant, current.id, {**dataset_fields(current), **fields})

    async def delete(self, tenant: str, id_or_name: str) -> None:
        dataset = await self.show(tenant, id_or_name)
        # the catalogue's last change: its dct:modified must not go back to its newest
        # remaining dataset's (DCAT-AP: "the most recent date on which it was modified")
        if not await self.store.delete_dataset(tenant, dataset.id, at=datetime.now(UTC)):
            raise ResourceNotFound(f"no dataset {id_or_name}")

    async def _check_names(self, tenant: str, dataset: Dataset) -> None:
        """The name must not be another dataset's name or id; published and withheld names
        must stay apart once expanded (two terms of a context may name one attribute)."""
        other = await self.store.get_dataset(tenant, dataset.name)
        if other is not None and other["id"] != dataset.id:
            raise InvalidFields({"name": ["That URL is already in use."]})
        release = await self.release(dataset)
        clash = set(release.attributes) & release.withheld
        if release.geometry in release.withheld:
            clash.add(release.geometry)
        if clash:
            shown = ", ".join(sorted(clash))
            raise InvalidFields({"withheld_attributes": [f"{shown} is withheld and published"]})
        filtered = await self._withheld_in_q(dataset, release)
        if filtered:
            shown = ", ".join(sorted(filtered))
            raise InvalidFields({"entity_q": [f"filters on {shown}, which is withheld"]})

    async def _with_live_query(self, dataset: Dataset) -> Dataset:
        """The dataset with its live NGSI-LD query in expanded names, when its context
        defines them (a URL that works without the context's `Link` header)."""
        pub = dataset.publication
        if not pub.context:
            return dataset
        terms = await self._terms(dataset)
        live = replace(pub, live_query=expanded_query(pub, terms.expand))
        return replace(dataset, publication=live)

    async def _withheld_in_q(self, dataset: Dataset, release: Release) -> set[str]:
        """The withheld attributes (expanded) the dataset's `entity_q` reads, by whatever name
        (a short name, another term of the context, the full IRI)."""
        if not dataset.publication.q:
            return set()
        terms = await self._terms(dataset)
        return {terms.expand(n) for n in q_names(dataset.publication.q)} & release.withheld

    # --- the data ---------------------------------------------------------------------------

    async def _terms(self, dataset: Dataset) -> TermMap:
        try:
            return await self.resolver.resolve(dataset.publication.context)
        except DalguError as exc:
            raise InvalidFields({"context": [exc.detail]}) from None

    async def release(self, dataset: Dataset) -> Release:
        """The dataset with its names expanded by its context."""
        terms = await self._terms(dataset)
        pub = dataset.publication
        geometry = terms.expand(pub.geometry) if pub.geometry else None
        withheld = frozenset(terms.expand(name) for name in dataset.policy.withheld)
        attributes = tuple(terms.expand(a) for a in pub.attributes)
        return Release(dataset, attributes, geometry, withheld, compact=terms.compact)

    async def download(
        self,
        tenant: str,
        dataset: Dataset,
        exporter: Exporter,
        *,
        fresh: bool = True,
        bom: bool = False,
    ) -> tuple[DownloadFile, FileReader]:
        """The dataset's download in `exporter`'s format, as a file opened to read: made now
        when `fresh`, else the one made for the same version of the dataset in the last
        minute if there is one (a range reader's next requests read the bytes of its first);
        `bom`: starting with UTF-8's byte order mark (Excel reads a CSV without one in the
        system's code page: CP949 on a Korean Windows)."""

        async def make() -> AsyncIterator[bytes]:
            if bom:
                yield UTF8_BOM
            pages = self.rows(tenant, dataset)
            async for chunk in exporter.encode(dataset.columns, pages, dataset.column_types):
                yield chunk

        key = (tenant, dataset.id, dataset.modified, exporter.extension, bom)
        return await self.files.file(key, make, fresh=fresh)

    async def rows(self, tenant: str, dataset: Dataset) -> AsyncIterator[list[Row]]:
        """The dataset's de-identified rows, a page at a time, as the entity (or temporal)
        service reads them by `page_size` entities: a page may be empty, the iteration
        ends with the data. Pseudonymised rows are read whole and ordered by pseudonym
        (then period): in the store's order of entity ids, anyone who knows the ids (a list
        of stations, sequential devices) would tell each pseudonym's id by its position."""
        pages = self._pages(tenant, dataset)
        if not dataset.policy.pseudonymise_ids:
            async for page in pages:
                yield page
            return
        every = [row async for page in pages for row in page]
        if dataset.policy.aggregation is None:
            every.sort(key=lambda row: str(row["id"]))
        else:
            # each pseudonym's rows stay in time order, as `aggregate_rows` made them (stable)
            every.sort(key=lambda row: str(row["id"]))
        for start in range(0, max(len(every), 1), self.page_size):
            yield every[start : start + self.page_size]

    async def _pages(self, tenant: str, dataset: Dataset) -> AsyncIterator[list[Row]]:
        release = await self.release(dataset)
        terms = await self._terms(dataset)
        pub = dataset.publication
        types = map_type_names(parse_type_selection(pub.entity_type), terms.expand)
        q = map_names(parse_q(pub.q), terms.expand) if pub.q else None
        if await self._withheld_in_q(dataset, release):  # kept before this check was made
            raise InvalidFields({"entity_q": ["filters on a withheld attribute"]})
        if dataset.policy.aggregation is None:
            after = None  # each page starts after the last id of the one before
            while True:
                query = EntityQuery(types=types, q=q, limit=self.page_size, after=after)
                result = await self.entities.query(tenant, query)
                entities = result.entities
                yield [entity_row(entity, release) for entity in entities]
                if len(entities) < self.page_size:
                    return
                after = entities[-1]["id"]
        if self.temporal is None:
            raise ResourceNotFound("this store keeps no temporal history to aggregate")
        reader = AggregatedRows(
            self.temporal,
            self.entities,
            tenant,
            release,
            page_size=self.page_size,
            budget=self.slice_periods,
        )
        async for page in reader.pages(types, q):
            yield page

    async def has_entities(self, tenant: str, dataset: Dataset) -> bool:
        """Whether any entity is of the dataset's type (expanded with its context) and
        matches its `entity_q` now: a dataset whose type was expanded with the wrong context
        (the core one instead of the city's) matches none, and its downloads are empty."""
        terms = await self._terms(dataset)
        pub = dataset.publication
        types = map_type_names(parse_type_selection(pub.entity_type), terms.expand)
        q = map_names(parse_q(pub.q), terms.expand) if pub.q else None
        found = await self.entities.query(tenant, EntityQuery(types=types, q=q, limit=1))
        return bool(found.entities)
