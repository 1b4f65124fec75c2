"""Every SQL statement of the Database section lives here (catalog reads, signals, data-quality SQL).

Rules: each statement runs inside its own short transaction with `SET LOCAL statement_timeout`
(and `lock_timeout`), carries a LIMIT, and returns plain dicts. Identifiers that come from data
(table and column names of data-quality checks) are only ever composed with `psycopg.sql`
after being checked against the live catalog (`table_columns`). Nothing here runs DDL.

Connections: catalog and statistics reads go through the monitor login (pg_monitor: it sees
other sessions' queries, but can read no table); data-quality checks through the read-only
login, in a sandbox (`sandbox_fetch`); backend signals through the app, via the one audited
SECURITY DEFINER function (see apps/core/roles/sql.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from psycopg import sql

from apps.core.roles import config as roles_config

from . import conf, sqlcheck

USER_SCHEMAS = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'"
)
DEFAULT_TIMEOUT_MS = 5_000
MAX_ROWS = 20_000


# Relations another backend holds (or waits for) in ACCESS EXCLUSIVE mode, e.g. a migration:
# size functions would queue behind it, so those relations get no exact size (pgwatch pattern).
LOCKED = """(SELECT l.relation FROM pg_locks l
    WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_backend_pid()
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))"""


class CatalogError(Exception):
    pass


def _as_string(query: sql.Composable, using: str | None = None) -> str:
    conn = connections[using or roles_config.monitor_alias()]
    conn.ensure_connection()
    return query.as_string(conn.connection)


def fetch(
    query: str | sql.Composable,
    params: Sequence[Any] | None = None,
    *,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    read_only: bool = False,
    using: str | None = None,
) -> list[dict[str, Any]]:
    """Run one statement in its own (sub)transaction with a statement timeout; rows as dicts."""
    using = using or roles_config.monitor_alias()
    if isinstance(query, sql.Composable):
        query = _as_string(query, using)
    result: list[dict[str, Any]] = []
    try:
        # Always rolled back: nothing here writes, and a rollback (of the transaction or of the
        # savepoint when called inside one) undoes the SET LOCAL / READ ONLY settings too.
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            if read_only:
                cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true)", [str(int(timeout_ms))]
            )
            cursor.execute("SELECT set_config('lock_timeout', '1000', true)")
            # Statistics views are snapshotted per transaction; read current values.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(query, params)
            if cursor.description is not None:
                names = [c.name for c in cursor.description]
                result = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            raise _RollBack
    except _RollBack:
        pass
    return result


class _RollBack(Exception):
    pass


# Objects a check names without a schema resolve here only (never in pg_temp first).
SANDBOX_SEARCH_PATH = "pg_catalog, public, pg_temp"


def sandbox_fetch(
    query: str | sql.Composable, params: Sequence[Any] | None = None, *, timeout_ms: int
) -> list[dict[str, Any]]:
    """A data-quality statement: as the read-only role, in a READ ONLY transaction with
    statement_timeout, lock_timeout and a fixed search_path, always rolled back. Refuses to run
    on any other login, so a misconfigured READONLY_DATABASE_URL never means more rights."""
    using = roles_config.readonly_alias()
    if isinstance(query, sql.Composable):
        query = _as_string(query, using)
    role = roles_config.roles().readonly
    result: list[dict[str, Any]] = []
    try:
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true),"
                " set_config('lock_timeout', %s, true), set_config('search_path', %s, true),"
                " current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)",
                [
                    str(int(timeout_ms)),
                    str(int(conf.get("DQ_LOCK_TIMEOUT_MS"))),
                    SANDBOX_SEARCH_PATH,
                ],
            )
            *_, current, superuser = cursor.fetchone()
            if current != role or superuser:
                raise CatalogError(
                    f"data-quality checks run only as the read-only role {role}, "
                    f"but READONLY_DATABASE_URL logs in as {current}: refused"
                )
            cursor.execute(query, params)
            if cursor.description is not None:
                names = [c.name for c in cursor.description]
                result = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            raise _RollBack
    except _RollBack:
        pass
    finally:
        _release_session_state(using)
    return result


def _release_session_state(using: str) -> None:
    """Session-level advisory locks survive a rollback: never leave one behind a check."""
    conn = connections[using]
    if conn.connection is None or conn.needs_rollback:
        return
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock_all()")
    except Exception:  # the connection is broken: Django discards it
        conn.close_if_unusable_or_obsolete()


def _sandbox_one(query, params=None, **kwargs) -> dict[str, Any] | None:
    rows = sandbox_fetch(query, params, **kwargs)
    return rows[0] if rows else None


def fetch_one(query, params=None, **kwargs) -> dict[str, Any] | None:
    rows = fetch(query, params, **kwargs)
    return rows[0] if rows else None


# --- overview ------------------------------------------------------------------------------


def database_overview() -> dict[str, Any]:
    return (
        fetch_one(
            f"""
        SELECT current_database() AS database,
               pg_database_size(current_database()) AS size_bytes,
               (SELECT setting FROM pg_settings WHERE name = 'server_version') AS server_version,
               (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()) AS stats_reset,
               (SELECT age(datfrozenxid) FROM pg_database WHERE datname = current_database()) AS datfrozenxid_age,
               (SELECT setting::bigint FROM pg_settings WHERE name = 'autovacuum_freeze_max_age') AS freeze_max_age,
               (SELECT setting::int FROM pg_settings WHERE name = 'max_connections') AS max_connections,
               (SELECT sum(pg_stat_get_blocks_hit(c.oid))::float8
                       / NULLIF(sum(pg_stat_get_blocks_fetched(c.oid)), 0)
                  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE {USER_SCHEMAS} AND c.relkind IN ('r', 'm')) AS heap_hit_ratio,
               (SELECT sum(pg_stat_get_blocks_hit(c.oid))::float8
                       / NULLIF(sum(pg_stat_get_blocks_fetched(c.oid)), 0)
                  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE {USER_SCHEMAS} AND c.relkind = 'i') AS index_hit_ratio,
               now() AS now
        LIMIT %s
        """,
            [1],
        )
        or {}
    )


def connection_states() -> list[dict[str, Any]]:
    return fetch(
        """
        SELECT coalesce(state, backend_type) AS state, count(*)::int AS count
        FROM pg_stat_activity
        WHERE datname = current_database()
        GROUP BY 1 ORDER BY 2 DESC LIMIT 50
        """
    )


def transaction_extremes() -> dict[str, Any]:
    return (
        fetch_one(
            """
        SELECT extract(epoch FROM max(now() - xact_start))::float8 AS longest_xact_seconds,
               (SELECT pid FROM pg_stat_activity
                 WHERE datname = current_database() AND xact_start IS NOT NULL
                   AND pid <> pg_backend_pid() AND backend_type = 'client backend'
                 ORDER BY xact_start LIMIT 1) AS longest_xact_pid,
               max(age(backend_xmin))::bigint AS oldest_xmin_age
        FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()
          AND backend_type = 'client backend'
        LIMIT 1
        """
        )
        or {}
    )


# --- indexes ---------------------------------------------------------------------------------

# One row per index a human manages: plain indexes and partitioned (parent) indexes; leaf
# indexes of partitions are summed into their root index (scans, tuples, size).
INDEXES_SQL = f"""
WITH leaf AS (
    SELECT pg_partition_root(s.indexrelid) AS root,
           sum(s.idx_scan)::bigint AS idx_scan, sum(s.idx_tup_read)::bigint AS idx_tup_read,
           sum(ic.relpages::bigint * current_setting('block_size')::bigint)::bigint AS size_bytes,
           count(*)::int AS parts
    FROM pg_stat_user_indexes s
    JOIN pg_class ic ON ic.oid = s.indexrelid
    WHERE ic.relispartition
    GROUP BY 1
)
SELECT i.indexrelid::bigint AS oid,
       n.nspname AS schema, t.relname AS table, ic.relname AS name,
       t.relkind AS table_kind, ic.relkind AS index_kind,
       am.amname AS method,
       i.indisunique AS is_unique, i.indisprimary AS is_primary, i.indisvalid AS is_valid,
       i.indisreplident AS is_replica_identity,
       i.indnkeyatts::int AS nkeyatts,
       i.indkey::int2[] AS keys, i.indclass::oid[]::bigint[] AS opclasses,
       i.indcollation::oid[]::bigint[] AS collations, i.indoption::int2[] AS options,
       (i.indrelid IN {LOCKED} OR i.indexrelid IN {LOCKED}) AS locked,
       -- pg_get_expr(…, relid) opens the table: not while a migration holds it.
       CASE WHEN i.indrelid IN {LOCKED} THEN NULL ELSE pg_get_expr(i.indexprs, i.indrelid) END AS expressions,
       CASE WHEN i.indrelid IN {LOCKED} THEN NULL ELSE pg_get_expr(i.indpred, i.indrelid) END AS predicate,
       CASE WHEN i.indrelid IN {LOCKED} THEN '(table locked by another session)'
            ELSE pg_get_indexdef(i.indexrelid) END AS definition,
       (SELECT array_agg(a.attname ORDER BY k.ord)
          FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
          LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum) AS columns,
       con.conname AS constraint_name, con.contype AS constraint_type,
       CASE WHEN ic.relkind = 'I' THEN coalesce(leaf.idx_scan, 0) ELSE coalesce(s.idx_scan, 0) END AS idx_scan,
       CASE WHEN ic.relkind = 'I' THEN coalesce(leaf.idx_tup_read, 0) ELSE coalesce(s.idx_tup_read, 0) END AS idx_tup_read,
       CASE WHEN ic.relkind = 'I' THEN coalesce(leaf.size_bytes, 0)
            WHEN i.indexrelid IN {LOCKED} THEN ic.relpages::bigint * current_setting('block_size')::bigint
            ELSE pg_relation_size(i.indexrelid) END AS size_bytes,
       coalesce(leaf.parts, 0) AS partitions,
       EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid) AS being_built
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
LEFT JOIN leaf ON leaf.root = i.indexrelid
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x')
WHERE {USER_SCHEMAS} AND NOT ic.relispartition AND t.relkind IN ('r', 'p', 'm')
ORDER BY n.nspname, t.relname, ic.relname
LIMIT %s
"""


def indexes(limit: int = MAX_ROWS) -> list[dict[str, Any]]:
    return fetch(INDEXES_SQL, [limit], timeout_ms=10_000)


FOREIGN_KEYS_SQL = f"""
SELECT con.oid::bigint AS oid, con.conname AS name, n.nspname AS schema, t.relname AS table,
       t.relkind AS table_kind,
       con.conkey::int2[] AS keys,
       (SELECT array_agg(a.attname ORDER BY k.ord)
          FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum) AS columns,
       rn.nspname AS ref_schema, rt.relname AS ref_table,
       pg_stat_get_live_tuples(con.confrelid) AS ref_rows
FROM pg_constraint con
JOIN pg_class t ON t.oid = con.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_class rt ON rt.oid = con.confrelid
JOIN pg_namespace rn ON rn.oid = rt.relnamespace
WHERE con.contype = 'f' AND con.conparentid = 0 AND NOT t.relispartition AND {USER_SCHEMAS}
ORDER BY n.nspname, t.relname, con.conname
LIMIT %s
"""


def foreign_keys(limit: int = MAX_ROWS) -> list[dict[str, Any]]:
    return fetch(FOREIGN_KEYS_SQL, [limit], timeout_ms=10_000)


# --- tables and partitions -------------------------------------------------------------------

# Sizes: exact (pg_relation_size & co.) for ordinary tables, but from pg_class.relpages for
# partitions: the size functions take an AccessShareLock per relation, and a few thousand
# partitions x (heap + indexes + toast) overflow the lock table (max_locks_per_transaction).
# relpages is as of the last VACUUM / ANALYZE / CREATE INDEX of that partition.
# Locked relations (see LOCKED) fall back to relpages as well.
_LOCK_FREE = "c.relispartition OR c.oid IN " + LOCKED.replace("{", "{{").replace("}", "}}")
_HEAP = f"CASE WHEN {_LOCK_FREE} THEN c.relpages::bigint * {{bs}} ELSE pg_relation_size(c.oid) END"
_INDEXES = (
    f"CASE WHEN {_LOCK_FREE} OR EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid "
    f"AND x.indexrelid IN {LOCKED}) THEN (SELECT coalesce(sum(xc.relpages), 0)::bigint * {{bs}} "
    "FROM pg_index x JOIN pg_class xc ON xc.oid = x.indexrelid WHERE x.indrelid = c.oid) "
    "ELSE pg_indexes_size(c.oid) END"
)
_TOAST = (
    f"CASE WHEN {_LOCK_FREE} THEN (SELECT coalesce(sum(tc.relpages), 0)::bigint * {{bs}} "
    "FROM pg_class tc WHERE tc.oid = c.reltoastrelid) "
    "ELSE pg_table_size(c.oid) - pg_relation_size(c.oid) END"
)
_BS = "current_setting('block_size')::bigint"

_TABLE_COLUMNS = f"""
    sum({_HEAP.format(bs=_BS)})::bigint AS heap_bytes,
    sum({_INDEXES.format(bs=_BS)})::bigint AS index_bytes,
    sum({_TOAST.format(bs=_BS)})::bigint AS toast_bytes,
    sum(pg_stat_get_live_tuples(c.oid))::bigint AS live_tuples,
    sum(pg_stat_get_dead_tuples(c.oid))::bigint AS dead_tuples,
    sum(pg_stat_get_mod_since_analyze(c.oid))::bigint AS mod_since_analyze,
    sum(pg_stat_get_numscans(c.oid))::bigint AS seq_scan,
    sum((SELECT coalesce(sum(pg_stat_get_numscans(x.indexrelid)), 0) FROM pg_index x
          WHERE x.indrelid = c.oid))::bigint AS idx_scan,
    max(pg_stat_get_last_vacuum_time(c.oid)) AS last_vacuum,
    max(pg_stat_get_last_autovacuum_time(c.oid)) AS last_autovacuum,
    max(pg_stat_get_last_analyze_time(c.oid)) AS last_analyze,
    max(pg_stat_get_last_autoanalyze_time(c.oid)) AS last_autoanalyze
"""
# (The pg_stat_* functions rather than the pg_stat_user_tables view: the view aggregates
# pg_index for every row and, in a nested loop over thousands of partitions, costs seconds.)

TABLES_SQL = f"""
WITH rel AS (
    SELECT c.oid, CASE WHEN c.relispartition THEN pg_partition_root(c.oid) ELSE c.oid END AS root
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE {USER_SCHEMAS} AND c.relkind IN ('r', 'm', 'p')
), agg AS (
    SELECT r.root, rn.nspname, rc.relname, rc.relkind,
           (count(*) FILTER (WHERE c.relkind <> 'p'))::int
             - CASE WHEN rc.relkind = 'p' THEN 0 ELSE 1 END AS partitions,
           {_TABLE_COLUMNS}
    FROM rel r
    JOIN pg_class c ON c.oid = r.oid
    JOIN pg_class rc ON rc.oid = r.root
    JOIN pg_namespace rn ON rn.oid = rc.relnamespace
    GROUP BY r.root, rn.nspname, rc.relname, rc.relkind
)
SELECT root::bigint AS oid, nspname AS schema, relname AS name, relkind AS kind, partitions,
       heap_bytes, index_bytes, toast_bytes, live_tuples, dead_tuples, mod_since_analyze,
       seq_scan, idx_scan, last_vacuum, last_autovacuum, last_analyze, last_autoanalyze
FROM agg
ORDER BY heap_bytes + index_bytes + toast_bytes DESC, nspname, relname
LIMIT %s
"""


def tables(limit: int = 2_000) -> list[dict[str, Any]]:
    """Plain tables and matviews, and partitioned roots summed over all their partitions."""
    return fetch(TABLES_SQL, [limit], timeout_ms=15_000)


PARTITIONS_SQL = f"""
WITH page AS (
    SELECT t.relid, t.level
    FROM pg_partition_tree(%s::oid) t JOIN pg_class pc ON pc.oid = t.relid
    WHERE t.level > 0
    ORDER BY pc.relname
    LIMIT %s OFFSET %s
)
SELECT c.oid::bigint AS oid, n.nspname AS schema, c.relname AS name, c.relkind AS kind,
       p.level::int AS level, pg_get_expr(c.relpartbound, 0) AS bound,
       {_TABLE_COLUMNS}
FROM page p
JOIN pg_class c ON c.oid = p.relid
JOIN pg_namespace n ON n.oid = c.relnamespace
GROUP BY c.oid, n.nspname, c.relname, c.relkind, p.level
ORDER BY c.relname
"""


def partitions(root_oid: int, *, limit: int = 500, offset: int = 0) -> list[dict[str, Any]]:
    return fetch(PARTITIONS_SQL, [root_oid, limit, offset], timeout_ms=10_000)


PARTITION_BOUNDS_SQL = f"""
SELECT p.oid::bigint AS parent_oid, pn.nspname AS parent_schema, p.relname AS parent,
       pt.partstrat AS strategy,
       c.oid::bigint AS oid, n.nspname AS schema, c.relname AS name,
       pg_get_expr(c.relpartbound, 0) AS bound,
       pg_stat_get_live_tuples(c.oid) AS live_tuples
FROM pg_inherits i
JOIN pg_class p ON p.oid = i.inhparent AND p.relkind = 'p'
JOIN pg_namespace pn ON pn.oid = p.relnamespace
JOIN pg_partitioned_table pt ON pt.partrelid = p.oid
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {USER_SCHEMAS.replace("n.nspname", "pn.nspname")}
ORDER BY pn.nspname, p.relname, c.relname
LIMIT %s
"""


def partition_bounds(limit: int = 50_000) -> list[dict[str, Any]]:
    """Every direct partition of every partitioned table with its bound expression."""
    return fetch(PARTITION_BOUNDS_SQL, [limit], timeout_ms=10_000)


def bound_cast_timestamptz(values: list[str]) -> list[Any]:
    """Let the server parse range bound literals (any date/timestamp spelling) in one call."""
    if not values:
        return []
    rows = fetch(
        """
        SELECT v.ord, CASE WHEN v.val ~ '^\\d{4}-\\d{2}-\\d{2}' THEN v.val::timestamptz END AS ts
        FROM unnest(%s::text[]) WITH ORDINALITY v(val, ord) ORDER BY v.ord LIMIT %s
        """,
        [values, len(values)],
    )
    return [r["ts"] for r in rows]


def default_partition_rows(schema: str, name: str, cap: int = 100_000) -> int:
    """Exact row count of one default partition, capped (one page never counts more).

    Through `flowbase_default_partition_rows()` (SECURITY DEFINER, the owner's, executable by the
    monitor only): the monitor role counts the rows of a default partition without being able to
    read them (the audit log's included)."""
    row = fetch_one(
        "SELECT public.flowbase_default_partition_rows(%s::regclass, %s) AS n LIMIT 1",
        [_as_string(sql.Identifier(schema, name)), cap],
        timeout_ms=3_000,
    )
    return int(row["n"] or 0) if row else 0


# --- slow queries ----------------------------------------------------------------------------


def pg_stat_statements_status() -> dict[str, Any]:
    row = fetch_one(
        """
        SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS installed,
               coalesce(current_setting('shared_preload_libraries', true), '') AS preload
        LIMIT 1
        """
    )
    installed = bool(row and row["installed"])
    preloaded = bool(row and "pg_stat_statements" in row["preload"])
    return {"installed": installed, "preloaded": preloaded, "available": installed and preloaded}


_QUERY_ORDER = {
    "total": "total_exec_time DESC",
    "mean": "mean_exec_time DESC",
    "calls": "calls DESC",
}


def slow_queries(order: str = "total", limit: int = 50) -> list[dict[str, Any]]:
    """Top statements of this database; read only (never calls pg_stat_statements_reset)."""
    order_by = _QUERY_ORDER.get(order, _QUERY_ORDER["total"])
    return fetch(
        f"""
        WITH s AS (
            SELECT queryid, userid, left(query, 2000) AS query, calls, rows,
                   total_exec_time, mean_exec_time, max_exec_time,
                   shared_blks_hit, shared_blks_read,
                   total_exec_time / NULLIF(sum(total_exec_time) OVER (), 0) AS share
            FROM pg_stat_statements
            WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        )
        SELECT s.queryid, r.rolname AS username, s.query, s.calls, s.rows,
               s.total_exec_time AS total_ms, s.mean_exec_time AS mean_ms, s.max_exec_time AS max_ms,
               s.shared_blks_hit, s.shared_blks_read, coalesce(s.share, 0) AS share
        FROM s LEFT JOIN pg_roles r ON r.oid = s.userid
        ORDER BY {order_by} LIMIT %s
        """,
        [limit],
    )


# --- activity and locks ----------------------------------------------------------------------


def activity(limit: int = 500) -> list[dict[str, Any]]:
    return fetch(
        """
        SELECT pid, usename AS username, application_name, client_addr::text AS client_addr,
               backend_type, state, wait_event_type, wait_event,
               backend_start, xact_start, query_start, state_change,
               extract(epoch FROM now() - xact_start)::float8 AS xact_seconds,
               extract(epoch FROM now() - query_start)::float8 AS query_seconds,
               extract(epoch FROM now() - state_change)::float8 AS state_seconds,
               age(backend_xmin)::bigint AS xmin_age,
               left(query, 1000) AS query,
               pg_blocking_pids(pid) AS blocked_by
        FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()
          AND pid <> ALL(%s::int[])
        ORDER BY xact_start NULLS LAST, pid
        LIMIT %s
        """,
        [own_backend_pids(), limit],
    )


def own_backend_pids() -> list[int]:
    """Backends of this thread's open connections, whatever their alias: the catalog is read as
    the monitor, but the request's own app connection (the one that would send a signal) is
    just as much "self" as the monitor's."""
    pids = []
    for conn in connections.all(initialized_only=True):
        raw = conn.connection
        if raw is not None and not raw.closed:
            pids.append(raw.info.backend_pid)
    return pids


def backend(pid: int) -> dict[str, Any] | None:
    return fetch_one(
        """
        SELECT pid, usename AS username, application_name, client_addr::text AS client_addr,
               backend_type, state, xact_start, query_start, left(query, 1000) AS query,
               pid = pg_backend_pid() OR pid = ANY(%s::int[]) AS is_self
        FROM pg_stat_activity
        WHERE datname = current_database() AND pid = %s
        LIMIT 1
        """,
        [own_backend_pids(), pid],
    )


def backend_signal(pid: int, action: str) -> bool:
    """pg_cancel_backend / pg_terminate_backend of one client backend of this database, as the
    app through `flowbase_signal_backend()`: the app role has no pg_signal_backend itself, and the
    function refuses superusers', the owner's and other databases' backends."""
    if action not in ("cancel", "terminate"):
        raise ValueError(action)
    row = fetch_one(
        "SELECT public.flowbase_signal_backend(%s, %s) AS ok LIMIT 1",
        [pid, action],
        using=DEFAULT_DB_ALIAS,
    )
    return bool(row and row["ok"])


# --- materialized views ----------------------------------------------------------------------


def matviews(limit: int = 1_000) -> list[dict[str, Any]]:
    return fetch(
        f"""
        SELECT c.oid::bigint AS oid, n.nspname AS schema, c.relname AS name, c.relispopulated AS populated,
               CASE WHEN c.oid IN {LOCKED} THEN c.relpages::bigint * current_setting('block_size')::bigint
                    ELSE pg_total_relation_size(c.oid) END AS size_bytes,
               EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique
                         AND i.indpred IS NULL AND i.indexprs IS NULL) AS can_refresh_concurrently
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'm' AND {USER_SCHEMAS}
        ORDER BY n.nspname, c.relname LIMIT %s
        """,
        [limit],
    )


# --- index usage snapshots -------------------------------------------------------------------


def stats_reset_at():
    row = fetch_one(
        "SELECT stats_reset FROM pg_stat_database WHERE datname = current_database() LIMIT 1"
    )
    return row["stats_reset"] if row else None


# --- data quality ------------------------------------------------------------------------------


def _split_table(table: str) -> tuple[str, str]:
    schema, _, name = table.rpartition(".")
    return (schema or "public"), name


def table_access(table: str) -> str:
    """Why the read-only role may not read `table` ('' if it may, or if the table is missing):
    a check never runs with more rights than that role's."""
    schema, name = _split_table(table)
    if roles_config.is_sensitive(name):
        return f"{table} is a sensitive table: data-quality checks may not read it"
    row = _sandbox_one(
        """
        SELECT has_table_privilege(current_user, c.oid, 'SELECT') AS readable, current_user AS role
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND c.relname = %s LIMIT 1
        """,
        [schema, name],
        timeout_ms=DEFAULT_TIMEOUT_MS,
    )
    if row is None or row["readable"]:
        return ""
    return (
        f"permission denied: the read-only role {row['role']} may not read {table} "
        "(checks run with that role's rights only)"
    )


def table_columns(table: str) -> dict[str, str] | None:
    """Columns (name → formatted type) of an existing table/view, or None if it does not exist."""
    schema, name = _split_table(table)
    rows = sandbox_fetch(
        """
        SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, c.relkind AS kind
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
        ORDER BY a.attnum LIMIT 2000
        """,
        [schema, name],
        timeout_ms=DEFAULT_TIMEOUT_MS,
    )
    if not rows:
        return None
    return {r["name"]: r["type"] for r in rows if r["name"] is not None}


def primary_key_columns(table: str) -> list[str]:
    schema, name = _split_table(table)
    rows = sandbox_fetch(
        """
        SELECT a.attname AS name
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord) ON true
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
        WHERE n.nspname = %s AND c.relname = %s AND i.indisprimary
        ORDER BY k.ord LIMIT 32
        """,
        [schema, name],
        timeout_ms=DEFAULT_TIMEOUT_MS,
    )
    return [r["name"] for r in rows]


def _ident(table: str) -> sql.Identifier:
    return sql.Identifier(*_split_table(table))


_TEXT_TYPES = re.compile(r"^(text|character varying|character|citext)")


def dq_missing(
    table: str, column: str, col_type: str, key: list[str], *, sample: int, timeout_ms: int
):
    col = sql.Identifier(column)
    cond = sql.SQL("{c} IS NULL").format(c=col)
    if _TEXT_TYPES.match(col_type):
        cond = sql.SQL("({c} IS NULL OR btrim({c}) = '')").format(c=col)
    return _failing_with_total(table, cond, [*key, column], sample=sample, timeout_ms=timeout_ms)


def dq_validity(
    table: str, column: str, params: dict, key: list[str], *, sample: int, timeout_ms: int
):
    col = sql.Identifier(column)
    parts: list[sql.Composable] = []
    if params.get("regex"):
        parts.append(sql.SQL("{c}::text !~ {v}").format(c=col, v=sql.Literal(str(params["regex"]))))
    if params.get("min") is not None:
        parts.append(sql.SQL("{c} < {v}").format(c=col, v=sql.Literal(params["min"])))
    if params.get("max") is not None:
        parts.append(sql.SQL("{c} > {v}").format(c=col, v=sql.Literal(params["max"])))
    if params.get("allowed") is not None:
        allowed = [str(v) for v in params["allowed"]]
        parts.append(sql.SQL("NOT ({c}::text = ANY({v}))").format(c=col, v=sql.Literal(allowed)))
    if not parts:
        raise CatalogError("validity check needs params regex, min, max or allowed")
    cond = sql.SQL("{c} IS NOT NULL AND ({p})").format(c=col, p=sql.SQL(" OR ").join(parts))
    return _failing_with_total(table, cond, [*key, column], sample=sample, timeout_ms=timeout_ms)


def dq_referential(
    table: str,
    column: str,
    ref_table: str,
    ref_column: str,
    key: list[str],
    *,
    sample: int,
    timeout_ms: int,
):
    cond = sql.SQL(
        "{c} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {rt} r WHERE r.{rc} = t.{c})"
    ).format(c=sql.Identifier(column), rt=_ident(ref_table), rc=sql.Identifier(ref_column))
    return _failing_with_total(table, cond, [*key, column], sample=sample, timeout_ms=timeout_ms)


def _failing_with_total(
    table: str, cond: sql.Composable, columns: list[str], *, sample: int, timeout_ms: int
):
    cols = sql.SQL(", ").join(
        sql.SQL("t.{}").format(sql.Identifier(c)) for c in dict.fromkeys(columns)
    )
    counts = _sandbox_one(
        sql.SQL(
            "SELECT count(*)::bigint AS total, (count(*) FILTER (WHERE {cond}))::bigint AS failed "
            "FROM {t} t LIMIT 1"
        ).format(cond=cond, t=_ident(table)),
        timeout_ms=timeout_ms,
    )
    rows = sandbox_fetch(
        sql.SQL("SELECT {cols} FROM {t} t WHERE {cond} LIMIT {n}").format(
            cols=cols, t=_ident(table), cond=cond, n=sql.Literal(sample)
        ),
        timeout_ms=timeout_ms,
    )
    return int(counts["failed"]), int(counts["total"]), rows


def dq_duplicate(
    table: str, columns: list[str], ignore_case: bool, *, sample: int, timeout_ms: int
):
    exprs = [
        sql.SQL("lower({}::text)").format(sql.Identifier(c)) if ignore_case else sql.Identifier(c)
        for c in columns
    ]
    named = sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(e, sql.Identifier(c))
        for e, c in zip(exprs, columns, strict=True)
    )
    keys = sql.SQL(", ").join(exprs)
    not_null = sql.SQL(" AND ").join(
        sql.SQL("{} IS NOT NULL").format(sql.Identifier(c)) for c in columns
    )
    groups = sql.SQL(
        "SELECT {named}, count(*)::bigint AS count FROM {t} WHERE {nn} GROUP BY {keys} HAVING count(*) > 1"
    ).format(named=named, t=_ident(table), nn=not_null, keys=keys)
    counts = _sandbox_one(
        sql.SQL(
            "SELECT (SELECT count(*) FROM {t})::bigint AS total, coalesce(sum(g.count), 0)::bigint AS failed FROM ({g}) g LIMIT 1"
        ).format(t=_ident(table), g=groups),
        timeout_ms=timeout_ms,
    )
    rows = sandbox_fetch(
        sql.SQL("SELECT * FROM ({g}) g ORDER BY g.count DESC LIMIT {n}").format(
            g=groups, n=sql.Literal(sample)
        ),
        timeout_ms=timeout_ms,
    )
    return int(counts["failed"]), int(counts["total"]), rows


def dq_freshness(table: str, column: str, *, timeout_ms: int) -> dict[str, Any]:
    return (
        _sandbox_one(
            sql.SQL(
                "SELECT max({c}) AS latest, "
                "extract(epoch FROM now() - max({c}))::float8 AS age_seconds FROM {t} LIMIT 1"
            ).format(c=sql.Identifier(column), t=_ident(table)),
            timeout_ms=timeout_ms,
        )
        or {}
    )


def dq_row_count(table: str, *, timeout_ms: int) -> int:
    row = _sandbox_one(
        sql.SQL("SELECT count(*)::bigint AS n FROM {t} LIMIT 1").format(t=_ident(table)),
        timeout_ms=timeout_ms,
    )
    return int(row["n"]) if row else 0


def dq_custom_sql(query: str, *, sample: int, timeout_ms: int):
    """A user's SELECT (parsed: one plain SELECT/WITH/VALUES), wrapped as a subquery, in the
    sandbox: the read-only role, a READ ONLY transaction, timeouts, a fixed search_path."""
    try:
        body = sqlcheck.validate_select(query)
    except sqlcheck.UnsafeSQL as exc:
        raise CatalogError(str(exc)) from None
    counts = _sandbox_one(
        f"SELECT count(*)::bigint AS failed FROM (\n{body}\n) q LIMIT 1", timeout_ms=timeout_ms
    )
    rows = sandbox_fetch(f"SELECT * FROM (\n{body}\n) q LIMIT {int(sample)}", timeout_ms=timeout_ms)
    return int(counts["failed"]), rows


# --- health probes -----------------------------------------------------------------------------


def ping() -> bool:
    """The app's own connection (what /readyz is about)."""
    return bool(fetch_one("SELECT 1 AS ok LIMIT 1", timeout_ms=2_000, using=DEFAULT_DB_ALIAS))
