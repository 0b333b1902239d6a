"""The NGSI-LD core @context, embedded: never fetched from the network.

Every published core context URL (v1.3 … v1.9, with or without a version) maps to the v1.9
document shipped with Dalgu.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

import orjson

CORE_CONTEXT_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"
NGSI_LD = "https://uri.etsi.org/ngsi-ld/"
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"

_CORE_URL = re.compile(
    r"^https?://uri\.etsi\.org/ngsi-ld/(v1/)?ngsi-ld-core-context(-v1\.[3-9](\.\d+)?)?\.jsonld$"
)


def is_core_context(url: str) -> bool:
    return bool(_CORE_URL.match(url))


@cache
def core_context_document() -> dict[str, Any]:
    """The parsed core context document ({"@context": {...}})."""
    data = resources.files("dalgu.ldcontext").joinpath("core-context-v1.9.jsonld").read_bytes()
    doc: dict[str, Any] = orjson.loads(data)
    return doc


@cache
def core_context_bytes() -> bytes:
    return resources.files("dalgu.ldcontext").joinpath("core-context-v1.9.jsonld").read_bytes()
