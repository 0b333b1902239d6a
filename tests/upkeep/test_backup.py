"""`dalgu backup` while Dalgu runs and writes, and restores by README.md's steps ("Backup and
restore"): the real server on loopback, the real PostgreSQL, pg_dump and pg_restore."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner, Result

from dalgu.api.app import build_app
from dalgu.cli.app import app as cli
from dalgu.settings import Settings
from dalgu.store.sqlite.backup import back_up
from tests.conftest import IN_PROCESS, fresh_database
from tests.ports import free_port
from tests.server import kill_server, start_server
from tests.upkeep.stores import Writer, cli_environment, vehicle

E = "/ngsi-ld/v1/entities"
BATCH = "/ngsi-ld/v1/entityOperations/create"
SECRET = "s3cret-Pa55"


def backup(settings: Settings, *args: str, environment: dict[str, str] | None = None) -> Result:
    env = {**cli_environment(settings, free_port()), **(environment or {})}
    return CliRunner().invoke(cli, ["backup", *args], env=env)


def sqlite_settings(db: Path) -> Settings:
    return Settings.load(sqlite_path=db, mqtt_broker="off")


def load(base: str, count: int, prefix: str = "v", tenant: str | None = None) -> list[str]:
    """`count` vehicles created in batches through the API; their ids."""
    headers = {"NGSILD-Tenant": tenant} if tenant else {}
    ids = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for first in range(0, count, 100):
            batch = [vehicle(f"{prefix}{n}", n) for n in range(first, min(count, first + 100))]
            assert client.post(BATCH, json=batch, headers=headers).status_code == 201
            ids.extend(e["id"] for e in batch)
    return ids


def sqlite_ids(path: Path) -> set[str]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {row[0] for row in db.execute("SELECT id FROM entities WHERE tenant = ''")}
    finally:
        db.close()


def assert_snapshot(found: set[str], writer: Writer, before: int) -> None:
    """The copy holds every write acknowledged before the backup began, and the writer's
    entities it holds are the first ones it wrote: the database as at one moment."""
    written = writer.acknowledged
    assert set(written[:before]) <= found
    held = [entity_id for entity_id in written if entity_id in found]
    assert held == written[: len(held)]


def test_a_backup_while_dalgu_writes_holds_every_entity_acknowledged_before(
    tmp_path: Path,
) -> None:
    db, out, port = tmp_path / "dalgu.db", tmp_path / "copy.db", free_port()
    server = start_server(db, port)
    base = f"http://127.0.0.1:{port}"
    writer = Writer(base, "w")
    steps: list[int] = []

    def progress(done: int, total: int) -> None:
        # a copy that went back to its start restarted after another connection's commit:
        # under steady writes it would never end
        assert not steps or done >= steps[-1], "the copy restarted"
        steps.append(done)
        writer.wait_for(len(writer.acknowledged) + 1, timeout=5)  # a commit between steps

    try:
        loaded = load(base, 2_000)
        writer.start()
        writer.wait_for(20)
        before = len(writer.acknowledged)
        copy = back_up(db, out, step_pages=8, progress=progress)
        after = len(writer.acknowledged)
    finally:
        writer.stop()
        kill_server(server, signal.SIGTERM)
    assert not writer.failures
    assert len(steps) > 50 and after > before + 50  # the writer wrote all through the copy
    check = sqlite3.connect(out)
    try:
        assert check.execute("PRAGMA quick_check").fetchall() == [("ok",)]
        assert check.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        check.close()
    found = sqlite_ids(out)
    assert set(loaded) <= found
    assert_snapshot(found, writer, before)
    assert copy.entities == len(found) and copy.size == out.stat().st_size
    assert not Path(f"{out}-wal").exists() and not Path(f"{out}.partial").exists()


def test_a_backup_restored_by_the_readme_steps_is_read_back_through_the_api(
    tmp_path: Path,
) -> None:
    db, out, port = tmp_path / "dalgu.db", tmp_path / "backup.db", free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(db, port)
    writer = Writer(base, "w")
    try:
        load(base, 500)
        kept = vehicle("kept", 42)
        assert httpx.post(f"{base}{E}", json=kept).status_code == 201
        writer.start()
        writer.wait_for(10)
        result = backup(sqlite_settings(db), str(out))
        writer.stop()
        assert result.exit_code == 0, result.output
        said = " ".join(result.output.split())
        assert "backed up" in said and "quick_check ok" in said
        # after the backup: one entity deleted, another created
        assert httpx.delete(f"{base}{E}/{kept['id']}").status_code == 204
        later = vehicle("later")
        assert httpx.post(f"{base}{E}", json=later).status_code == 201
    finally:
        writer.stop()
        kill_server(server, signal.SIGTERM)
    # README: stop Dalgu, copy the file over DALGU_SQLITE_PATH, remove the old -wal and -shm
    shutil.copyfile(out, db)
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    server = start_server(db, port)
    try:
        answer = httpx.get(f"{base}{E}/{kept['id']}", params={"options": "keyValues"})
        assert answer.status_code == 200
        assert answer.json()["speed"] == 42
        assert httpx.get(f"{base}{E}/{later['id']}").status_code == 404
    finally:
        kill_server(server, signal.SIGTERM)


def restore(db: Path, backup_file: Path) -> Result:
    env = cli_environment(sqlite_settings(db), free_port())
    return CliRunner().invoke(cli, ["restore", str(backup_file)], env=env)


def test_dalgu_restore_after_a_crash_never_reads_the_crashed_log(tmp_path: Path) -> None:
    """The README's restore copied by hand, with the old -wal left beside it after `kill -9`,
    served the crashed data and then corrupted the file (an outside test of operations, round
    6). `dalgu restore` refuses while the server runs, removes the log before the copy takes
    the database's place, and the server then serves the backup and writes a sound file."""
    db, out, port = tmp_path / "dalgu.db", tmp_path / "backup.db", free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(db, port)
    try:
        backed = set(load(base, 200, prefix="b"))
        assert backup(sqlite_settings(db), str(out)).exit_code == 0
        after = set(load(base, 300, prefix="a"))  # acknowledged after the backup
        refused = restore(db, out)
        said = " ".join(refused.output.split())
        assert refused.exit_code == 1 and "open in a running process" in said, said
    finally:
        kill_server(server, signal.SIGKILL)
    assert Path(f"{db}-wal").stat().st_size > 0  # the crashed server's log, left beside it
    restored = restore(db, out)
    said = " ".join(restored.output.split())
    assert restored.exit_code == 0 and "200 entities" in said and "quick_check ok" in said, said
    assert not Path(f"{db}-wal").exists()
    assert sqlite_ids(db) == backed
    server = start_server(db, port)
    try:
        found = httpx.get(f"{base}{E}", params={"type": "Vehicle", "count": "true", "limit": 0})
        assert found.headers["NGSILD-Results-Count"] == "200"
        assert httpx.post(f"{base}{E}", json=vehicle("new")).status_code == 201
    finally:
        kill_server(server, signal.SIGTERM)
    checked = sqlite3.connect(db)
    assert checked.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    checked.close()
    assert not after & sqlite_ids(db)


def test_restore_refuses_a_file_that_is_no_dalgu_backup(tmp_path: Path) -> None:
    db, other = tmp_path / "dalgu.db", tmp_path / "other.db"
    plain = sqlite3.connect(other)
    plain.execute("CREATE TABLE t (x)")
    plain.close()
    for candidate, reason in ((other, "not a Dalgu database"), (tmp_path / "none.db", "no backup")):
        result = restore(db, candidate)
        assert result.exit_code == 1 and reason in " ".join(result.output.split())
    assert not db.exists()


def test_an_existing_file_is_not_overwritten_without_force(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path / "dalgu.db")
    with TestClient(build_app(settings.model_copy(update=IN_PROCESS))) as client:
        assert client.post(E, json=vehicle("1")).status_code == 201
    out = tmp_path / "backup.db"
    out.write_bytes(b"last week's backup")
    refused = backup(settings, str(out))
    assert refused.exit_code == 1, refused.output
    assert "--force" in refused.output and len(refused.output.strip().splitlines()) == 1
    assert out.read_bytes() == b"last week's backup"
    forced = backup(settings, str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert sqlite_ids(out) == {"urn:ngsi-ld:Vehicle:1"}


def test_the_database_itself_is_refused_as_out(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path / "dalgu.db")
    with TestClient(build_app(settings.model_copy(update=IN_PROCESS))) as client:
        assert client.post(E, json=vehicle("1")).status_code == 201
    result = backup(settings, str(settings.sqlite_path), "--force")
    assert result.exit_code == 1, result.output
    assert sqlite_ids(settings.sqlite_path) == {"urn:ngsi-ld:Vehicle:1"}


def test_a_missing_sqlite_store_is_one_line_and_no_file(tmp_path: Path) -> None:
    out = tmp_path / "backup.db"
    result = backup(sqlite_settings(tmp_path / "none.db"), str(out))
    assert result.exit_code == 1, result.output
    assert "no SQLite database" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists() and not (tmp_path / "none.db").exists()


async def entity_rows(dsn: str) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT tenant, id, doc FROM entities ORDER BY tenant, id")
        return [tuple(row) for row in rows]
    finally:
        await conn.close()


@pytest.mark.postgres
def test_a_pg_dump_restored_into_another_database_holds_the_same_entities(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    out, port = tmp_path / "dalgu.dump", free_port()
    base = f"http://127.0.0.1:{port}"
    with fresh_database(request) as source, fresh_database(request) as target:
        source_dsn = f"postgresql://postgres:{SECRET}@127.0.0.1:5432/{source}"
        settings = Settings.load(store="postgres", postgres_dsn=source_dsn, mqtt_broker="off")
        server = start_server(tmp_path / "unused.db", port, postgres_dsn=source_dsn)
        writer = Writer(base, "w")
        try:
            load(base, 300)
            load(base, 50, tenant="daegu")
            writer.start()
            writer.wait_for(20)
            before = len(writer.acknowledged)
            result = backup(settings, str(out))
        finally:
            writer.stop()
            kill_server(server, signal.SIGTERM)
        assert result.exit_code == 0, result.output
        assert SECRET not in result.output and "postgres:***@" in result.output
        assert "pg_restore --list ok" in " ".join(result.output.split())
        # README: pg_restore --clean --if-exists -d <dsn> OUT
        target_dsn = f"postgresql://postgres@127.0.0.1:5432/{target}"
        restore = ["pg_restore", "--clean", "--if-exists", "-d", target_dsn, str(out)]
        restored = subprocess.run(restore, capture_output=True, text=True, check=False)
        assert restored.returncode == 0, restored.stderr
        written = asyncio.run(entity_rows(source_dsn))
        copied = asyncio.run(entity_rows(target_dsn))
        # the copy is the source as it was at one moment: every row it holds is the source's,
        # and the source's rows it lacks are writes after that moment
        assert set(copied) <= set(written)
        assert_snapshot({row[1] for row in copied if row[0] == ""}, writer, before)
        assert len([row for row in copied if row[0] == "daegu"]) == 50
        served = Settings.load(store="postgres", postgres_dsn=target_dsn, **IN_PROCESS)
        with TestClient(build_app(served.model_copy(update={"mqtt_broker": "off"}))) as client:
            answer = client.get(f"{E}/urn:ngsi-ld:Vehicle:v7", params={"options": "keyValues"})
            assert answer.status_code == 200 and answer.json()["speed"] == 7


@pytest.mark.postgres
def test_a_failing_pg_dump_is_one_line_without_the_password(tmp_path: Path) -> None:
    dsn = f"postgresql://postgres:{SECRET}@127.0.0.1:5432/dalgu_no_such_database"
    settings = Settings.load(store="postgres", postgres_dsn=dsn, mqtt_broker="off")
    out = tmp_path / "dalgu.dump"
    result = backup(settings, str(out))
    assert result.exit_code == 1, result.output
    said = result.output.strip()
    assert len(said.splitlines()) == 1 and "Traceback" not in said
    assert "pg_dump" in said and "does not exist" in said
    assert SECRET not in said
    assert not out.exists() and not Path(f"{out}.partial").exists()


@pytest.mark.postgres
def test_an_archive_pg_restore_cannot_read_is_refused(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A pg_dump that exits 0 but leaves a broken archive (cut short by a full disk, say)."""
    tools = tmp_path / "bin"
    tools.mkdir()
    fake = tools / "pg_dump"
    fake.write_text(  # writes a few bytes where the archive goes, and says all went well
        '#!/bin/sh\nfor a; do case "$a" in --file=*) echo cut > "${a#--file=}";; esac; done\n'
    )
    fake.chmod(0o755)
    real = shutil.which("pg_restore")
    assert real is not None
    (tools / "pg_restore").symlink_to(real)
    out = tmp_path / "dalgu.dump"
    with fresh_database(request) as name:
        dsn = f"postgresql://postgres@127.0.0.1:5432/{name}"
        settings = Settings.load(store="postgres", postgres_dsn=dsn, mqtt_broker="off")
        result = backup(settings, str(out), environment={"PATH": str(tools)})
    assert result.exit_code == 1, result.output
    assert "pg_restore cannot read the archive" in " ".join(result.output.split())
    assert not out.exists() and not Path(f"{out}.partial").exists()


def test_a_missing_pg_dump_is_one_line(tmp_path: Path) -> None:
    settings = Settings.load(store="postgres", mqtt_broker="off")
    empty = tmp_path / "bin"
    empty.mkdir()
    result = backup(settings, str(tmp_path / "dalgu.dump"), environment={"PATH": str(empty)})
    assert result.exit_code == 1, result.output
    assert "pg_dump is not installed" in result.output
    assert len(result.output.strip().splitlines()) == 1
