"""Cross-origin requests (CORS) from the browser pages of the origins the settings name.

A dashboard, a SMART on FHIR app or a citizen's web page served from another origin calls
Dalgu's APIs from a browser, which first asks (an `OPTIONS` preflight) whether it may send the
method and headers it needs, and shows a response's headers to the page only when the
response lists them. Off by default (`DALGU_CORS_ORIGINS` empty): no request pays for it, and
an `OPTIONS` request gets the plain answer (`Allow`) of `problem.options_response`.

Around every API (NGSI-LD, FHIR, the IoT Agent's provisioning on the API port, the testbed), as
the outermost layer, so the preflight is answered before any routing and the shortcut for the
plain Retrieve Entity (`retrieve.py`) gets the same headers as the rest.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from dalgu.api.problem import problem_response
from dalgu.errors import BadRequestData

#: every method some API serves (the preflight's answer lists them all)
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
#: response headers a page may read: NGSI-LD's (clause 6.3), the temporal API's partial
#: answers, FHIR's versioning, where a created resource is
EXPOSED = (
    "Link",
    "Location",
    "NGSILD-Results-Count",
    "NGSILD-Tenant",
    "Content-Range",
    "ETag",
    "Last-Modified",
    "Warning",
    "Fiware-Service",
    "Fiware-ServicePath",
)
#: seconds a browser may keep a preflight's answer
MAX_AGE = 600


def with_cors(app: ASGIApp, origins: list[str]) -> ASGIApp:
    """`app` answering CORS for `origins` (["*"]: any origin); `app` itself when none.

    Any request header is allowed (`Link`, `NGSILD-Tenant`, `Authorization`, FIWARE's
    `Fiware-Service`...); no credentials (cookies, HTTP authentication) are asked for, so a
    bearer token in `Authorization` works from any allowed origin and `*` stays safe to give.
    """
    if not origins:
        return app
    return _CrossOrigin(
        app,
        allow_origins=origins,
        allow_methods=METHODS,
        allow_headers=["*"],
        expose_headers=EXPOSED,
        max_age=MAX_AGE,
    )


class _CrossOrigin(CORSMiddleware):
    """Starlette's CORS, with a refused preflight (an origin, method or private-network
    access not allowed) answered as ProblemDetails, as every other error."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        refused = bytes(response.body).decode()  # "Disallowed CORS origin, method"
        problem = problem_response(
            BadRequestData(f"{refused} (preflight from {request_headers.get('origin')!r})")
        )
        for name, value in response.headers.items():
            if name.startswith("access-control-"):
                problem.headers[name] = value
        return problem
