"""How deep a JSON value nests: the HTTP API and the MQTT southbound refuse the same depth."""

from __future__ import annotations

from typing import Any


def nesting_depth(value: Any, limit: int) -> int:
    """How many levels `value` nests (a scalar is one), counting no further than `limit + 1`.

    Level by level, with the containers' own C loops (`extend`): a 1,000-entity batch body
    is walked in about a millisecond.
    """
    level = [value]
    depth = 1
    while True:
        below: list[Any] = []
        for item in level:
            if isinstance(item, dict):
                below.extend(item.values())
            elif isinstance(item, list):
                below.extend(item)
        if not below or depth > limit:
            return depth
        depth += 1
        level = below
