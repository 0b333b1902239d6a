"""Versioned schema of the SQLite store; `migrate` brings a database to the latest version."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from dalgu.errors import SchemaAhead, StoreUnavailable
from dalgu.store.sqlite.collation_prefix import row_prefix
from dalgu.store.sqlite.json_reindex import index_json_values

#: a migration of the data that SQL alone cannot make, run in its version's transaction
DataMigration = Callable[[sqlite3.Connection], None]

MIGRATIONS: list[str | DataMigration] = [
    # 1: entities, their types and scopes, the attribute index, geometries, contexts
    """
    CREATE TABLE entities (
        ent INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        doc BLOB NOT NULL,
        UNIQUE (tenant, id)
    );
    CREATE TABLE entity_types (
        tenant TEXT NOT NULL,
        type TEXT NOT NULL,
        ent INTEGER NOT NULL,
        PRIMARY KEY (tenant, type, ent)
    ) WITHOUT ROWID;
    CREATE INDEX entity_types_ent ON entity_types (ent);
    CREATE TABLE entity_scopes (
        ent INTEGER NOT NULL,
        scope TEXT NOT NULL,
        PRIMARY KEY (ent, scope)
    ) WITHOUT ROWID;
    CREATE TABLE attrs (
        ent INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        path TEXT NOT NULL,
        kind TEXT NOT NULL,
        num REAL,
        txt TEXT,
        PRIMARY KEY (ent, name, path, seq)
    ) WITHOUT ROWID;
    CREATE INDEX attrs_marker ON attrs (tenant, name) WHERE path = '#';
    CREATE TABLE geo (
        gid INTEGER PRIMARY KEY,
        ent INTEGER NOT NULL,
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        geometry BLOB NOT NULL
    );
    CREATE INDEX geo_ent ON geo (ent);
    CREATE VIRTUAL TABLE geo_rtree USING rtree (gid, minx, maxx, miny, maxy);
    CREATE TABLE contexts (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        created_at TEXT NOT NULL,
        document BLOB NOT NULL
    );
    """,
    # 2: subscriptions, the change outbox, consumer cursors, pending deliveries
    """
    CREATE TABLE subscriptions (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        doc BLOB NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        before BLOB,
        after BLOB,
        at TEXT NOT NULL
    );
    CREATE TABLE cursors (
        consumer TEXT PRIMARY KEY,
        seq INTEGER NOT NULL
    );
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        subscription_id TEXT NOT NULL,
        payload BLOB NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at REAL NOT NULL
    );
    CREATE INDEX deliveries_due ON deliveries (next_at, id);
    CREATE INDEX deliveries_subscription ON deliveries (tenant, subscription_id, id);
    CREATE TABLE generations (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    INSERT INTO generations (name, value) VALUES ('subscriptions', 0);
    """,
    # 3: temporal history: entities that have one, and attribute instances
    """
    CREATE TABLE temporal_entities (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        types TEXT NOT NULL,
        created_at TEXT NOT NULL,
        deleted_at TEXT,
        PRIMARY KEY (tenant, id)
    );
    CREATE TABLE instances (
        iid INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        name TEXT NOT NULL,
        dataset TEXT NOT NULL DEFAULT '',
        observed_at TEXT,
        created_at TEXT NOT NULL,
        modified_at TEXT NOT NULL,
        deleted_at TEXT,
        num REAL,
        doc BLOB NOT NULL
    );
    CREATE INDEX instances_observed ON instances (tenant, entity_id, name, observed_at);
    """,
    # 4: the gateway's registry: IoT Agent config groups and devices
    """
    CREATE TABLE iot_groups (
        apikey TEXT NOT NULL,
        resource TEXT NOT NULL,
        tenant TEXT NOT NULL,
        service_path TEXT NOT NULL,
        doc BLOB NOT NULL,
        PRIMARY KEY (apikey, resource)
    );
    CREATE INDEX iot_groups_tenant ON iot_groups (tenant, service_path);
    CREATE TABLE iot_devices (
        tenant TEXT NOT NULL,
        service_path TEXT NOT NULL,
        device_id TEXT NOT NULL,
        apikey TEXT NOT NULL,
        doc BLOB NOT NULL,
        PRIMARY KEY (tenant, service_path, device_id, apikey)
    );
    CREATE INDEX iot_devices_apikey ON iot_devices (apikey, device_id);
    """,
    # 5: temporal history: values for q and distinctCount, geometries for geoQ, the time
    # retention goes by (observedAt, else createdAt)
    """
    ALTER TABLE instances ADD COLUMN txt TEXT;
    ALTER TABLE instances ADD COLUMN geometry BLOB;
    ALTER TABLE instances ADD COLUMN at TEXT;
    UPDATE instances SET at = coalesce(observed_at, created_at);
    CREATE INDEX instances_at ON instances (at)
    """,
    # 6: testbed conformance reports
    """
    CREATE TABLE testbed_reports (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        doc BLOB NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE INDEX testbed_reports_created ON testbed_reports (tenant, created_at);
    """,
    # 7: value indexes that let a selective q drive a query (`plan.py`): numbers and strings
    # by attribute and path, and which entities hold several values at one attribute path
    # (arrays, several instances), the ones a range over one value row alone could miss
    """
    CREATE INDEX attrs_num ON attrs (tenant, name, path, kind, num) WHERE kind = 'n';
    CREATE INDEX attrs_txt ON attrs (tenant, name, path, kind, txt) WHERE kind = 's';
    CREATE TABLE attrs_multi (
        ent INTEGER NOT NULL,
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        path TEXT NOT NULL,
        PRIMARY KEY (ent, name, path)
    ) WITHOUT ROWID;
    CREATE INDEX attrs_multi_path ON attrs_multi (tenant, name, path);
    INSERT INTO attrs_multi (ent, tenant, name, path)
        SELECT ent, tenant, name, path FROM attrs WHERE kind <> '#'
        GROUP BY ent, name, path HAVING count(*) > 1
    """,
    # 8: testbed sandboxes
    """
    CREATE TABLE IF NOT EXISTS sandboxes (
        tenant TEXT PRIMARY KEY,
        doc BLOB NOT NULL
    );
    """,
    # 9: a delivery taken by a sender is leased until `lease_until` (retries use next_at);
    # subscriptions are listed in the order they were created
    """
    ALTER TABLE deliveries ADD COLUMN lease_until REAL NOT NULL DEFAULT 0;
    ALTER TABLE subscriptions ADD COLUMN created TEXT NOT NULL DEFAULT ''
    """,
    # 10: the string value index holds the strings of attribute values only: members such as
    # observedAt and unitCode doubled its write cost (+14 us per vehicle) for rarer queries
    """
    DROP INDEX attrs_txt;
    CREATE INDEX attrs_txt ON attrs (tenant, name, kind, txt) WHERE kind = 's' AND path = ''
    """,
    # gateway (issue 4): commands queued for polling devices until fetched or expired
    """
    CREATE TABLE IF NOT EXISTS iot_commands (
        apikey TEXT NOT NULL,
        device_id TEXT NOT NULL,
        name TEXT NOT NULL,
        tenant TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        value BLOB NOT NULL,
        queued REAL NOT NULL,
        expires REAL NOT NULL,
        PRIMARY KEY (apikey, device_id, name)
    );
    CREATE INDEX IF NOT EXISTS iot_commands_expires ON iot_commands (expires);
    CREATE INDEX IF NOT EXISTS iot_commands_tenant ON iot_commands (tenant)
    """,
    # testbed (issue 4): sandbox API keys, by the SHA-256 of the key (never the key itself)
    """
    CREATE TABLE IF NOT EXISTS sandbox_keys (
        digest TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        created TEXT NOT NULL,
        revoked TEXT,
        UNIQUE (tenant, id)
    )
    """,
    # FHIR resources (issue 6): current versions, every version's body, search index rows
    """
    CREATE TABLE IF NOT EXISTS fhir_resources (
        rid INTEGER PRIMARY KEY,
        type TEXT NOT NULL,
        id TEXT NOT NULL,
        version INTEGER NOT NULL,
        last_updated TEXT NOT NULL,
        updated REAL NOT NULL,
        deleted INTEGER NOT NULL,
        patient TEXT,
        UNIQUE (type, id)
    );
    CREATE INDEX IF NOT EXISTS fhir_resources_patient ON fhir_resources (patient, type);
    CREATE INDEX IF NOT EXISTS fhir_resources_updated ON fhir_resources (type, updated);
    CREATE TABLE IF NOT EXISTS fhir_versions (
        rid INTEGER NOT NULL,
        version INTEGER NOT NULL,
        type TEXT NOT NULL,
        last_updated TEXT NOT NULL,
        updated REAL NOT NULL,
        deleted INTEGER NOT NULL,
        body BLOB,
        PRIMARY KEY (rid, version)
    );
    CREATE INDEX IF NOT EXISTS fhir_versions_type ON fhir_versions (type, updated);
    CREATE TABLE IF NOT EXISTS fhir_token (
        type TEXT NOT NULL, param TEXT NOT NULL, code TEXT NOT NULL, system TEXT NOT NULL,
        rid INTEGER NOT NULL, patient TEXT,
        PRIMARY KEY (type, param, code, system, rid)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS fhir_token_rid ON fhir_token (rid, param);
    CREATE INDEX IF NOT EXISTS fhir_token_patient ON fhir_token (type, param, patient, code, system)
        WHERE patient IS NOT NULL;
    CREATE TABLE IF NOT EXISTS fhir_string (
        type TEXT NOT NULL, param TEXT NOT NULL, folded TEXT NOT NULL, exact TEXT NOT NULL,
        rid INTEGER NOT NULL,
        PRIMARY KEY (type, param, folded, exact, rid)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS fhir_string_rid ON fhir_string (rid, param);
    CREATE TABLE IF NOT EXISTS fhir_date (
        type TEXT NOT NULL, param TEXT NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL,
        rid INTEGER NOT NULL,
        PRIMARY KEY (type, param, lo, hi, rid)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS fhir_date_rid ON fhir_date (rid, param);
    CREATE TABLE IF NOT EXISTS fhir_ref (
        type TEXT NOT NULL, param TEXT NOT NULL, ref_id TEXT NOT NULL, ref_type TEXT NOT NULL,
        rid INTEGER NOT NULL,
        PRIMARY KEY (type, param, ref_id, ref_type, rid)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS fhir_ref_rid ON fhir_ref (rid, param)
    """,
    # testbed (issue 4): conformance runs and the messages every server process saw in them
    """
    CREATE TABLE IF NOT EXISTS testbed_runs (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        apikey TEXT NOT NULL,
        doc BLOB NOT NULL,
        started REAL NOT NULL,
        ends REAL NOT NULL,
        owner TEXT NOT NULL,
        lease_until REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS testbed_runs_tenant ON testbed_runs (tenant);
    CREATE TABLE IF NOT EXISTS testbed_run_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        run_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        doc BLOB NOT NULL
    );
    CREATE INDEX IF NOT EXISTS testbed_run_events_run ON testbed_run_events (run_id, seq);
    CREATE INDEX IF NOT EXISTS testbed_run_events_tenant ON testbed_run_events (tenant)
    """,
    # temporal (issue 3): the history index also holds the value and the deletion time, so an
    # aggregation reads its rows from the index alone, never the table
    """
    CREATE INDEX IF NOT EXISTS instances_history
        ON instances (tenant, entity_id, name, observed_at, num, deleted_at);
    DROP INDEX IF EXISTS instances_observed
    """,
    # context source registrations and their subscriptions (clauses 5.9-5.11): one document each
    """
    CREATE TABLE IF NOT EXISTS csource_registrations (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        created TEXT NOT NULL,
        doc BLOB NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE INDEX IF NOT EXISTS csource_registrations_created
        ON csource_registrations (tenant, created, id);
    CREATE TABLE IF NOT EXISTS csource_subscriptions (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        created TEXT NOT NULL,
        doc BLOB NOT NULL,
        PRIMARY KEY (tenant, id)
    )
    """,
    # batch writes (issues 2-4): `attrs.seq` numbers the rows of each attribute of an entity
    # from 0 (it numbered the entity's rows), so an update computes and compares the rows of
    # the attributes it changed only. An attribute's rows were numbered in one run, so each
    # run moves down by its first number; through negative numbers, never a taken key.
    """
    CREATE TEMP TABLE IF NOT EXISTS attrs_base (
        ent INTEGER NOT NULL,
        name TEXT NOT NULL,
        base INTEGER NOT NULL,
        PRIMARY KEY (ent, name)
    ) WITHOUT ROWID;
    DELETE FROM attrs_base;
    INSERT INTO attrs_base (ent, name, base)
        SELECT ent, name, min(seq) FROM attrs GROUP BY ent, name HAVING min(seq) <> 0;
    UPDATE attrs SET seq = -1 - (seq - (
        SELECT b.base FROM attrs_base b WHERE b.ent = attrs.ent AND b.name = attrs.name
    )) WHERE (ent, name) IN (SELECT ent, name FROM attrs_base);
    UPDATE attrs SET seq = -1 - seq WHERE seq < 0;
    DROP TABLE IF EXISTS attrs_base
    """,
    # FHIR (issue 6): `patient` of Observation, Encounter, Condition and AuditEvent is searched
    # through the Patient rows of `subject` (`entity`), `SearchParam.indexed_as`: its own rows go
    """
    DELETE FROM fhir_ref WHERE param = 'patient'
        AND type IN ('Observation', 'Encounter', 'Condition', 'AuditEvent')
    """,
    # FHIR (issue 6): a date clause that does not drive is probed per candidate by (rid, param);
    # with lo and hi in the index the probe reads the index alone, not a table row per candidate
    """
    CREATE INDEX IF NOT EXISTS fhir_date_probe ON fhir_date (rid, param, lo, hi);
    DROP INDEX IF EXISTS fhir_date_rid
    """,
    # temporal (issue 3): hourly rollups of the history (`store/rollup.py`): per entity,
    # attribute, hour of observedAt (its Unix time) and datasetId, the count of instances, of
    # numeric ones, their sum, sum of squares, min and max; filled from the instances stored
    """
    CREATE TABLE IF NOT EXISTS instance_hours (
        tenant TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        name TEXT NOT NULL,
        hour INTEGER NOT NULL,
        dataset TEXT NOT NULL,
        count_all INTEGER NOT NULL,
        count_num INTEGER NOT NULL,
        sum_num REAL NOT NULL,
        sumsq_num REAL NOT NULL,
        min_num REAL,
        max_num REAL,
        PRIMARY KEY (tenant, entity_id, name, hour, dataset)
    ) WITHOUT ROWID;
    DELETE FROM instance_hours;
    INSERT INTO instance_hours (tenant, entity_id, name, hour, dataset, count_all, count_num,
        sum_num, sumsq_num, min_num, max_num)
    SELECT tenant, entity_id, name,
        CAST(strftime('%s', substr(observed_at, 1, 13) || ':00:00') AS INTEGER), dataset,
        count(*), count(num), coalesce(sum(num), 0), coalesce(sum(num * num), 0), min(num),
        max(num)
    FROM instances WHERE observed_at IS NOT NULL AND deleted_at IS NULL
    GROUP BY 1, 2, 3, 4, 5
    """,
    # queries driven by an index (`plan.py`) look at each candidate's tenant and id to filter
    # and sort it: from this index (~50 bytes a row, held in the page cache) instead of the
    # entity's row with its document (a page of its own, mostly read from the file). It costs
    # writes nothing but a create's one entry: an update changes none of its columns
    """
    CREATE INDEX IF NOT EXISTS entities_key ON entities (ent, tenant, id)
    """,
    # open data: the datasets a tenant publishes (`dalgu.opendata`), each a document; its name
    # (the CKAN slug) is unique in the tenant
    """
    CREATE TABLE IF NOT EXISTS opendata_datasets (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        doc BLOB NOT NULL,
        PRIMARY KEY (tenant, id),
        UNIQUE (tenant, name)
    )
    """,
    # each entity's default rendering, made by its writes (`renderings.py`): the commonest
    # read sends it as it is; the version of the code that made the kept ones
    """
    ALTER TABLE entities ADD COLUMN rendered BLOB;
    CREATE TABLE IF NOT EXISTS rendering (version TEXT NOT NULL)
    """,
    # distributed operations: what each registration's context source was sent
    """
    CREATE TABLE IF NOT EXISTS registration_status (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        times_sent INTEGER NOT NULL,
        times_failed INTEGER NOT NULL,
        last_success TEXT,
        last_failure TEXT,
        PRIMARY KEY (tenant, id)
    )
    """,
    # an entity's type when it has one only (NULL when several), in its row and in the key
    # index: a query by type tests each candidate there instead of probing `entity_types`
    # (half of a value-index-driven `q` over 100,000 vehicles), and a count by type reads
    # the small index instead of each row
    """
    ALTER TABLE entities ADD COLUMN type1 TEXT;
    UPDATE entities SET type1 = (SELECT min(t.type) FROM entity_types t WHERE t.ent = entities.ent)
    WHERE (SELECT count(*) FROM entity_types t WHERE t.ent = entities.ent) = 1;
    DROP INDEX IF EXISTS entities_key;
    CREATE INDEX entities_key ON entities (ent, tenant, id, type1)
    """,
    # what `/types` and `/attributes` report, kept by the writes (`summary.py`) instead of
    # counted from every attribute of every entity (200 and 600 ms at 100,000 vehicles)
    """
    CREATE TABLE IF NOT EXISTS type_entities (
        tenant TEXT NOT NULL,
        type TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (tenant, type)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS type_attributes (
        tenant TEXT NOT NULL,
        type TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (tenant, type, name, kind)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS attribute_instances (
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (tenant, name, kind)
    ) WITHOUT ROWID;
    INSERT INTO type_entities (tenant, type, n)
    SELECT tenant, type, count(*) FROM entity_types GROUP BY tenant, type;
    INSERT INTO type_attributes (tenant, type, name, kind, n)
    SELECT t.tenant, t.type, a.name, a.txt, count(*)
    FROM entity_types t JOIN attrs a ON a.ent = t.ent AND a.path = '#'
    GROUP BY t.tenant, t.type, a.name, a.txt;
    INSERT INTO attribute_instances (tenant, name, kind, n)
    SELECT tenant, name, txt, count(*) FROM attrs WHERE path = '#' GROUP BY tenant, name, txt
    """,
    # a `scopeQ` driven from the entities of a scope (`plan.py`) instead of a walk of all
    """
    CREATE INDEX IF NOT EXISTS entity_scopes_scope ON entity_scopes (scope, ent)
    """,
    # the first pages of an ordering by strings, walked in the collation's order from each
    # value's plain string's primary weights (`collation_prefix.row_prefix`, kept in its `num`;
    # this migration also built `attrs_prefix` over them, which the next one replaces: a
    # database migrated from before builds only the replacement)
    """
    UPDATE attrs SET num = collation_prefix(path, txt) WHERE kind = 's'
    """,
    # one index of value strings instead of two: by collation prefix, then text, serves the
    # orderings' walk, equalities (the literal's prefix, then its text) and ranges; each
    # index entry a write makes costs it a page of the log in a small commit
    """
    DROP INDEX attrs_txt;
    DROP INDEX IF EXISTS attrs_prefix;
    CREATE INDEX attrs_string ON attrs (tenant, name, path, kind, num, txt)
        WHERE kind = 's' AND (path = '' OR num IS NOT NULL)
    """,
    # the outbox position a subscription was created at (`subscription_origins`)
    """
    ALTER TABLE subscriptions ADD COLUMN origin INTEGER NOT NULL DEFAULT 0
    """,
    # a point's coordinates as numbers, for `near` in SQL (`near.py`); NULL for other shapes
    """
    ALTER TABLE geo ADD COLUMN px REAL;
    ALTER TABLE geo ADD COLUMN py REAL;
    UPDATE geo SET
        px = json_extract(CAST(geometry AS TEXT), '$.coordinates[0]'),
        py = json_extract(CAST(geometry AS TEXT), '$.coordinates[1]')
    WHERE json_extract(CAST(geometry AS TEXT), '$.type') = 'Point'
        AND json_type(CAST(geometry AS TEXT), '$.coordinates[0]') IN ('integer', 'real')
        AND json_type(CAST(geometry AS TEXT), '$.coordinates[1]') IN ('integer', 'real')
    """,
    # the history's points as numbers too, for the temporal API's `near` in SQL (`near.py`)
    """
    ALTER TABLE instances ADD COLUMN px REAL;
    ALTER TABLE instances ADD COLUMN py REAL;
    UPDATE instances SET
        px = json_extract(CAST(geometry AS TEXT), '$.coordinates[0]'),
        py = json_extract(CAST(geometry AS TEXT), '$.coordinates[1]')
    WHERE geometry IS NOT NULL
        AND json_extract(CAST(geometry AS TEXT), '$.type') = 'Point'
        AND json_type(CAST(geometry AS TEXT), '$.coordinates[0]') IN ('integer', 'real')
        AND json_type(CAST(geometry AS TEXT), '$.coordinates[1]') IN ('integer', 'real')
    """,
    # the open-data catalogue's generation: each dataset write changes it (`opendata.py`), so a
    # worker keeps the parsed catalogue while it stays the same
    """
    INSERT OR IGNORE INTO generations (name, value) VALUES ('datasets', 0)
    """,
    # the JSON of JsonProperty values in the attribute index: the rows of the entities stored
    # before, rewritten (`json_reindex.py`)
    index_json_values,
    # a type's entities in id order (`plan.typed_arms`): the first page of a common type was a
    # walk of every entity whose id sorts before its first (perf-2: 200 ms at 100,000)
    """
    CREATE INDEX IF NOT EXISTS entities_type_id ON entities (tenant, type1, id)
    """,
]


def migrate(db: sqlite3.Connection) -> tuple[int, int]:
    """Apply every migration the database lacks, each in its own transaction: the version
    found and the one left. A database a newer Dalgu wrote is refused (`ahead`)."""
    db.create_function("collation_prefix", 2, row_prefix, deterministic=True)
    db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = db.execute("SELECT max(version) FROM schema_version").fetchone()
    found = current = row[0] or 0
    if current > len(MIGRATIONS):
        raise SchemaAhead("SQLite", current, len(MIGRATIONS))
    if current == RENUMBERED and not _has_index(db, "attrs_num"):
        # its 7th is main's 8th, which takes being applied again: main's 7th comes first
        db.execute("DELETE FROM schema_version WHERE version = ?", (RENUMBERED,))
        current = RENUMBERED - 1
    for version, script in enumerate(MIGRATIONS, start=1):
        if version <= current:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            # another process opening the database may have applied it since `current` was read
            done = "SELECT 1 FROM schema_version WHERE version = ?"
            if db.execute(done, (version,)).fetchone() is not None:
                db.execute("COMMIT")
                continue
            if isinstance(script, str):
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
            else:
                script(db)
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            db.execute("ROLLBACK")
            left = db.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
            raise StoreUnavailable(
                f"the SQLite schema migration {version} of {len(MIGRATIONS)} failed ({exc}): "
                f"the database is left at version {left}, as migration {version} found it"
            ) from None
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return found, len(MIGRATIONS)


#: a database Dalgu `031d930` (2026-11-25 09:01) wrote has 7 migrations, its 7th the
#: sandboxes table, which main numbers 8 since its 7th (the value indexes) was put before it:
#: such a database at version 7 lacks main's 7th (`attrs_num` is the sign), and main's 10th
#: failed on it ("no such index: attrs_txt")
RENUMBERED = 7


def _has_index(db: sqlite3.Connection, name: str) -> bool:
    found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,))
    return found.fetchone() is not None
