"""The ceiling: a bare ASGI callable returning a ~330-byte JSON entity."""

BODY = (
    b'{"id":"urn:ngsi-ld:Vehicle:1","type":"Vehicle","speed":{"type":"Property","value":55,'
    b'"observedAt":"2026-11-25T04:00:00Z"},"location":{"type":"GeoProperty","value":{"type":'
    b'"Point","coordinates":[128.6,35.87]}},"brandName":{"type":"Property","value":"Hyundai"},'
    b'"owner":{"type":"Relationship","object":"urn:ngsi-ld:Person:1"}}'
)
HEADERS = [(b"content-type", b"application/json")]


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


async def stream(scope, receive, send):  # type: ignore[no-untyped-def]
    """The download ceiling: `?bytes=N&chunks=K` streams N bytes in K equal chunks."""
    if scope["type"] != "http":
        return
    asked = dict(p.split("=") for p in scope["query_string"].decode().split("&") if "=" in p)
    total, chunks = int(asked.get("bytes", "0")), max(1, int(asked.get("chunks", "1")))
    size = max(1, total // chunks)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    piece = b"x" * size
    sent = 0
    while sent + size < total:
        await send({"type": "http.response.body", "body": piece, "more_body": True})
        sent += size
    await send({"type": "http.response.body", "body": b"x" * (total - sent)})
