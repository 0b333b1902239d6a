"""When a device refused for its sandbox's quota may send again: HTTP `Retry-After` (RFC 9110
§10.2.3) on a 429, CoAP Max-Age on a 4.29 (RFC 8516 §3)."""

from __future__ import annotations

QUOTA_RETRY_AFTER = 1
"""Seconds. A sandbox's message rate is counted per second, so at a rate of one a second or more
its bucket holds a message again within a second; a device over the device or storage quota is
refused until the sandbox is reset or its quota raised, however long it waits."""
