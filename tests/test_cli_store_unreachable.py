"""`dalgu migrate` and `dalgu serve` facing a store they cannot open, from an outside test of
the production deployment: a 170-250-line traceback through asyncpg before the one line that
said what was wrong."""

from __future__ import annotations

import uuid

from typer.testing import CliRunner

from dalgu.cli.app import app as cli


def test_a_missing_database_is_one_line_and_status_1() -> None:
    missing = f"dalgu_missing_{uuid.uuid4().hex[:8]}"
    env = {
        "DALGU_STORE": "postgres",
        "DALGU_POSTGRES_DSN": f"postgresql://postgres@127.0.0.1:5432/{missing}",
        "COLUMNS": "300",
    }
    result = CliRunner().invoke(cli, ["migrate"], env=env)
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert f'database "{missing}" does not exist' in said
    assert "Traceback" not in result.output and len(result.output.splitlines()) <= 2
