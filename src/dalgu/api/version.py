"""`GET /version`: what this server is and which standards it speaks.

Clients and agents written for FIWARE Orion-LD ask a broker's `/version` to tell whether it
is up (the FIWARE IoT Agent's health check does, and counts the broker down without it).
"""

from __future__ import annotations

import platform

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dalgu import __version__

_BODY = orjson.dumps(
    {
        "dalgu": {
            "version": __version__,
            "ngsi-ld": "ETSI GS CIM 009 V1.9.1",
            "fhir": "4.0.1",
            "python": platform.python_version(),
        }
    }
)


async def version(request: Request) -> Response:
    return Response(_BODY, media_type="application/json")
