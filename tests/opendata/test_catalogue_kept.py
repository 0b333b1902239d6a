"""A worker keeps its tenants' parsed catalogues while the store's dataset generation stays the
same, on both stores: a dataset published, changed or deleted through any worker is in the next
answer of every other, and nothing is read again while nothing changed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.testclient import TestClient

from dalgu.opendata.search import SearchQuery
from dalgu.opendata.service import OpenDataService

T = TypeVar("T")


def _fields(name: str) -> dict[str, Any]:
    return {"name": name, "entity_type": "AirQualityObserved", "attributes": ["pm10"]}


def _run(client: TestClient, make: Callable[[], Awaitable[T]]) -> T:
    return client.portal.call(make)  # type: ignore[union-attr]


def _other_worker(client: TestClient) -> OpenDataService:
    """A second service over the same store, as another worker process has."""
    state = client.app.state.dalgu  # type: ignore[attr-defined]
    mine: OpenDataService = state.opendata
    return OpenDataService(mine.store, mine.entities, mine.temporal, mine.resolver)


def _names(client: TestClient, service: OpenDataService, tenant: str = "") -> list[str]:
    async def read() -> list[str]:
        return [d.name for d in await service.datasets(tenant)]

    return _run(client, read)


def test_a_dataset_written_through_one_worker_is_in_the_next_answer_of_another(
    portal_client: TestClient,
) -> None:
    mine: OpenDataService = portal_client.app.state.dalgu.opendata  # type: ignore[attr-defined]
    other = _other_worker(portal_client)
    assert _names(portal_client, other) == []

    async def create(name: str) -> Any:
        return await mine.create("", _fields(name))

    first = _run(portal_client, lambda: create("air-a"))
    assert _names(portal_client, other) == ["air-a"]
    _run(portal_client, lambda: create("air-b"))
    assert _names(portal_client, other) == ["air-a", "air-b"]

    async def rename() -> Any:
        return await mine.patch("", first.id, {"name": "air-c"})

    _run(portal_client, rename)
    assert _names(portal_client, other) == ["air-b", "air-c"]

    async def delete() -> None:
        await mine.delete("", "air-b")

    _run(portal_client, delete)
    assert _names(portal_client, other) == ["air-c"]
    # a tenant's catalogue is its own, kept or not
    assert _names(portal_client, other, "elsewhere") == []


def test_the_catalogue_is_read_again_only_after_a_write(portal_client: TestClient) -> None:
    service = _other_worker(portal_client)
    reads = 0
    store_read = service.store.datasets

    async def counted(tenant: str) -> list[dict[str, Any]]:
        nonlocal reads
        reads += 1
        return await store_read(tenant)

    service.store = _Counting(service.store, counted)  # type: ignore[assignment]
    for _ in range(3):
        _names(portal_client, service)
    assert reads == 1

    async def create() -> Any:
        return await service.create("", _fields("air-x"))

    _run(portal_client, create)
    assert _names(portal_client, service) == ["air-x"]
    assert _names(portal_client, service) == ["air-x"]
    assert reads == 2


class _Counting:
    """The store, with `datasets` replaced."""

    def __init__(self, store: Any, datasets: Callable[[str], Awaitable[Any]]) -> None:
        self._store = store
        self.datasets = datasets

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_a_worker_s_searches_see_each_write_of_another(portal_client: TestClient) -> None:
    """Searches read a catalogue made once per generation (lowered texts, newest first): a
    dataset published, changed or deleted through another worker is in the next search."""
    mine: OpenDataService = portal_client.app.state.dalgu.opendata  # type: ignore[attr-defined]
    other = _other_worker(portal_client)

    def found(query: SearchQuery) -> list[str]:
        async def read() -> list[str]:
            return [d.name for d in (await other.search("", query)).datasets]

        return _run(portal_client, read)

    newest, word = SearchQuery(rows=10), SearchQuery(q="harbour", rows=10)
    assert found(newest) == []
    first = _run(portal_client, lambda: mine.create("", _fields("air-a")))
    _run(portal_client, lambda: mine.create("", {**_fields("air-b"), "title": "Harbour air"}))
    assert found(newest) == ["air-b", "air-a"]  # the last modified first
    assert found(word) == ["air-b"]
    _run(portal_client, lambda: mine.patch("", first.id, {"title": "Harbour and harbour"}))
    assert found(newest) == ["air-a", "air-b"]
    assert found(word) == ["air-a", "air-b"]  # two words of its title count more than one
    _run(portal_client, lambda: mine.delete("", "air-b"))
    assert found(word) == ["air-a"]
