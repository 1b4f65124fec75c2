"""Prometheus collector for /metrics: one cached read per scrape, refreshed at most every 30 s.

The snapshot (a small dict) lives in Redis; whichever process first sees it older than
METRICS_CACHE_SECONDS takes a short Redis lock and rebuilds it. A failing rebuild keeps serving
the previous snapshot and reports `flowbase_db_health_up 0`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from typing import Any

from django.db import connection
from django.db import connections as db_connections
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily

from apps.origins import window
from apps.pg import routing

from . import conf, selectors
from .cache import cache_key
from .cache import safe_cache as cache
from .checks import activity, connections, overview, redis_cache, replication

logger = logging.getLogger(__name__)

_registered = False


def snapshot_build() -> dict[str, Any]:
    from .models import DataQualityResult

    db = overview.database_overview()
    tx = overview.transaction_extremes()
    tables = selectors.table_report()
    worst = sorted(tables["tables"], key=lambda t: -t["dead_ratio"])[
        : conf.get("WORST_TABLES_METRICS")
    ]
    mv = selectors.matview_report()
    idx = selectors.index_report()
    act = activity.fetch_activity()
    dq = []
    # The newest result of each enabled check, in one query.
    latest = (
        DataQualityResult.objects.filter(check_ref__enabled=True)
        .select_related("check_ref")
        .order_by("check_ref_id", "-ran_at")
        .distinct("check_ref_id")
    )
    for last in sorted(latest, key=lambda r: r.check_ref.name):
        dq.append(
            {
                "check": last.check_ref.name,
                "failed": last.failed_count,
                "passed": last.passed,
                "error": bool(last.error),
            }
        )
    return {
        "at": time.time(),
        "heap_hit_ratio": db.get("heap_hit_ratio"),
        "index_hit_ratio": db.get("index_hit_ratio"),
        "dead_ratio": [{"table": t["qualified_name"], "ratio": t["dead_ratio"]} for t in worst],
        "matviews": [
            {"view": v["qualified_name"], "age": v["age_seconds"], "stale": v["stale"]}
            for v in mv["matviews"]
        ],
        "partitions": [
            {
                "table": p["qualified_name"],
                "ahead": p["ahead"],
                "default_rows": p["default_rows"],
                "count": p["partitions"],
            }
            for p in tables["partitioned"]
        ],
        "dataquality": dq,
        "unused_index_bytes": idx["unused_bytes"],
        "longest_transaction_seconds": tx.get("longest_xact_seconds") or 0.0,
        "blocked_backends": sum(1 for a in act if a["blocked_by"]),
        "heartbeat_age": selectors.heartbeat_age_seconds(),
        "findings_open": selectors.findings_open_counts(),
        "server_connections": connections.server_connections(),
        "redis_cache": redis_cache.cache_stats(),
        "request_queries": window.summary(),
        "standbys": [
            {
                "standby": r["name"] or r["address"] or "standby",
                "seconds": r["replay_lag_seconds"],
                "bytes": r["replay_lag_bytes"] or 0,
            }
            for r in replication.standbys()
        ],
    }


def snapshot_get() -> tuple[dict[str, Any] | None, bool]:
    """(snapshot, fresh_ok). Rebuilds under a lock when older than METRICS_CACHE_SECONDS."""
    snap = cache.get(cache_key("metrics"))
    max_age = conf.get("METRICS_CACHE_SECONDS")
    if snap is not None and time.time() - snap["at"] < max_age:
        return snap, True
    if not cache.add(cache_key("metrics-lock"), 1, max_age):
        return snap, snap is not None
    try:
        snap = snapshot_build()
    except Exception:
        logger.exception("dbhealth metrics snapshot failed")
        return cache.get(cache_key("metrics")), False
    finally:
        # A scrape may run in a thread of prometheus_client's own HTTP server (worker
        # processes): do not leave one open connection per scrape thread behind.
        if not connection.in_atomic_block:
            connection.close()
    cache.set(cache_key("metrics"), snap, 10 * max_age)
    return snap, True


class DbHealthCollector:
    NAMES = {
        "flowbase_db_health_up": "1 when the last DB-health snapshot succeeded",
        "flowbase_db_health_snapshot_age_seconds": "Age of the cached DB-health snapshot",
        "flowbase_db_cache_hit_ratio": "Buffer cache hit ratio (heap or index blocks)",
        "flowbase_db_table_dead_tuple_ratio": "Dead / (live + dead) tuples of the worst tables",
        "flowbase_db_matview_age_seconds": "Seconds since the last successful refresh of a materialized view",
        "flowbase_db_matview_stale": "1 when a materialized view is past its staleness limit",
        "flowbase_db_partitions_ahead": "Partitions whose range starts after now, per partitioned table",
        "flowbase_db_default_partition_rows": "Rows in the default partition, per partitioned table",
        "flowbase_db_dataquality_failed_rows": "Failing rows of the last run of a data-quality check",
        "flowbase_db_dataquality_passed": "1 when the last run of a data-quality check passed",
        "flowbase_db_unused_index_bytes": "Bytes of indexes flagged unused",
        "flowbase_db_longest_transaction_seconds": "Age of the oldest open transaction",
        "flowbase_db_blocked_backends": "Backends waiting on a lock held by another backend",
        "flowbase_db_beat_heartbeat_age_seconds": "Seconds since Celery beat last checked in",
        "flowbase_db_findings_open": "Open DB-health findings by severity",
        "flowbase_db_server_connections": "Client backends of the server by application_name and role",
        "flowbase_db_max_connections": "max_connections less superuser_reserved_connections",
        "flowbase_db_connection_utilisation": "Client backends / usable max_connections",
        "flowbase_db_pool_connections": "This process's psycopg pool connections by state",
        "flowbase_db_pool_max_size": "This process's psycopg pool max_size",
        "flowbase_redis_up": "1 when the cache's Redis answered INFO",
        "flowbase_redis_cache_hit_ratio": "keyspace_hits / (hits + misses) of the cache's Redis",
        "flowbase_request_queries_window": "Queries per request over the newest requests (quantile)",
        "flowbase_request_queries_window_requests": "Requests in the queries-per-request window",
        "flowbase_db_replica_replay_lag_seconds": "Replay lag of a standby, as the primary measures it",
        "flowbase_db_replica_replay_lag_bytes": "WAL bytes a standby has still to replay",
        "flowbase_db_replica_reads_on_replica": "1 when routed reads go to the replica now, 0 when to the primary",
        "flowbase_db_replica_router_lag_seconds": "Replay lag the read router last saw on the replica",
    }
    # Cumulative since the Redis server started: rate() them for a hit rate over a window.
    COUNTERS = {
        "flowbase_redis_keyspace_hits": "keyspace_hits of the cache's Redis (INFO stats)",
        "flowbase_redis_keyspace_misses": "keyspace_misses of the cache's Redis (INFO stats)",
    }

    def describe(self):
        for name, doc in self.NAMES.items():
            yield GaugeMetricFamily(name, doc)
        for name, doc in self.COUNTERS.items():
            yield CounterMetricFamily(name, doc)

    def collect(self):
        snap, ok = snapshot_get()
        g = {
            name: GaugeMetricFamily(name, doc, labels=self._labels(name))
            for name, doc in self.NAMES.items()
        }
        g["flowbase_db_health_up"].add_metric([], 1.0 if ok and snap else 0.0)
        if snap:
            g["flowbase_db_health_snapshot_age_seconds"].add_metric(
                [], max(time.time() - snap["at"], 0.0)
            )
            for kind in ("heap", "index"):
                v = snap[f"{kind}_hit_ratio"]
                if v is not None:
                    g["flowbase_db_cache_hit_ratio"].add_metric([kind], float(v))
            for t in snap["dead_ratio"]:
                g["flowbase_db_table_dead_tuple_ratio"].add_metric([t["table"]], float(t["ratio"]))
            for v in snap["matviews"]:
                if v["age"] is not None:
                    g["flowbase_db_matview_age_seconds"].add_metric([v["view"]], float(v["age"]))
                g["flowbase_db_matview_stale"].add_metric([v["view"]], 1.0 if v["stale"] else 0.0)
            for p in snap["partitions"]:
                if p["ahead"] is not None:
                    g["flowbase_db_partitions_ahead"].add_metric([p["table"]], float(p["ahead"]))
                g["flowbase_db_default_partition_rows"].add_metric(
                    [p["table"]], float(p["default_rows"])
                )
            for d in snap["dataquality"]:
                g["flowbase_db_dataquality_failed_rows"].add_metric(
                    [d["check"]], float(d["failed"])
                )
                g["flowbase_db_dataquality_passed"].add_metric(
                    [d["check"]], 1.0 if d["passed"] else 0.0
                )
            g["flowbase_db_unused_index_bytes"].add_metric([], float(snap["unused_index_bytes"]))
            g["flowbase_db_longest_transaction_seconds"].add_metric(
                [], float(snap["longest_transaction_seconds"])
            )
            g["flowbase_db_blocked_backends"].add_metric([], float(snap["blocked_backends"]))
            hb = snap["heartbeat_age"]
            g["flowbase_db_beat_heartbeat_age_seconds"].add_metric(
                [], float(hb) if hb is not None else math.nan
            )
            for sev, n in snap["findings_open"].items():
                g["flowbase_db_findings_open"].add_metric([sev], float(n))
            self._add_figures(snap, g)
            for r in snap.get("standbys", ()):
                g["flowbase_db_replica_replay_lag_seconds"].add_metric([r["standby"]], r["seconds"])
                g["flowbase_db_replica_replay_lag_bytes"].add_metric([r["standby"]], r["bytes"])
        c = {name: CounterMetricFamily(name, doc) for name, doc in self.COUNTERS.items()}
        redis_figures = (snap or {}).get("redis_cache") or {}
        if redis_figures.get("available"):
            c["flowbase_redis_keyspace_hits"].add_metric([], float(redis_figures["hits"]))
            c["flowbase_redis_keyspace_misses"].add_metric([], float(redis_figures["misses"]))
        self._add_pools(g)
        self._router(g)
        yield from g.values()
        yield from c.values()

    @staticmethod
    def _add_figures(snap: dict, g: dict) -> None:
        """Seed 003's figures: server connections, the Redis cache, queries per request."""
        server = snap.get("server_connections")
        if server:
            for group in server["by_application"]:
                g["flowbase_db_server_connections"].add_metric(
                    [group["application"], group["role"]], float(group["connections"])
                )
            if server["usable"]:
                g["flowbase_db_max_connections"].add_metric([], float(server["usable"]))
                g["flowbase_db_connection_utilisation"].add_metric([], float(server["utilisation"]))
        redis_figures = snap.get("redis_cache")
        if redis_figures:
            g["flowbase_redis_up"].add_metric([], 1.0 if redis_figures["available"] else 0.0)
            if redis_figures["hit_ratio"] is not None:
                g["flowbase_redis_cache_hit_ratio"].add_metric([], redis_figures["hit_ratio"])
        queries = snap.get("request_queries")
        if queries:
            g["flowbase_request_queries_window_requests"].add_metric([], float(queries["requests"]))
            for quantile, key in (("0.5", "p50"), ("0.95", "p95")):
                if queries[key] is not None:
                    g["flowbase_request_queries_window"].add_metric([quantile], queries[key])

    @staticmethod
    def _add_pools(g: dict) -> None:
        """Read live, not from the shared snapshot: each process has its own pool."""
        try:
            pools = connections.pool_stats()
        except Exception:  # a pool that cannot report must not fail the scrape
            logger.exception("psycopg pool statistics unavailable")
            return
        for pool in pools:
            for state in ("in_use", "available", "waiting"):
                g["flowbase_db_pool_connections"].add_metric(
                    [pool["alias"], state], float(pool[state])
                )
            g["flowbase_db_pool_max_size"].add_metric([pool["alias"]], float(pool["max"]))

    @staticmethod
    def _router(g: dict) -> None:
        """Live, not from the snapshot: the router's own (seconds-old) probe of the replica."""
        if not routing.configured():
            return
        decision = routing.decision()
        on_replica = decision["target"] == routing.REPLICA
        g["flowbase_db_replica_reads_on_replica"].add_metric([], 1.0 if on_replica else 0.0)
        lag = decision["lag_seconds"]
        g["flowbase_db_replica_router_lag_seconds"].add_metric(
            [], float(lag) if lag is not None else math.nan
        )
        if not db_connections[routing.REPLICA].in_atomic_block:
            db_connections[routing.REPLICA].close()  # scrape threads keep no connection

    @staticmethod
    def _labels(name: str) -> list[str]:
        return {
            "flowbase_db_cache_hit_ratio": ["kind"],
            "flowbase_db_table_dead_tuple_ratio": ["table"],
            "flowbase_db_matview_age_seconds": ["view"],
            "flowbase_db_matview_stale": ["view"],
            "flowbase_db_partitions_ahead": ["table"],
            "flowbase_db_default_partition_rows": ["table"],
            "flowbase_db_dataquality_failed_rows": ["check"],
            "flowbase_db_dataquality_passed": ["check"],
            "flowbase_db_findings_open": ["severity"],
            "flowbase_db_server_connections": ["application", "role"],
            "flowbase_db_pool_connections": ["alias", "state"],
            "flowbase_db_pool_max_size": ["alias"],
            "flowbase_request_queries_window": ["quantile"],
            "flowbase_db_replica_replay_lag_seconds": ["standby"],
            "flowbase_db_replica_replay_lag_bytes": ["standby"],
        }.get(name, [])


def register() -> None:
    """Register the collector once per process (AppConfig.ready may run more than once)."""
    global _registered
    if _registered:
        return
    with contextlib.suppress(ValueError):  # already registered by an earlier import path
        REGISTRY.register(DbHealthCollector())
    _registered = True
