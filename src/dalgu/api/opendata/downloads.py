"""A dataset's downloads, streamed as the service reads its pages: `/opendata/dataset/{name}/
download/{name}.csv` (and `.geojson`, `.parquet`); `?tenant=` names a tenant other than the
default, as the portal's own URLs do."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from dalgu.api.edge import runtime
from dalgu.api.opendata.envelope import failure, portal_tenant, unexpected
from dalgu.errors import DalguError, OperationNotSupported, ResourceNotFound
from dalgu.opendata.exporters import EXPORTERS
from dalgu.opendata.policy import Row


async def _chained(first: list[Row], rest: AsyncIterator[list[Row]]) -> AsyncIterator[list[Row]]:
    yield first
    async for page in rest:
        yield page


async def download(request: Request) -> Response:
    filename: str = request.path_params["filename"]
    _, _, extension = filename.rpartition(".")
    try:
        service = runtime(request).opendata
        if service is None:
            raise OperationNotSupported("this store keeps no open-data datasets")
        exporter = EXPORTERS.get(extension.lower())
        if exporter is None:
            known = ", ".join(f".{e}" for e in EXPORTERS)
            raise ResourceNotFound(f"no download {filename}: the formats are {known}")
        tenant = portal_tenant(request)
        dataset = await service.show(tenant, request.path_params["dataset"])
        pages = service.rows(tenant, dataset)
        # the first page is read before the answer starts: a dataset that cannot be read
        # (its context unreachable, its store down) is an error status, not a cut stream
        first: list[Row] = await anext(pages, [])
    except DalguError as error:
        return failure(request, "download", error)
    except Exception as exc:
        return unexpected(request, "download", exc)
    body = exporter.encode(dataset.columns, _chained(first, pages), dataset.number_columns)
    return StreamingResponse(
        body,
        media_type=exporter.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{dataset.name}.{exporter.extension}"'
        },
    )
