"""Where the open-data portal answers under `/opendata`."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from dalgu.api.opendata.actions import run_action
from dalgu.api.opendata.dcat import catalog_jsonld, catalog_ttl, dataset_jsonld
from dalgu.api.opendata.downloads import download
from dalgu.api.opendata.package import PREFIX


def routes() -> list[BaseRoute]:
    p = PREFIX
    return [
        Route(f"{p}/api/3/action/{{action}}", run_action, methods=["GET", "POST"]),
        Route(f"{p}/api/action/{{action}}", run_action, methods=["GET", "POST"]),
        Route(f"{p}/dataset/{{dataset}}/download/{{filename}}", download, methods=["GET"]),
        Route(f"{p}/dataset/{{dataset}}", dataset_jsonld, methods=["GET"]),
        Route(f"{p}/catalog.jsonld", catalog_jsonld, methods=["GET"]),
        Route(f"{p}/catalog.ttl", catalog_ttl, methods=["GET"]),
    ]
