"""Values the SQLite store binds reach SQLite as the same SQL values with its adapters."""

from __future__ import annotations

import sqlite3

from dalgu.store.sqlite.parameters import bind_without_adapting


def test_none_bytes_and_bool_are_bound_as_null_blob_and_integer() -> None:
    bind_without_adapting()
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (a, b, c, d, e)")
    db.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?)", (None, b'{"x":1}', True, False, 2.5))
    row = db.execute("SELECT typeof(a), typeof(b), b, typeof(c), c, d, typeof(e) FROM t").fetchone()
    assert row == ("null", "blob", b'{"x":1}', "integer", 1, 0, "real")
    # a bytes subclass or another type is still adapted as sqlite3 would
    assert db.execute("SELECT typeof(?)", (bytearray(b"ab"),)).fetchone() == ("blob",)
