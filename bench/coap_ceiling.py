"""The CoAP ceiling: a bare aiocoap server on 127.0.0.1 answering every POST to /iot/d with
2.04 Changed, as Dalgu's southbound does once a measure is stored.

    python bench/coap_ceiling.py PORT
"""

from __future__ import annotations

import asyncio
import sys

import aiocoap
import aiocoap.resource as resource


class _Changed(resource.Resource):  # type: ignore[misc]
    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        return aiocoap.Message(code=aiocoap.CHANGED)


async def _serve(port: int) -> None:
    site = resource.Site()
    site.add_resource(["iot", "d"], _Changed())
    await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", port), transports=["udp6"])
    await asyncio.get_running_loop().create_future()  # until the process is stopped


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1])))
