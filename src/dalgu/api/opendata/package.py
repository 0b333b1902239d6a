"""Datasets on CKAN's wire: package, resource, organization, tag and license dictionaries as
CKAN 2.10's Action API shows them, and the fields of a package a client sends."""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from dalgu.errors import InvalidFields
from dalgu.opendata.exporters import EXPORTERS
from dalgu.opendata.model import Dataset, License
from dalgu.opendata.validation import slice_fields

PREFIX = "/opendata"

#: keys of a CKAN package that Dalgu shows or does not keep, accepted and ignored when a client
#: sends a package back (package_show, change, package_update is the usual round trip)
IGNORED_KEYS = frozenset(
    [
        "id",
        "type",
        "state",
        "private",
        "resources",
        "num_resources",
        "num_tags",
        "metadata_created",
        "metadata_modified",
        "license_title",
        "license_url",
        "isopen",
        "creator_user_id",
        "revision_id",
        "url",
        "version",
        "author",
        "author_email",
        "maintainer",
        "maintainer_email",
        "groups",
        "relationships_as_object",
        "relationships_as_subject",
        "ngsi_ld_query",
        "columns",
    ]
)


def _unpublished(data: dict[str, Any]) -> dict[str, list[str]]:
    """The problems of a package asked to be private or not active: Dalgu publishes open
    data only, so it refuses them rather than publish what was meant to be kept back."""
    problems: dict[str, list[str]] = {}
    private = data.get("private")
    if private is True or private == 1 or str(private).lower() in ("true", "yes", "on", "1"):
        problems["private"] = ["private datasets are not supported: every dataset is public"]
    state = data.get("state")
    if state not in (None, "", "active"):
        problems["state"] = [f"{state!r} is not supported: every dataset is active"]
    return problems


def fields_from_package(data: dict[str, Any]) -> dict[str, Any]:
    """The dataset fields of a CKAN package dict a client sent; InvalidFields for a private
    or draft package."""
    problems = _unpublished(data)
    if problems:
        raise InvalidFields(problems)
    fields = {k: v for k, v in data.items() if k not in IGNORED_KEYS and k != "owner_org"}
    owner = data.get("owner_org", data.get("organization"))
    if isinstance(owner, dict):
        owner = owner.get("name")
    if "owner_org" in data or "organization" in data:
        fields["organization"] = owner
    tags = data.get("tags")
    if isinstance(tags, list):
        fields["tags"] = [t.get("name") if isinstance(t, dict) else t for t in tags]
    return fields


def resource_id(dataset: Dataset, kind: str) -> str:
    """A resource's id: stable for a dataset and a format (a UUID, as CKAN's are)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:dalgu:opendata:{dataset.id}:{kind}"))


def tenant_query(tenant: str) -> str:
    """The query string that names a tenant in the portal's own URLs ("" for the default
    tenant): browsers and harvesters send no NGSILD-Tenant header, so a URL of another
    tenant's dataset must say whose it is, or it leads to the default tenant's."""
    return f"?{urlencode({'tenant': tenant})}" if tenant else ""


def download_url(base: str, dataset: Dataset, extension: str, tenant: str) -> str:
    """By the dataset's id, which a rename keeps (as CKAN's download URLs are); the file is
    named after the dataset."""
    path = f"{quote(dataset.id)}/download/{quote(dataset.name)}.{extension}"
    return f"{base}{PREFIX}/dataset/{path}{tenant_query(tenant)}"


#: entities an NGSI-LD answer holds at most: the resource asks for as many (GIS tools such as
#: GDAL read one page and do not follow `Link: rel="next"`)
NGSI_LD_PAGE = 1000


def ngsi_ld_url(base: str, dataset: Dataset) -> str:
    """The live NGSI-LD query the dataset is a slice of: its published attributes and its
    geometry attribute (a GeoJSON answer's geometry), the largest page; in expanded names
    when its context defines them, so that the URL works without that context. No
    `geometryProperty`: without `Accept: application/geo+json`, as link checkers fetch the
    URL, it is a 400 (clause 5.7.2.4); the description names it for GeoJSON clients."""
    pub = dataset.publication
    if pub.live_query:
        params = dict(pub.live_query)
    else:
        attrs = [*pub.attributes, *([pub.geometry] if pub.geometry else [])]
        params = {"type": pub.entity_type, "attrs": ",".join(dict.fromkeys(attrs))}
        if pub.q:
            params["q"] = pub.q
    params["limit"] = str(NGSI_LD_PAGE)
    return f"{base}/ngsi-ld/v1/entities?{urlencode(params)}"


def resources(base: str, dataset: Dataset, tenant: str) -> list[dict[str, Any]]:
    """A dataset's resources: one download per format, then its NGSI-LD query."""
    out = []
    for position, exporter in enumerate(EXPORTERS.values()):
        out.append(
            _resource(
                dataset,
                position,
                resource_id(dataset, exporter.extension),
                f"{dataset.title} ({exporter.format})",
                f"De-identified download: {policy_text(dataset)}",
                exporter.format,
                exporter.media_type,
                download_url(base, dataset, exporter.extension, tenant),
            )
        )
    out.append(
        _resource(
            dataset,
            len(out),
            resource_id(dataset, "ngsi-ld"),
            f"{dataset.title} (NGSI-LD API)",
            "The live NGSI-LD query this dataset is a slice of, with the published attributes. "
            "It is the broker's API under the broker's own access rules, not de-identified: "
            "use the downloads for the published data."
            + (
                " Its names are the full IRIs of the dataset's JSON-LD context "
                f"{dataset.publication.context}, so that it works as it is; send that context "
                "(a Link header) for short names in the answer."
                if dataset.publication.live_query
                else f" Send the JSON-LD context {dataset.publication.context}."
                if dataset.publication.context
                else ""
            )
            + (f" Send the header NGSILD-Tenant: {tenant}." if tenant else "")
            # what the URL serves as published, to a link checker that sends no Accept (ETSI
            # GS CIM 009 6.3.4: application/json is assumed), its @context in a Link header
            + " It answers application/json; send Accept: application/ld+json for JSON-LD"
            + (
                ", or Accept: application/geo+json and "
                f"geometryProperty={dataset.publication.geometry} for GeoJSON."
                if dataset.publication.geometry and dataset.publication.geometry != "location"
                else ", or Accept: application/geo+json for GeoJSON."
            ),
            "NGSI-LD",
            "application/json",
            ngsi_ld_url(base, dataset),
        )
    )
    return out


def policy_text(dataset: Dataset) -> str:
    """The de-identification policy in words."""
    policy = dataset.policy
    parts = [f"locations snapped to a {policy.grid_metres:g} m grid"]
    if policy.withheld:
        parts.append(f"{', '.join(policy.withheld)} never published")
    if policy.pseudonymise_ids:
        parts.append("entity ids replaced by pseudonyms")
    if policy.aggregation is not None:
        a = policy.aggregation
        parts.append(f"only {', '.join(a.methods)} per {a.period}")
    return "; ".join(parts) + "."


def _resource(
    dataset: Dataset,
    position: int,
    rid: str,
    name: str,
    description: str,
    fmt: str,
    mimetype: str,
    url: str,
) -> dict[str, Any]:
    return {
        "id": rid,
        "package_id": dataset.id,
        "name": name,
        "description": description,
        "format": fmt,
        "mimetype": mimetype,
        "url": url,
        "url_type": None,
        "state": "active",
        "position": position,
        "created": dataset.created,
        "last_modified": dataset.modified,
        "metadata_modified": dataset.modified,
        "datastore_active": False,
    }


def organization(name: str, base: str, package_count: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": name,
        "name": name,
        "title": name,
        "display_name": name,
        "type": "organization",
        "is_organization": True,
        "state": "active",
        "approval_status": "approved",
        "description": "",
        "image_url": "",
    }
    if package_count is not None:
        out["package_count"] = package_count
    return out


def tag(name: str) -> dict[str, Any]:
    return {
        "id": name,
        "name": name,
        "display_name": name,
        "state": "active",
        "vocabulary_id": None,
    }


def license_dict(lic: License) -> dict[str, Any]:
    return {
        "id": lic.id,
        "title": lic.title,
        "url": lic.url,
        "od_conformance": "approved" if lic.open else "not reviewed",
        "osd_conformance": "not reviewed",
        "domain_content": False,
        "domain_data": True,
        "domain_software": False,
        "status": "active",
        "maintainer": "",
        "family": "",
        "is_generic": False,
        "is_okd_compliant": lic.open,
        "is_osi_compliant": False,
    }


def package(base: str, dataset: Dataset, tenant: str) -> dict[str, Any]:
    """A dataset as CKAN's package dict, with its resources and Dalgu's own fields."""
    lic = dataset.license
    out: dict[str, Any] = {
        "id": dataset.id,
        "name": dataset.name,
        "title": dataset.title,
        "notes": dataset.notes,
        "type": "dataset",
        "state": "active",
        "private": False,
        "url": "",
        "version": None,
        "author": None,
        "maintainer": None,
        "license_id": dataset.license_id,
        "license_title": lic.title,
        "license_url": lic.url,
        "isopen": lic.open,
        "owner_org": dataset.organization,
        "organization": None
        if dataset.organization is None
        else organization(dataset.organization, base),
        "tags": [tag(t) for t in dataset.tags],
        "num_tags": len(dataset.tags),
        "extras": [{"key": k, "value": v} for k, v in dataset.extras],
        "groups": [],
        "metadata_created": dataset.created,
        "metadata_modified": dataset.modified,
        # Dalgu's fields: the slice of NGSI-LD data and its de-identification policy
        **slice_fields(dataset),
        "columns": dataset.columns,
    }
    out["resources"] = resources(base, dataset, tenant)
    out["num_resources"] = len(out["resources"])
    return out


@lru_cache(maxsize=1024)
def rendered_package(base: str, dataset: Dataset, tenant: str) -> orjson.Fragment:
    """`package` as JSON, kept for the lists (search results, a harvester's pages): ~80 µs
    a dataset to render, a page of 100 ~8 ms. Keyed by the whole dataset, so a changed one
    (its `metadata_modified` at least) is rendered again; 1,024 of ~2.5 kB each at most."""
    return orjson.Fragment(orjson.dumps(package(base, dataset, tenant)))
