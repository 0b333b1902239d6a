"""Versioned schema of the PostgreSQL store; `migrate` brings a database to the latest version.

Tables:

- `entities`: one row per entity; the document is the orjson bytes the service wrote (bytea, so
  a read returns exactly what was stored and the server never parses it). `ent` is a compact
  surrogate key the index tables refer to. `scope_tree` holds every scope and all its ancestors
  (`/a/b` → `/a`, `/a/b`), so `scopeQ` patterns `/a/b` and `/a/#` are GIN lookups.
- `attr_keys`: each (tenant, attribute IRI, path) pair once, as a small integer `nid`. Index rows
  carry the `nid` instead of two long IRIs, which keeps their btrees narrow and makes every
  index entry small enough for btree whatever the length of the names.
- `attr_num` and `attr_txt`: one row per (entity, attribute instance, leaf value), see
  `dalgu.store.indexing`: numbers, booleans (0/1) and nulls in one, strings and instance
  markers (kind '#', the attribute type as text) in the other. Two tables rather than one with
  two nullable columns so that the planner's statistics on `num` and `txt` describe only real
  values (a shared table's NULLs made it misjudge `speed>60` by 100×, and pick a plan that
  sorted every match instead of walking ids and stopping at `limit`); the extended statistics
  on (nid, kind) tell it how common each attribute is. Strings are indexed by their first 256
  characters: a btree entry must stay under ~2.7 kB, and a prefix keeps the order of "C".
- `attr_multi`: the (nid, entity) pairs with more than one value row (an array, several
  instances); a `q` range driven from `attr_num_value` takes them as candidates too.
- `entities` leaves 20% of each page free so that an update of the document can stay on its
  page (a HOT update) and skip the four indexes when types and scopes are unchanged.
- `geo`: one row per GeoProperty instance, as geometry (planar predicates in lon/lat, as
  GeoJSON and the SQLite store use; `near` too, measured as SQLite measures it:
  `postgres/near.py`) and as geography (the distance order), each with GiST. A column
  rather than an expression index on `geography(geom)`: PostGIS estimates `ST_DWithin` from
  the statistics of a column, and without them it guessed 10 matches for 42,000 and picked a
  plan 400× slower (when `near` ran on it).
- `contexts`: registered JSON-LD contexts.
- `temporal_entities` and `instances`: the temporal history. `instances` is partitioned by
  range of `at` (observedAt, else createdAt) into one table per calendar month, created on
  demand by the writes that need them and a few months ahead (`postgres/temporal.py`); a
  retention policy drops whole months. The partitioned index (tenant, entity, attribute, at)
  serves every range scan of one entity's history, newest or oldest first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from dalgu.errors import SchemaAhead, StoreUnavailable
from dalgu.query.order import TEMPORAL_RANKS
from dalgu.store.postgres.json_reindex import index_json_values

# A fixed key for pg_advisory_lock: "dalgu" in ASCII.
MIGRATION_LOCK = 0x64616C6775

#: strings longer than this (in bytes) are not in `attr_txt_root`: a B-tree entry holds at
#: most 2,704 bytes, and a longer incompressible string (a base64 payload) failed the write
LONG_STRING_BYTES = 2000
#: a string row that is not a time, date or date-time (those rank after every other string):
#: the predicate of the index `attr_txt_root`, and of the queries that read it (`ordered.py`)
PLAIN_STRING = (
    "kind = 's' AND "
    + " AND ".join(f"txt !~ '{p}'" for p, _ in TEMPORAL_RANKS)
    + f" AND octet_length(txt) <= {LONG_STRING_BYTES}"
)
#: the strings `attr_txt_root` leaves out for their length, in their own small index
LONG_STRING = f"kind = 's' AND octet_length(txt) > {LONG_STRING_BYTES}"

#: a migration of the data that SQL alone cannot make, run in its version's transaction
DataMigration = Callable[[Any], Awaitable[None]]

MIGRATIONS: list[str | DataMigration] = [
    # 1: entities, attribute keys and index rows, geometries, contexts
    """
    CREATE EXTENSION IF NOT EXISTS postgis;
    CREATE SEQUENCE entity_ent_seq AS bigint;
    CREATE TABLE entities (
        tenant text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        ent bigint NOT NULL DEFAULT nextval('entity_ent_seq') UNIQUE,
        types text[] NOT NULL,
        scopes text[] NOT NULL,
        scope_tree text[] NOT NULL,
        created_at text,
        modified_at text,
        doc bytea NOT NULL,
        PRIMARY KEY (tenant, id)
    ) WITH (fillfactor = 80);
    CREATE INDEX entities_types ON entities USING gin (types);
    CREATE INDEX entities_scope_tree ON entities USING gin (scope_tree);
    CREATE TYPE entity_row AS (
        ent bigint,
        id text,
        types text[],
        scopes text[],
        scope_tree text[],
        created_at text,
        modified_at text,
        doc bytea
    );
    CREATE TABLE attr_keys (
        nid integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        tenant text COLLATE "C" NOT NULL,
        name text COLLATE "C" NOT NULL,
        path text COLLATE "C" NOT NULL
    );
    CREATE UNIQUE INDEX attr_keys_key ON attr_keys (tenant, md5(name), md5(path));
    CREATE TABLE attr_num (
        ent bigint NOT NULL,
        nid integer NOT NULL,
        kind "char" NOT NULL,
        num double precision
    );
    CREATE INDEX attr_num_ent ON attr_num (ent, nid);
    CREATE INDEX attr_num_value ON attr_num (nid, kind, num) INCLUDE (ent);
    CREATE STATISTICS attr_num_key (mcv, dependencies) ON nid, kind FROM attr_num;
    CREATE TABLE attr_txt (
        ent bigint NOT NULL,
        nid integer NOT NULL,
        kind "char" NOT NULL,
        txt text COLLATE "C" NOT NULL
    );
    CREATE INDEX attr_txt_ent ON attr_txt (ent, nid);
    CREATE INDEX attr_txt_value ON attr_txt (nid, left(txt, 256));
    CREATE STATISTICS attr_txt_key (mcv, dependencies) ON nid, kind FROM attr_txt;
    CREATE TABLE geo (
        ent bigint NOT NULL,
        nid integer NOT NULL,
        geom geometry(Geometry, 4326) NOT NULL,
        geog geography(Geometry, 4326) NOT NULL
    );
    CREATE INDEX geo_ent ON geo (ent);
    CREATE INDEX geo_geom ON geo USING gist (geom);
    CREATE INDEX geo_geog ON geo USING gist (geog);
    CREATE TABLE contexts (
        id text PRIMARY KEY,
        kind text NOT NULL,
        created_at text NOT NULL,
        document bytea NOT NULL
    );
    """,
    # 2: the gateway's registry: IoT Agent config groups and devices
    """
    CREATE TABLE iot_groups (
        apikey text NOT NULL,
        resource text NOT NULL,
        tenant text NOT NULL,
        service_path text NOT NULL,
        doc jsonb NOT NULL,
        PRIMARY KEY (apikey, resource)
    );
    CREATE INDEX iot_groups_tenant ON iot_groups (tenant, service_path);
    CREATE TABLE iot_devices (
        tenant text NOT NULL,
        service_path text NOT NULL,
        device_id text NOT NULL,
        apikey text NOT NULL,
        doc jsonb NOT NULL,
        PRIMARY KEY (tenant, service_path, device_id, apikey)
    );
    CREATE INDEX iot_devices_apikey ON iot_devices (apikey, device_id);
    """,
    # 3: temporal history, partitioned by month of `at`; partitions are made as needed
    """
    CREATE TABLE temporal_entities (
        tenant text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        types text[] NOT NULL,
        created_at timestamptz NOT NULL,
        deleted_at timestamptz,
        PRIMARY KEY (tenant, id)
    );
    CREATE INDEX temporal_entities_types ON temporal_entities USING gin (types);
    CREATE SEQUENCE instance_iid_seq AS bigint;
    CREATE TABLE instances (
        iid bigint NOT NULL DEFAULT nextval('instance_iid_seq'),
        tenant text COLLATE "C" NOT NULL,
        entity_id text COLLATE "C" NOT NULL,
        name text COLLATE "C" NOT NULL,
        dataset text COLLATE "C" NOT NULL DEFAULT '',
        at timestamptz NOT NULL,
        observed_at timestamptz,
        created_at timestamptz NOT NULL,
        modified_at timestamptz NOT NULL,
        deleted_at timestamptz,
        num double precision,
        txt text,
        geom geometry(Geometry, 4326),
        doc bytea NOT NULL
    ) PARTITION BY RANGE (at);
    CREATE INDEX instances_history ON instances (tenant, entity_id, name, at);
    """,
    # 4: testbed conformance reports
    """
    CREATE TABLE testbed_reports (
        tenant text NOT NULL,
        id text NOT NULL,
        created_at text NOT NULL,
        doc jsonb NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE INDEX testbed_reports_created ON testbed_reports (tenant, created_at);
    """,
    # 5: subscriptions, the change outbox, consumer cursors, pending deliveries
    """
    CREATE TABLE subscriptions (
        tenant text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        doc bytea NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE TABLE changes (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant text NOT NULL,
        entity_id text NOT NULL,
        before bytea,
        after bytea,
        at text NOT NULL
    );
    CREATE TABLE cursors (
        consumer text PRIMARY KEY,
        seq bigint NOT NULL
    );
    CREATE TABLE deliveries (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant text NOT NULL,
        subscription_id text NOT NULL,
        payload bytea NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        next_at double precision NOT NULL
    );
    CREATE INDEX deliveries_due ON deliveries (next_at, id);
    CREATE INDEX deliveries_subscription ON deliveries (tenant, subscription_id, id);
    CREATE TABLE generations (
        name text PRIMARY KEY,
        value bigint NOT NULL
    );
    INSERT INTO generations (name, value) VALUES ('subscriptions', 0);
    """,
    # 6: testbed sandboxes
    """
    CREATE TABLE IF NOT EXISTS sandboxes (
        tenant text PRIMARY KEY,
        doc jsonb NOT NULL
    );
    """,
    # 7: a delivery taken by a sender is leased until `lease_until` (retries use next_at);
    # subscriptions are listed in the order they were created
    """
    ALTER TABLE deliveries ADD COLUMN lease_until double precision NOT NULL DEFAULT 0;
    ALTER TABLE subscriptions ADD COLUMN created text COLLATE "C" NOT NULL DEFAULT '';
    """,
    # gateway (issue 4): commands queued for polling devices until fetched or expired
    """
    CREATE TABLE IF NOT EXISTS iot_commands (
        apikey text NOT NULL,
        device_id text NOT NULL,
        name text NOT NULL,
        tenant text NOT NULL,
        entity_id text NOT NULL,
        value jsonb NOT NULL,
        queued double precision NOT NULL,
        expires double precision NOT NULL,
        PRIMARY KEY (apikey, device_id, name)
    );
    CREATE INDEX IF NOT EXISTS iot_commands_expires ON iot_commands (expires);
    CREATE INDEX IF NOT EXISTS iot_commands_tenant ON iot_commands (tenant);
    """,
    # testbed (issue 4): sandbox API keys, by the SHA-256 of the key (never the key itself)
    """
    CREATE TABLE IF NOT EXISTS sandbox_keys (
        digest text PRIMARY KEY,
        tenant text NOT NULL,
        id text NOT NULL,
        created text NOT NULL,
        revoked text,
        UNIQUE (tenant, id)
    );
    """,
    # FHIR resources (issue 6): current versions, every version's body, search index rows
    """
    CREATE TABLE IF NOT EXISTS fhir_resources (
        rid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        type text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        version integer NOT NULL,
        last_updated text NOT NULL,
        updated double precision NOT NULL,
        deleted smallint NOT NULL,
        patient text COLLATE "C",
        UNIQUE (type, id)
    );
    CREATE INDEX IF NOT EXISTS fhir_resources_patient ON fhir_resources (patient, type);
    CREATE INDEX IF NOT EXISTS fhir_resources_updated ON fhir_resources (type, updated);
    CREATE TABLE IF NOT EXISTS fhir_versions (
        rid bigint NOT NULL,
        version integer NOT NULL,
        type text COLLATE "C" NOT NULL,
        last_updated text NOT NULL,
        updated double precision NOT NULL,
        deleted smallint NOT NULL,
        body bytea,
        PRIMARY KEY (rid, version)
    );
    CREATE INDEX IF NOT EXISTS fhir_versions_type ON fhir_versions (type, updated);
    CREATE TABLE IF NOT EXISTS fhir_token (
        type text COLLATE "C" NOT NULL, param text COLLATE "C" NOT NULL,
        code text COLLATE "C" NOT NULL, system text COLLATE "C" NOT NULL, rid bigint NOT NULL,
        patient text COLLATE "C",
        PRIMARY KEY (type, param, code, system, rid)
    );
    CREATE INDEX IF NOT EXISTS fhir_token_rid ON fhir_token (rid, param);
    CREATE INDEX IF NOT EXISTS fhir_token_patient ON fhir_token (type, param, patient, code, system)
        WHERE patient IS NOT NULL;
    CREATE TABLE IF NOT EXISTS fhir_string (
        type text COLLATE "C" NOT NULL, param text COLLATE "C" NOT NULL,
        folded text COLLATE "C" NOT NULL, exact text COLLATE "C" NOT NULL, rid bigint NOT NULL,
        PRIMARY KEY (type, param, folded, exact, rid)
    );
    CREATE INDEX IF NOT EXISTS fhir_string_rid ON fhir_string (rid, param);
    CREATE TABLE IF NOT EXISTS fhir_date (
        type text COLLATE "C" NOT NULL, param text COLLATE "C" NOT NULL,
        lo double precision NOT NULL, hi double precision NOT NULL, rid bigint NOT NULL,
        PRIMARY KEY (type, param, lo, hi, rid)
    );
    CREATE INDEX IF NOT EXISTS fhir_date_rid ON fhir_date (rid, param);
    CREATE TABLE IF NOT EXISTS fhir_ref (
        type text COLLATE "C" NOT NULL, param text COLLATE "C" NOT NULL,
        ref_id text COLLATE "C" NOT NULL, ref_type text COLLATE "C" NOT NULL,
        rid bigint NOT NULL,
        PRIMARY KEY (type, param, ref_id, ref_type, rid)
    );
    CREATE INDEX IF NOT EXISTS fhir_ref_rid ON fhir_ref (rid, param);
    """,
    # testbed (issue 4): conformance runs and the messages every server process saw in them
    """
    CREATE TABLE IF NOT EXISTS testbed_runs (
        id text PRIMARY KEY,
        tenant text NOT NULL,
        apikey text NOT NULL,
        doc jsonb NOT NULL,
        started double precision NOT NULL,
        ends double precision NOT NULL,
        owner text NOT NULL,
        lease_until double precision NOT NULL
    );
    CREATE INDEX IF NOT EXISTS testbed_runs_tenant ON testbed_runs (tenant);
    CREATE TABLE IF NOT EXISTS testbed_run_events (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant text NOT NULL,
        run_id text NOT NULL,
        kind text NOT NULL,
        doc bytea NOT NULL
    );
    CREATE INDEX IF NOT EXISTS testbed_run_events_run ON testbed_run_events (run_id, seq);
    CREATE INDEX IF NOT EXISTS testbed_run_events_tenant ON testbed_run_events (tenant);
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
    # context source registrations and their subscriptions (clauses 5.9-5.11): one document each
    """
    CREATE TABLE IF NOT EXISTS csource_registrations (
        tenant text NOT NULL,
        id text NOT NULL,
        created text COLLATE "C" NOT NULL,
        doc bytea NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE INDEX IF NOT EXISTS csource_registrations_created
        ON csource_registrations (tenant, created, id);
    CREATE TABLE IF NOT EXISTS csource_subscriptions (
        tenant text NOT NULL,
        id text NOT NULL,
        created text COLLATE "C" NOT NULL,
        doc bytea NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    """,
    # temporal (issue 3): hourly rollups of the history (`store/rollup.py`): per entity,
    # attribute, hour of observedAt (UTC) and datasetId, the count of instances, of numeric
    # ones, their sum, sum of squares, min and max; filled from the instances already stored.
    # Every new instance updates its hour's row: free room on each page keeps those updates
    # on their page (HOT), with no new index entry each
    """
    CREATE TABLE IF NOT EXISTS instance_hours (
        tenant text COLLATE "C" NOT NULL,
        entity_id text COLLATE "C" NOT NULL,
        name text COLLATE "C" NOT NULL,
        hour timestamptz NOT NULL,
        dataset text COLLATE "C" NOT NULL,
        count_all bigint NOT NULL,
        count_num bigint NOT NULL,
        sum_num double precision NOT NULL,
        sumsq_num double precision NOT NULL,
        min_num double precision,
        max_num double precision,
        PRIMARY KEY (tenant, entity_id, name, hour, dataset)
    ) WITH (fillfactor = 70);
    DELETE FROM instance_hours;
    INSERT INTO instance_hours (tenant, entity_id, name, hour, dataset, count_all, count_num,
        sum_num, sumsq_num, min_num, max_num)
    SELECT tenant, entity_id, name, date_trunc('hour', at, 'UTC'), dataset, count(*),
        count(num), coalesce(sum(num), 0), coalesce(sum(num * num), 0), min(num), max(num)
    FROM instances WHERE observed_at IS NOT NULL AND deleted_at IS NULL
    GROUP BY 1, 2, 3, 4, 5;
    """,
    # subscriptions (issue 3): the outbox without a lock that orders commits. An append draws
    # one ticket for its changes while its transaction holds every changed entity's row (so
    # one entity's changes are in ticket order) and a shared advisory lock that readers look
    # for (`store/postgres/outbox.py`): commits and their fsyncs no longer wait in line. What
    # the outbox held keeps its place: a change's ticket is its old seq, cursors stay valid.
    """
    CREATE SEQUENCE IF NOT EXISTS change_tickets;
    ALTER TABLE changes ADD COLUMN IF NOT EXISTS ticket bigint;
    UPDATE changes SET ticket = seq;
    ALTER TABLE changes ALTER COLUMN ticket SET NOT NULL;
    ALTER TABLE changes DROP CONSTRAINT IF EXISTS changes_pkey;
    CREATE INDEX IF NOT EXISTS changes_ticket ON changes (ticket, seq);
    SELECT setval('change_tickets', greatest(
        (SELECT max(seq) FROM changes), (SELECT max(seq) FROM cursors), 1));
    """,
    """
    -- subscriptions (issue 3): the entity types a subscription selects (IRIs), NULL when it
    -- may match any (no selector, or a type selection in its own terms); the outbox records a
    -- change only when some subscription of the tenant could match it (`store/change_filter.py`)
    ALTER TABLE subscriptions ADD COLUMN IF NOT EXISTS watched_types text[];
    """,
    """
    -- open data: the datasets a tenant publishes (`dalgu.opendata`), each a document; its
    -- name (the CKAN slug) is unique in the tenant
    CREATE TABLE IF NOT EXISTS opendata_datasets (
        tenant text NOT NULL,
        id text NOT NULL,
        name text NOT NULL,
        doc bytea NOT NULL,
        PRIMARY KEY (tenant, id),
        UNIQUE (tenant, name)
    );
    """,
    """
    -- each entity's default rendering, made by its writes (`renderings.py`): the commonest
    -- read sends it as it is; the version of the code that made the kept ones
    ALTER TABLE entities ADD COLUMN IF NOT EXISTS rendered bytea;
    ALTER TYPE entity_row ADD ATTRIBUTE rendered bytea;
    CREATE TABLE IF NOT EXISTS rendering (version text NOT NULL);
    """,
    """
    -- distributed operations: what each registration's context source was sent
    CREATE TABLE IF NOT EXISTS registration_status (
        tenant text NOT NULL,
        id text NOT NULL,
        times_sent bigint NOT NULL,
        times_failed bigint NOT NULL,
        last_success text,
        last_failure text,
        PRIMARY KEY (tenant, id)
    );
    """,
    """
    -- the GIN indexes with a short pending list: new entries go to an unsorted list that
    -- every search reads whole until it is merged (at 4 MB by default, or by a vacuum), so a
    -- query by a type no entity has (the Wi-Fi sweep's, every 30 s) took 3.6 ms at 100,000
    -- fresh entities, 0.06 once merged. Without the list (fastupdate off) batch creates were
    -- 10-20% slower; with 256 kB the list is merged 16 times as often and read in a sixteenth
    ALTER INDEX entities_types SET (gin_pending_list_limit = 256);
    ALTER INDEX entities_scope_tree SET (gin_pending_list_limit = 256);
    ALTER INDEX temporal_entities_types SET (gin_pending_list_limit = 256);
    """,
    # what `/types` and `/attributes` report, kept by the writes (`summary.py`) instead of
    # counted from every attribute of every entity (1.5-1.9 s at 100,000 vehicles): rows of
    # changes, only ever inserted by writes (no lock that concurrent writes would queue for),
    # summed by readers and folded into one row per key from time to time. `what`: `e` the
    # entities of a type, `t` the instances of an attribute name and attribute type (`kind`)
    # in entities of a type, `a` the same by name alone
    """
    CREATE TABLE summary_changes (
        tenant text COLLATE "C" NOT NULL,
        what text NOT NULL,
        type text COLLATE "C" NOT NULL,
        name text COLLATE "C" NOT NULL,
        kind text COLLATE "C" NOT NULL,
        n bigint NOT NULL
    );
    CREATE INDEX summary_changes_tenant ON summary_changes (tenant);
    INSERT INTO summary_changes (tenant, what, type, name, kind, n)
    SELECT e.tenant, 'e', t.type, '', '', count(*)
    FROM entities e CROSS JOIN unnest(e.types) AS t(type) GROUP BY e.tenant, t.type;
    INSERT INTO summary_changes (tenant, what, type, name, kind, n)
    SELECT k.tenant, 't', t.type, k.name, a.txt, count(*)
    FROM attr_keys k
    JOIN attr_txt a ON a.nid = k.nid AND a.kind = '#'
    JOIN entities e ON e.ent = a.ent
    CROSS JOIN unnest(e.types) AS t(type)
    WHERE k.path = '#'
    GROUP BY k.tenant, t.type, k.name, a.txt;
    INSERT INTO summary_changes (tenant, what, type, name, kind, n)
    SELECT k.tenant, 'a', '', k.name, a.txt, count(*)
    FROM attr_keys k JOIN attr_txt a ON a.nid = k.nid AND a.kind = '#'
    WHERE k.path = '#'
    GROUP BY k.tenant, k.name, a.txt;
    """,
    # the entities that hold several values at one attribute path (arrays, several instances):
    # a range of one value row misses them, so a q driven from `attr_num_value` takes them too
    """
    CREATE TABLE attr_multi (
        nid integer NOT NULL,
        ent bigint NOT NULL,
        PRIMARY KEY (nid, ent)
    );
    CREATE INDEX attr_multi_ent ON attr_multi (ent);
    INSERT INTO attr_multi (nid, ent)
    SELECT nid, ent FROM (
        SELECT ent, nid FROM attr_num
        UNION ALL SELECT ent, nid FROM attr_txt WHERE kind <> '#'
    ) AS r GROUP BY nid, ent HAVING count(*) > 1;
    """,
    # the first pages of an ordering by strings: the plain strings (not times, dates or
    # date-times) in the root collation
    f"""
    CREATE INDEX attr_txt_root ON attr_txt (nid, (txt COLLATE "und-x-icu")) WHERE {PLAIN_STRING}
    """,
    # the outbox ticket drawn last when a subscription was created (`subscription_origins`)
    """
    ALTER TABLE subscriptions ADD COLUMN IF NOT EXISTS origin bigint NOT NULL DEFAULT 0
    """,
    # the open-data catalogue's generation: each dataset write changes it (`opendata.py`)
    """
    INSERT INTO generations (name, value) VALUES ('datasets', 0) ON CONFLICT (name) DO NOTHING
    """,
    # the JSON of JsonProperty values in the attribute index: the rows of the entities stored
    # before, rewritten (`json_reindex.py`)
    index_json_values,
    # the history's default partition: instances at times without a monthly partition of their
    # own (`partitions.py`: before 1970, or more than a year ahead)
    """
    CREATE TABLE IF NOT EXISTS instances_other PARTITION OF instances DEFAULT
    """,
    # long strings out of the collation's index (its entries hold at most 2,704 bytes)
    f"""
    DROP INDEX IF EXISTS attr_txt_root;
    CREATE INDEX attr_txt_root ON attr_txt (nid, (txt COLLATE "und-x-icu")) WHERE {PLAIN_STRING};
    CREATE INDEX IF NOT EXISTS attr_txt_long ON attr_txt (nid) WHERE {LONG_STRING}
    """,
]


async def migrate(conn: Any) -> tuple[int, int]:
    """Apply every migration the database lacks, each in its own transaction, under a lock
    that serializes concurrent `open()` calls of several processes: the version found and the
    one left. A database a newer Dalgu wrote is refused (`ahead`)."""
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
        current = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")
        if current > len(MIGRATIONS):
            raise SchemaAhead("PostgreSQL", current, len(MIGRATIONS))
        for version, script in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            async with conn.transaction():
                try:
                    if isinstance(script, str):
                        await conn.execute(script)
                    else:
                        await script(conn)
                except Exception as exc:
                    if "postgis" in str(exc).lower():
                        raise StoreUnavailable(
                            "PostGIS is not installed on the server; run scripts/services.sh"
                        ) from exc
                    raise
                await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)
        return current, len(MIGRATIONS)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
