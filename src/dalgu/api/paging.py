"""Pages of a list (clause 5.5.9): whether more may follow, the `next` and `prev` links,
and the `NGSILD-Results-Count` header."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request


def full_page(limit: int, offset: int, returned: int, count: int | None) -> bool:
    """Whether more matches may follow a page whose query could not read past it (a page
    merged from context sources): a full page is taken to have more, unless the count says."""
    return returned == limit and limit > 0 and (count is None or offset + limit < count)


def page_headers(
    request: Request, limit: int, offset: int, more: bool, count: int | None
) -> dict[str, str]:
    """`NGSILD-Results-Count` when counted, and the paging `Link`s (clause 5.5.9)."""
    headers: dict[str, str] = {}
    if count is not None:
        headers["NGSILD-Results-Count"] = str(count)
    links = page_links(request, limit, offset, more)
    if links:
        headers["Link"] = links
    return headers


def page_links(request: Request, limit: int, offset: int, more: bool) -> str:
    """`next` while `more` matches follow, `prev` on every page but the first (clause 5.5.9);
    the URL's own parameters with another offset (a POST query's body is posted again). A
    `limit=0` answer (a count) is no page: no pointer, which would point at itself."""
    if limit == 0:
        return ""
    links = []
    base = dict(request.query_params)
    if more:
        nxt = {**base, "offset": str(offset + limit), "limit": str(limit)}
        links.append(f'<{request.url.path}?{urlencode(nxt)}>; rel="next"')
    if offset > 0:
        prev = {**base, "offset": str(max(0, offset - limit)), "limit": str(limit)}
        links.append(f'<{request.url.path}?{urlencode(prev)}>; rel="prev"')
    return ", ".join(links)
