"""How the store's Python values reach SQLite as statement parameters, without an exception each.

Python's `sqlite3` binds `int`, `float` and `str` directly, but sends every other value (`None`,
`bytes`, `bool`) through its adaptation protocol first: a lookup in the registered adapters,
then `PrepareProtocol.__adapt__`, which the class does not have, so each such parameter raises
and formats an `AttributeError` that is thrown away (~1 µs each). The index rows of one created
vehicle bind ~40 of them (`num` or `txt` is NULL in every row, the document is bytes). An
adapter registered for each of these types is found in the first lookup and returns the value
as it is: the same SQL values, bound without the exception.

The registry is the `sqlite3` module's own, shared by the process: the store registers them
when it opens (again is harmless).
"""

from __future__ import annotations

import sqlite3


def _none(value: None) -> None:
    return value


def bind_without_adapting() -> None:
    """Register the adapters that return `None`, `bytes` and `bool` as the values they are."""
    sqlite3.register_adapter(type(None), _none)  # bound as NULL, as before
    sqlite3.register_adapter(bytes, bytes)  # bytes(b) is b itself for a bytes object: a BLOB
    sqlite3.register_adapter(bool, int)  # 0 or 1, as sqlite3 binds a bool by default
