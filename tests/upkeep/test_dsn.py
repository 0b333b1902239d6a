"""The PostgreSQL DSN as `dalgu status` shows it and `dalgu backup` hands it to pg_dump: the
password never shown, never on pg_dump's command line."""

from __future__ import annotations

import pytest

from dalgu.store.postgres.backup import without_password
from dalgu.store.postgres.status import masked_dsn


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://postgres@db/dalgu", "postgresql://postgres@db/dalgu"),
        ("postgresql://dalgu:s3cret@db:5432/dalgu", "postgresql://dalgu:***@db:5432/dalgu"),
        (
            "postgresql://dalgu:p%40ss@db/d?sslmode=require",
            "postgresql://dalgu:***@db/d?sslmode=require",
        ),
        ("postgresql://db/d?user=u&password=s3cret", "postgresql://db/d?user=u&password=***"),
        ("host=db dbname=dalgu password=s3cret user=u", "host=db dbname=dalgu password=*** user=u"),
        ("host=db password = 'it\\'s x' user=u", "host=db password = *** user=u"),
    ],
)
def test_the_password_is_masked(dsn: str, shown: str) -> None:
    assert masked_dsn(dsn) == shown


@pytest.mark.parametrize(
    ("dsn", "bare", "password"),
    [
        ("postgresql://postgres@db/dalgu", "postgresql://postgres@db/dalgu", None),
        ("postgresql://dalgu:p%40ss@db:5432/d", "postgresql://dalgu@db:5432/d", "p@ss"),
        ("postgresql://db/d?user=u&password=s3cret", "postgresql://db/d?user=u", "s3cret"),
        ("host=db password=s3cret user=u", "host=db  user=u", "s3cret"),
        ("host=db password='a b\\'c' user=u", "host=db  user=u", "a b'c"),
    ],
)
def test_the_password_goes_apart_from_the_dsn(dsn: str, bare: str, password: str | None) -> None:
    assert without_password(dsn) == (bare, password)
