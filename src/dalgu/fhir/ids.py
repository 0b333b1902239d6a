"""Ids the server gives new resources: UUIDs in the version 7 layout (RFC 9562), whose text
sorts by creation time.

A random (version 4) id lands anywhere in the `(type, id)` index of the resources and in the
index of every AuditEvent's references to them: each create dirties a page of its own, which
after every checkpoint costs a full-page image in the WAL and, once the index outgrows the
buffer cache, a read. Time-ordered ids are appended at the right edge of those indexes.
"""

from __future__ import annotations

import os
import re
import time
import uuid

#: the text of a UUID, as `new_id` (and before it `uuid4`) makes them
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def new_id() -> str:
    """48 bits of Unix milliseconds, then the version (7), 74 random bits and the variant."""
    millis = time.time_ns() // 1_000_000 % (1 << 48)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # variant 10 (RFC 9562)
    return str(uuid.UUID(int=value))


def server_made(resource_id: str) -> bool:
    """Whether an id has the form of those the server gives (a UUID in lower case): a
    resource created with another was created by a PUT of the client's id. The store keeps
    no method per version, so a client that PUTs an id of that form is taken for a POST."""
    return _UUID.fullmatch(resource_id) is not None
