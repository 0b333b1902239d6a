"""CKAN Action API v3 under `/opendata/api/3/action/{action}` (and `/opendata/api/action/`):
each action reads its parameters, calls the open-data service and returns CKAN's result."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dalgu import __version__
from dalgu.api.edge import runtime
from dalgu.api.opendata import package as ckan
from dalgu.api.opendata.envelope import (
    BadActionRequest,
    base_url,
    credential,
    failure,
    parameters,
    portal_tenant,
    success,
    unexpected,
)
from dalgu.errors import DalguError, InvalidFields, OperationNotSupported, ResourceNotFound
from dalgu.opendata.model import LICENSES, Dataset
from dalgu.opendata.search import SearchQuery
from dalgu.opendata.service import OpenDataService

CKAN_VERSION = "2.10.0"  # the API version whose conventions these actions follow
MAX_ROWS = 1000


@dataclass(slots=True)
class Call:
    """One action call: the request, the service, its tenant and base URL, the parameters."""

    request: Request
    service: OpenDataService
    tenant: str
    base: str
    params: dict[str, Any]

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.params.get(key)
        if value is None or value == "":
            if required:
                raise InvalidFields({key: ["Missing value"]})
            return None
        if not isinstance(value, str):
            raise InvalidFields({key: ["Must be a string"]})
        return value

    def dataset_key(self) -> str:
        """The dataset the call names, by `id` or else `name`."""
        key = self.text("id") or self.text("name")
        if key is None:
            raise InvalidFields({"id": ["Missing value"]})
        return key

    def integer(self, key: str, default: int, *, maximum: int | None = None) -> int:
        value = self.params.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, bool | float):  # JSON 5.5 or true: CKAN's int_validator refuses
            raise InvalidFields({key: ["Invalid integer"]})
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise InvalidFields({key: ["Invalid integer"]}) from None
        if number < 0:
            raise InvalidFields({key: ["Must be a natural number"]})
        if maximum is not None and number > maximum:
            raise InvalidFields({key: [f"Must be at most {maximum}"]})
        return number

    def facet_limit(self) -> int | None:
        """`facet.limit`: 50 by default, a negative value unlimited (None), as CKAN has it."""
        value = self.params.get("facet.limit")
        if value is None or value == "":
            return 50
        if isinstance(value, bool | float):
            raise InvalidFields({"facet.limit": ["Invalid integer"]})
        try:
            signed = int(value)
        except (TypeError, ValueError):
            raise InvalidFields({"facet.limit": ["Invalid integer"]}) from None
        return None if signed < 0 else signed

    def switch(self, key: str, default: bool) -> bool:
        """A boolean as Solr reads one (`true`, `on`, `yes`; `false`, `off`, `no`), or a
        JSON boolean; anything else is a Validation Error, not a silent default."""
        value = self.params.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in ("true", "on", "yes"):
            return True
        if text in ("false", "off", "no"):
            return False
        raise InvalidFields({key: ["Must be true or false"]})

    def texts(self, key: str) -> tuple[str, ...]:
        """A list of strings (CKAN's `list_of_strings`): a JSON list, or repeated in a query
        string; a bare string or another item is a Validation Error."""
        value = self.params.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise InvalidFields({key: ["Not a list"]})
        if not all(isinstance(item, str) for item in value):
            raise InvalidFields({key: ["Must be a list of strings"]})
        return tuple(value)

    def flag(self, key: str) -> bool:
        value = self.params.get(key)
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("true", "1", "yes", "on")

    def authorize(self) -> None:
        self.service.authorize(credential(self.request))

    def page(self, items: list[Any], *, numbered: bool = False) -> list[Any]:
        """The items from `offset` on, `limit` of them (all without); `numbered`: or the
        `page` of `limit` items (from 1) when there is no `offset`, as CKAN's deprecated
        `page` of `current_package_list_with_resources` is read."""
        limit = self.params.get("limit")
        size = None if limit is None or limit == "" else self.integer("limit", 0)
        offset = self.integer("offset", 0)
        number = self.params.get("page")
        if numbered and "offset" not in self.params and number is not None and number != "":
            page = self.integer("page", 1)
            if page < 1:
                raise InvalidFields({"page": ["Must be larger than 0"]})
            # without a limit, the first page is every item and the others are past the end
            offset = (page - 1) * (len(items) if size is None else size)
        return items[offset:] if size is None else items[offset : offset + size]


Action = Callable[[Call], Awaitable[Any]]
ACTIONS: dict[str, Action] = {}


def action(name: str) -> Callable[[Action], Action]:
    def register(fn: Action) -> Action:
        ACTIONS[name] = fn
        return fn

    return register


# --- site ---------------------------------------------------------------------------------


@action("site_read")
async def site_read(call: Call) -> bool:
    """Whether the site may be read: always true."""
    return True


@action("status_show")
async def status_show(call: Call) -> dict[str, Any]:
    """The site's version and its extensions (none)."""
    return {
        "site_title": "Dalgu open data",
        "site_description": "De-identified, aggregated city data of a Dalgu city data hub",
        "site_url": call.base + ckan.PREFIX,
        "ckan_version": CKAN_VERSION,
        "dalgu_version": __version__,
        "error_emails_to": None,
        "locale_default": "en",
        "extensions": [],
    }


@action("help_show")
async def help_show(call: Call) -> str:
    """The documentation of an action (`name`)."""
    name = call.text("name", required=True) or ""
    fn = ACTIONS.get(name)
    if fn is None:
        raise ResourceNotFound(f"action {name}")
    return (fn.__doc__ or "").strip()


@action("license_list")
async def license_list(call: Call) -> list[dict[str, Any]]:
    """The licences a dataset may have."""
    return [ckan.license_dict(lic) for lic in LICENSES]


# --- datasets -----------------------------------------------------------------------------


async def _dataset(call: Call) -> Dataset:
    return await call.service.show(call.tenant, call.dataset_key())


@action("package_list")
async def package_list(call: Call) -> list[str]:
    """The names of every dataset (`limit`, `offset`)."""
    return call.page([d.name for d in await call.service.datasets(call.tenant)])


@action("package_show")
async def package_show(call: Call) -> orjson.Fragment:
    """One dataset (`id`: its id or name) with its resources (kept rendered, as in lists)."""
    return ckan.rendered_package(call.base, await _dataset(call), call.tenant)


@action("current_package_list_with_resources")
async def current_package_list_with_resources(call: Call) -> list[orjson.Fragment]:
    """Every dataset with its resources, last modified first (`limit`, `offset`; or `page`,
    deprecated in CKAN, of `limit` datasets)."""
    datasets = sorted(await call.service.datasets(call.tenant), key=lambda d: d.modified)
    page = call.page(datasets[::-1], numbered=True)
    # the page first: a harvester's page of 10 rendered all 1,000 datasets (~80 µs each)
    return [ckan.rendered_package(call.base, d, call.tenant) for d in page]


@action("package_search")
async def package_search(call: Call) -> dict[str, Any]:
    """Datasets matching `q`, `fq` and each of `fq_list` (field:value terms on tags,
    organization, res_format, license_id, name), sorted (`sort`), paged (`rows`, `start`),
    with `facet.field` counts (`facet`, `facet.limit`, `facet.mincount`)."""
    facets = call.params.get("facet.field") or []
    if isinstance(facets, str):  # CKAN's own clients send the list as its JSON, in a body too
        try:
            facets = orjson.loads(facets) if facets.startswith("[") else [facets]
        except orjson.JSONDecodeError:
            raise InvalidFields({"facet.field": ["Not a JSON list"]}) from None
    if not isinstance(facets, list) or not all(isinstance(f, str) for f in facets):
        raise InvalidFields({"facet.field": ["Must be a list of field names"]})
    query = SearchQuery(
        q=call.text("q") or "",
        fq=call.text("fq") or "",
        sort=call.text("sort") or "",
        # above the maximum is the maximum, as CKAN's limit_to_configured_maximum makes it
        rows=min(call.integer("rows", 10), MAX_ROWS),
        start=call.integer("start", 0),
        facet_fields=tuple(facets),
        facet_limit=call.facet_limit(),
        fq_list=call.texts("fq_list"),
        facet=call.switch("facet", True),
        facet_mincount=call.integer("facet.mincount", 1),
    )
    found = await call.service.search(call.tenant, query)
    search_facets = {
        name: {
            "title": name,
            "items": [{"name": v, "display_name": v, "count": n} for v, n in counts.items()],
        }
        for name, counts in found.facets.items()
    }
    fields = [f for f in re.split(r"[\s,]+", call.text("fl") or "") if f]
    results: list[Any]
    if not fields or "*" in fields:
        results = [ckan.rendered_package(call.base, d, call.tenant) for d in found.datasets]
    else:  # only these fields of each package, as CKAN 2.9 answers `fl=id,name`
        packages = [ckan.package(call.base, d, call.tenant) for d in found.datasets]
        results = [{f: p[f] for f in fields if f in p} for p in packages]
    return {
        "count": found.count,
        "sort": found.sort,
        "results": results,
        "facets": found.facets,
        "search_facets": search_facets,
    }


@action("resource_show")
async def resource_show(call: Call) -> dict[str, Any]:
    """One resource (`id`) of some dataset."""
    wanted = call.text("id", required=True)
    for dataset in await call.service.datasets(call.tenant):
        for resource in ckan.resources(call.base, dataset, call.tenant):
            if resource["id"] == wanted:
                return resource
    raise ResourceNotFound(f"resource {wanted}")


# --- organizations and tags (as the datasets name them) -------------------------------------


#: what `organization_list` sorts by, as CKAN's `group_list` reads `sort` (`packages` is its
#: other name of `package_count`); an organization's title is its name
ORGANIZATION_SORTS = {
    "name": "name",
    "title": "name",
    "package_count": "count",
    "packages": "count",
}


def organization_order(sort: str | None, counts: Counter[str | None]) -> list[str]:
    """The organizations of `counts` in the order of a CKAN `sort` (`title asc`, the default,
    `name desc`, `package_count desc`: ties by name), one field as CKAN takes; a field or
    a direction it cannot sort by is a Validation Error, as CKAN's."""
    field, _, direction = (sort or "title asc").strip().partition(" ")
    direction = direction.strip().lower() or "asc"
    if "," in direction or "," in field:
        raise InvalidFields({"sort": ["Too many sort criteria provided only 1 allowed"]})
    if field not in ORGANIZATION_SORTS:
        raise InvalidFields({"sort": [f"Cannot sort by field `{field}`"]})
    if direction not in ("asc", "desc"):
        raise InvalidFields({"sort": [f"Invalid sort direction `{direction}`"]})
    names = sorted(name for name in counts if name)
    if ORGANIZATION_SORTS[field] == "count":
        names.sort(key=lambda name: counts[name], reverse=direction == "desc")
    elif direction == "desc":
        names.reverse()
    return names


@action("organization_list")
async def organization_list(call: Call) -> list[Any]:
    """The organizations that publish datasets (`all_fields` for dictionaries)."""
    counts = Counter(d.organization for d in await call.service.datasets(call.tenant))
    names = call.page(organization_order(call.text("sort"), counts))
    if call.flag("all_fields"):
        return [ckan.organization(n, call.base, counts[n]) for n in names]
    return names


@action("organization_show")
async def organization_show(call: Call) -> dict[str, Any]:
    """One organization (`id`: its name) and, with `include_datasets`, its datasets."""
    name = call.text("id", required=True)
    datasets = [d for d in await call.service.datasets(call.tenant) if d.organization == name]
    if not datasets or name is None:
        raise ResourceNotFound(f"organization {name}")
    out = ckan.organization(name, call.base, len(datasets))
    if call.flag("include_datasets"):
        out["packages"] = [ckan.rendered_package(call.base, d, call.tenant) for d in datasets]
    return out


@action("tag_list")
async def tag_list(call: Call) -> list[Any]:
    """Every tag of the datasets (`query`: those containing it; `all_fields`)."""
    tags = sorted({t for d in await call.service.datasets(call.tenant) for t in d.tags})
    query = (call.text("query") or "").lower()
    tags = [t for t in tags if query in t.lower()]
    return [ckan.tag(t) for t in tags] if call.flag("all_fields") else tags


@action("tag_show")
async def tag_show(call: Call) -> dict[str, Any]:
    """One tag (`id`: its name) and, with `include_datasets`, the datasets that have it."""
    name = call.text("id", required=True) or ""
    datasets = [d for d in await call.service.datasets(call.tenant) if name in d.tags]
    if not datasets:
        raise ResourceNotFound(f"tag {name}")
    out = ckan.tag(name)
    if call.flag("include_datasets"):
        out["packages"] = [ckan.rendered_package(call.base, d, call.tenant) for d in datasets]
    return out


# --- groups (Dalgu has none: answered as a CKAN without groups answers) ---------------------


@action("group_list")
async def group_list(call: Call) -> list[Any]:
    """Every group: none (datasets are grouped by organization and tags)."""
    return []


@action("group_show")
async def group_show(call: Call) -> dict[str, Any]:
    """A group (`id`): there are none."""
    raise ResourceNotFound(f"group {call.text('id', required=True)}")


# --- lookups ------------------------------------------------------------------------------

RESOURCE_FIELDS = frozenset(["id", "name", "description", "format", "mimetype", "url"])


def _resource_terms(call: Call) -> list[tuple[str, str]]:
    query = call.params.get("query") or []
    terms = [query] if isinstance(query, str) else query
    if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
        raise InvalidFields({"query": ["Must be a string or a list of field:term strings"]})
    pairs = []
    for term in terms:
        field, colon, value = term.partition(":")
        if not colon:
            raise InvalidFields({"query": [f"{term!r}: must be field:term"]})
        if field not in RESOURCE_FIELDS:
            raise InvalidFields({"query": [f'Field "{field}" not recognised in resource_search.']})
        pairs.append((field, value.lower()))
    return pairs


@action("resource_search")
async def resource_search(call: Call) -> dict[str, Any]:
    """Resources whose fields contain every `query` term (`field:term`, case-insensitive;
    fields id, name, description, format, mimetype, url), `offset`, `limit`."""
    terms = _resource_terms(call)
    found = [
        resource
        for dataset in await call.service.datasets(call.tenant)
        for resource in ckan.resources(call.base, dataset, call.tenant)
        if all(value in str(resource[field] or "").lower() for field, value in terms)
    ]
    return {"count": len(found), "results": call.page(found)}


@action("package_autocomplete")
async def package_autocomplete(call: Call) -> list[dict[str, str]]:
    """Datasets whose name or title contains `q` (case-insensitive), at most `limit` (10)."""
    q = (call.text("q") or "").lower()
    limit = call.integer("limit", 10)
    out = []
    for dataset in await call.service.datasets(call.tenant):
        if q in dataset.name.lower():
            field, shown = "name", dataset.name
        elif q in dataset.title.lower():
            field, shown = "title", dataset.title
        else:
            continue
        out.append(
            {"name": dataset.name, "title": dataset.title, "match_field": field,
             "match_displayed": shown}
        )  # fmt: skip
    return out[:limit]


@action("format_autocomplete")
async def format_autocomplete(call: Call) -> list[str]:
    """Resource formats that contain `q` (case-insensitive), at most `limit` (5)."""
    q = (call.text("q") or "").lower()
    counts = Counter(
        resource["format"]
        for dataset in await call.service.datasets(call.tenant)
        for resource in ckan.resources(call.base, dataset, call.tenant)
    )
    found = [fmt for fmt, _ in counts.most_common() if q in fmt.lower()]
    return found[: call.integer("limit", 5)]


# --- writes (the API token) ---------------------------------------------------------------


@contextmanager
def _fields_as_sent(params: dict[str, Any]) -> Iterator[None]:
    """The problems of the organization under `owner_org` when the client sent that field,
    as CKAN reports them (its clients map each error to a field they sent)."""
    try:
        yield
    except InvalidFields as exc:
        if "owner_org" not in params or "organization" not in exc.fields:
            raise
        renamed = {("owner_org" if k == "organization" else k): v for k, v in exc.fields.items()}
        raise InvalidFields(renamed) from None


@action("package_create")
async def package_create(call: Call) -> dict[str, Any]:
    """Create a dataset: CKAN's fields and the NGSI-LD slice and policy (see docs)."""
    call.authorize()
    fields = ckan.fields_from_package(call.params)
    with _fields_as_sent(call.params):
        dataset = await call.service.create(call.tenant, fields, dataset_id=call.params.get("id"))
    return ckan.package(call.base, dataset, call.tenant)


@action("package_update")
async def package_update(call: Call) -> dict[str, Any]:
    """Replace a dataset (`id` or `name`): fields left out take their defaults (the name
    keeps its own)."""
    call.authorize()
    fields = ckan.fields_from_package(call.params)
    if not fields.get("name") and call.text("id"):  # CKAN's update schema: name may be left out
        fields["name"] = (await call.service.show(call.tenant, call.dataset_key())).name
    with _fields_as_sent(call.params):
        dataset = await call.service.update(call.tenant, call.dataset_key(), fields)
    return ckan.package(call.base, dataset, call.tenant)


@action("package_patch")
async def package_patch(call: Call) -> dict[str, Any]:
    """Change the given fields of a dataset (`id` or `name`), keep the others."""
    call.authorize()
    fields = ckan.fields_from_package(call.params)
    with _fields_as_sent(call.params):
        dataset = await call.service.patch(call.tenant, call.dataset_key(), fields)
    return ckan.package(call.base, dataset, call.tenant)


@action("package_delete")
async def package_delete(call: Call) -> None:
    """Delete a dataset (`id` or name) for good, as `dataset_purge` does."""
    call.authorize()
    key = call.text("id", required=True) or ""
    await call.service.delete(call.tenant, key)


ACTIONS["dataset_purge"] = package_delete

#: actions that change the catalogue: POST only, as CKAN has it (a GET must not write)
WRITE_ACTIONS = frozenset(
    ["package_create", "package_update", "package_patch", "package_delete", "dataset_purge"]
)


async def run_action(request: Request) -> Response:
    name: str = request.path_params["action"]
    try:
        fn = ACTIONS.get(name)
        if fn is None:
            raise BadActionRequest(f"Action name not known: {name}")
        if name in WRITE_ACTIONS and request.method != "POST":
            raise BadActionRequest(
                "JSON Error: Invalid request. Please use POST method for your request"
            )
        service = runtime(request).opendata
        if service is None:
            raise OperationNotSupported("this store keeps no open-data datasets")
        call = Call(request, service, portal_tenant(request), base_url(request), {})
        call.params = await parameters(request)
        return success(request, name, await fn(call))
    except DalguError as error:
        return failure(request, name, error)
    except Exception as exc:
        return unexpected(request, name, exc)
