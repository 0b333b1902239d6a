"""A dataset's downloads: `/opendata/dataset/{name}/download/{name}.csv` (and `.geojson`,
`.parquet`); `?tenant=` names a tenant other than the default, as the portal's own URLs do.

Each is made into a file first (`OpenDataService.download`), so that it is served as a file
is: `Content-Length`, `ETag`, `Last-Modified`, `Accept-Ranges: bytes`, one byte range (206,
or 416 with the size), `HEAD` with the size, `If-None-Match` (304) and `If-Range`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.utils import format_datetime, parsedate_to_datetime

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from dalgu.api.edge import runtime
from dalgu.api.opendata.byte_ranges import ByteRange, Unsatisfiable, byte_range
from dalgu.api.opendata.envelope import failure, portal_tenant, unexpected
from dalgu.errors import DalguError, OperationNotSupported, ResourceNotFound
from dalgu.opendata.exporters import EXPORTERS
from dalgu.opendata.files import DownloadFile, FileReader

CHUNK = 64 * 1024


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
        dataset = await service.show_named(tenant, request.path_params["dataset"])
        # a range continues a reader's earlier request: the file it read, if kept
        fresh = "range" not in request.headers
        bom = exporter.extension == "csv" and request.query_params.get("bom") in ("1", "true")
        made, handle = await service.download(tenant, dataset, exporter, fresh=fresh, bom=bom)
    except DalguError as error:
        return failure(request, "download", error)
    except Exception as exc:
        return unexpected(request, "download", exc)
    headers = {
        "Content-Disposition": f'attachment; filename="{dataset.name}.{exporter.extension}"',
        "Accept-Ranges": "bytes",
        "ETag": made.etag,
        "Last-Modified": format_datetime(made.made, usegmt=True),
    }
    return _served(request, made, handle, exporter.media_type, headers)


def _served(
    request: Request,
    made: DownloadFile,
    handle: FileReader,
    media_type: str,
    headers: dict[str, str],
) -> Response:
    if _matches(request.headers.get("if-none-match"), made.etag):
        handle.close()
        return Response(status_code=304, headers=headers)
    wanted: ByteRange | None = None
    if _range_applies(request.headers.get("if-range"), made):
        try:
            wanted = byte_range(request.headers.get("range"), made.size)
        except Unsatisfiable:
            handle.close()
            headers["Content-Range"] = f"bytes */{made.size}"
            return Response(status_code=416, headers=headers)
    status, first, length = 200, 0, made.size
    if wanted is not None:
        status, first, length = 206, wanted.first, wanted.length
        headers["Content-Range"] = f"bytes {wanted.first}-{wanted.last}/{made.size}"
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        handle.close()
        return Response(status_code=status, headers=headers, media_type=media_type)
    return StreamingResponse(
        _read(handle, first, length), status_code=status, headers=headers, media_type=media_type
    )


def _matches(header: str | None, etag: str) -> bool:
    """`If-None-Match` holds `etag` (weak comparison, RFC 9110 §13.1.2) or is `*`."""
    if header is None:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def _range_applies(header: str | None, made: DownloadFile) -> bool:
    """`If-Range` (§13.1.5): the range applies when the validator is this file's (its ETag,
    strong comparison, or its Last-Modified exactly); else the whole file."""
    if header is None:
        return True
    header = header.strip()
    if header.startswith('"'):
        return header == made.etag
    try:
        return parsedate_to_datetime(header) == made.made
    except (TypeError, ValueError):
        return False


async def _read(handle: FileReader, first: int, length: int) -> AsyncIterator[bytes]:
    try:
        offset, end = first, first + length
        while offset < end:
            chunk = await anyio.to_thread.run_sync(handle.read_at, offset, min(CHUNK, end - offset))
            if not chunk:
                return
            offset += len(chunk)
            yield chunk
    finally:
        handle.close()
