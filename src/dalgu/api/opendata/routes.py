"""Where the open-data portal answers under `/opendata`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from dalgu.api.opendata.actions import run_action
from dalgu.api.opendata.downloads import download
from dalgu.api.opendata.linked_data import (
    catalog_file,
    catalog_negotiated,
    dataset_description,
    distribution_description,
    home,
    publisher_description,
)
from dalgu.api.opendata.package import PREFIX


async def api_version(request: Request) -> Response:
    """`/api/3`: the API's version, as CKAN answers it (clients read it to tell the API)."""
    return JSONResponse({"version": 3})


def routes() -> list[BaseRoute]:
    p = PREFIX
    return [
        Route(f"{p}/api/3", api_version, methods=["GET"]),
        Route(f"{p}/api/3/action/{{action}}", run_action, methods=["GET", "POST"]),
        Route(f"{p}/api/action/{{action}}", run_action, methods=["GET", "POST"]),
        Route(f"{p}/dataset/{{dataset}}/download/{{filename}}", download, methods=["GET"]),
        Route(f"{p}/dataset/{{dataset}}", dataset_description, methods=["GET"]),
        Route(f"{p}/resource/{{resource}}", distribution_description, methods=["GET"]),
        Route(f"{p}/organization/{{organization}}", publisher_description, methods=["GET"]),
        Route(p, home, methods=["GET"]),
        Route(f"{p}/catalog", catalog_negotiated, methods=["GET"]),
        Route(f"{p}/catalog.{{extension}}", catalog_file, methods=["GET"]),
    ]
