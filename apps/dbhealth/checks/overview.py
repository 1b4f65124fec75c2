"""Overview: database size, cache hit ratios, connections, oldest transaction, XID age; the
figures seed 003 tracks (pool utilisation, Redis cache hit rate, queries per request)."""

from __future__ import annotations

from typing import Any

from apps.origins import window

from .. import conf
from ..runner import USER_SCHEMAS, fetch, fetch_one
from . import connections, queries, redis_cache
from .base import Severity, finding

DATABASE_SQL = f"""
SELECT current_database() AS database,
       pg_database_size(current_database()) AS size_bytes,
       (SELECT setting FROM pg_settings WHERE name = 'server_version') AS server_version,
       (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()) AS stats_reset,
       (SELECT age(datfrozenxid) FROM pg_database WHERE datname = current_database()) AS datfrozenxid_age,
       (SELECT mxid_age(datminmxid) FROM pg_database WHERE datname = current_database()) AS datminmxid_age,
       (SELECT setting::bigint FROM pg_settings WHERE name = 'autovacuum_freeze_max_age') AS freeze_max_age,
       (SELECT setting::bigint FROM pg_settings
         WHERE name = 'autovacuum_multixact_freeze_max_age') AS multixact_freeze_max_age,
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
"""

CONNECTION_STATES_SQL = """
SELECT coalesce(state, backend_type) AS state, count(*)::int AS count
FROM pg_stat_activity
WHERE datname = current_database()
GROUP BY 1 ORDER BY 2 DESC LIMIT 50
"""

TRANSACTION_EXTREMES_SQL = """
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


def database_overview() -> dict[str, Any]:
    return fetch_one(DATABASE_SQL, [1]) or {}


def connection_states() -> list[dict[str, Any]]:
    return fetch(CONNECTION_STATES_SQL)


def transaction_extremes() -> dict[str, Any]:
    return fetch_one(TRANSACTION_EXTREMES_SQL) or {}


def report() -> dict[str, Any]:
    db = database_overview()
    tx = transaction_extremes()
    states = connection_states()
    xid_age = db.get("datfrozenxid_age") or 0
    findings = []
    if xid_age >= conf.get("XID_AGE_WARNING"):
        findings.append(
            finding(
                "database.xid_age",
                db.get("database", ""),
                f"Transaction ID age {xid_age:,} is approaching wraparound",
                key="database.xid_age",
                severity=Severity.CRITICAL
                if xid_age >= conf.get("XID_AGE_CRITICAL")
                else Severity.WARNING,
                evidence={"datfrozenxid_age": xid_age},
                fix="VACUUM (FREEZE, VERBOSE);  -- table by table, oldest relfrozenxid first",
            )
        )
    return {
        "database": db.get("database"),
        "server_version": db.get("server_version"),
        "size_bytes": db.get("size_bytes"),
        "heap_hit_ratio": db.get("heap_hit_ratio"),
        "index_hit_ratio": db.get("index_hit_ratio"),
        "stats_reset": db.get("stats_reset"),
        "connections": states,
        "connections_total": sum(s["count"] for s in states),
        "max_connections": db.get("max_connections"),
        "longest_transaction_seconds": tx.get("longest_xact_seconds") or 0.0,
        "longest_transaction_pid": tx.get("longest_xact_pid"),
        "oldest_xid_age": xid_age,
        "oldest_mxid_age": db.get("datminmxid_age"),
        "oldest_backend_xmin_age": tx.get("oldest_xmin_age"),
        "freeze_max_age": db.get("freeze_max_age"),
        "multixact_freeze_max_age": db.get("multixact_freeze_max_age"),
        "pg_stat_statements": queries.pg_stat_statements_status(),
        "connection_pool": connections.server_connections(),
        "psycopg_pools": connections.pool_stats(),
        "redis_cache": redis_cache.cache_stats(),
        "request_queries": window.summary(),
        "findings": [f.as_dict() for f in findings],
    }
