"""The provisioning API's (and the HTTP southbound's) errors as the FIWARE IoT Agents name them.

Dalgu answers every error with a ProblemDetails (RFC 9457); scripts written for an IoT Agent
branch on its `{"name", "message"}` body instead (`DUPLICATE_DEVICE_ID` on a re-run, say). The
provisioning API's ProblemDetails carry both: `name` as the agent's `lib/errors.js` names the
error, and `message`, the same text as `detail`. A refusal that already knows its agent name
(a parser's `MISSING_ATTRIBUTES` or `WRONG_SYNTAX`) gives it as `name`; otherwise the
subject (a config group or a device) and the error's kind decide it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Literal

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dalgu.api.problem import RETRY_AFTER, problem_body
from dalgu.errors import (
    AlreadyExists,
    DalguError,
    PayloadError,
    ResourceNotFound,
    StoreUnavailable,
    UnknownApiKey,
    WrongResource,
)

Subject = Literal["group", "device", "measure"]  # "measure": a device's southbound request
Endpoint = Callable[[Request], Awaitable[Response]]

_NAMES: dict[tuple[type[DalguError], Subject], str] = {
    # a device's request, as iotagent-ul and iotagent-json name its refusals (the more
    # specific kinds first: an unknown API key is a ResourceNotFound too)
    (UnknownApiKey, "measure"): "DEVICE_GROUP_NOT_FOUND",
    (WrongResource, "measure"): "DEVICE_GROUP_NOT_FOUND",
    (ResourceNotFound, "measure"): "DEVICE_NOT_FOUND",
    (PayloadError, "measure"): "PARSE_ERROR",
    (AlreadyExists, "group"): "DUPLICATE_GROUP",
    (AlreadyExists, "device"): "DUPLICATE_DEVICE_ID",
    (ResourceNotFound, "group"): "DEVICE_GROUP_NOT_FOUND",
    (ResourceNotFound, "device"): "DEVICE_NOT_FOUND",
}


def agent_name(error: DalguError, subject: Subject) -> str:
    """The IoT Agent's name of `error` met provisioning a `subject`."""
    given = error.extra.get("name")
    if isinstance(given, str):
        return given
    for (kind, about), name in _NAMES.items():
        if about == subject and isinstance(error, kind):
            return name
    if error.status == 400:
        return "BAD_REQUEST"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", error.kind).upper()  # QuotaExceeded: QUOTA_EXCEEDED


def agent_problem(error: DalguError, subject: Subject) -> Response:
    """The ProblemDetails of `error` with the agent's `name` and `message`."""
    body = {**problem_body(error), "name": agent_name(error, subject), "message": error.detail}
    headers = {"Retry-After": RETRY_AFTER} if isinstance(error, StoreUnavailable) else None
    return Response(
        orjson.dumps(body), status_code=error.status, media_type="application/json", headers=headers
    )


def with_agent_errors(subject: Subject, endpoint: Endpoint) -> Endpoint:
    """`endpoint`, its refusals answered with the agent's names as well."""

    async def answer(request: Request) -> Response:
        try:
            return await endpoint(request)
        except DalguError as error:
            return agent_problem(error, subject)

    answer.__name__ = getattr(endpoint, "__name__", "answer")
    answer.__doc__ = endpoint.__doc__
    return answer
