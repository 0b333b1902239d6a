"""GET /info/sourceIdentity (clauses 5.15.1, 6.33): who this broker is to other brokers."""

from __future__ import annotations

import time
import uuid

from starlette.requests import Request
from starlette.responses import Response

from dalgu import __version__
from dalgu.api.edge import read_context, runtime
from dalgu.api.respond import json_response
from dalgu.broker.model import now_iso
from dalgu.federation.distributor import via_name

#: when this process started serving (the uptime counts from here)
_STARTED = time.monotonic()
#: this broker's id: stable for the process, new at each start
_ID = f"urn:ngsi-ld:ContextSource:{uuid.uuid4()}"


def _duration(seconds: float) -> str:
    """ISO 8601 duration, e.g. P1DT2H3M4S."""
    whole = int(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    return f"P{days}DT{hours}H{minutes}M{secs}S"


async def source_identity(request: Request) -> Response:
    """A ContextSourceIdentity (clause 5.2.40). Its alias is the name this broker gives
    itself in `Via` headers: a registration with that `contextSourceAlias` is not followed by
    a request that has passed here (clause 5.12)."""
    rc = await read_context(request)
    rt = runtime(request)
    data = {
        "id": _ID,
        "type": "ContextSourceIdentity",
        "contextSourceAlias": via_name(rt.settings),
        "contextSourceUptime": _duration(time.monotonic() - _STARTED),
        "contextSourceTimeAt": now_iso(),
        "contextSourceExtras": {
            "product": "Dalgu",
            "version": __version__,
            "store": rt.settings.store,
            "tenant": rc.tenant or None,
        },
    }
    return json_response(data, rc, rt.settings.base_url)
