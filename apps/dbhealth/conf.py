"""Thresholds of the Database section; override any key with `settings.DBHEALTH = {...}`."""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Indexes
    "UNUSED_INDEX_MIN_BYTES": 1 * 1024 * 1024,  # PgHero uses 10 MB; we flag from 1 MB
    "UNUSED_INDEX_WARNING_BYTES": 100 * 1024 * 1024,
    "UNUSED_MIN_DAYS": 7,  # no "unused" verdict until statistics are this old
    "NULL_INDEX_MIN_ROWS": 10_000,  # leading column mostly NULL: only tables this big
    "NULL_INDEX_FRACTION": 0.5,
    # Bloat estimates (statistics-based; see docs/dbhealth.md for their error bounds)
    "BLOAT_MIN_BYTES": 10 * 1024 * 1024,
    "BLOAT_RATIO_WARNING": 0.5,
    # Sequences: share of the usable range (the lower of the sequence's and the column's max)
    "SEQUENCE_USED_WARNING": 0.75,
    "SEQUENCE_USED_CRITICAL": 0.90,
    # Tables
    "SEQ_SCAN_MIN_BYTES": 10 * 1024 * 1024,  # seq-scan-heavy: only tables this big
    "SEQ_SCAN_MIN": 100,  # and with at least this many sequential scans
    "TABLE_XID_AGE_WARNING": None,  # None: the table's effective autovacuum_freeze_max_age
    "TABLE_MXID_AGE_WARNING": None,  # None: autovacuum_multixact_freeze_max_age
    "REPLICATION_SLOT_WAL_BYTES": 1024 * 1024 * 1024,  # an active slot holding this much WAL
    "REPLICATION_LAG_SECONDS": 30,  # a standby replaying this far behind the primary
    "REPLICATION_LAG_BYTES": 256 * 1024 * 1024,
    "DEAD_TUPLES_MIN": 1_000,  # below this many dead tuples a table is never flagged
    "DEAD_RATIO_WARNING": 0.20,
    "DEAD_RATIO_CRITICAL": 0.50,
    "WORST_TABLES_METRICS": 10,
    # Suggested indexes (HypoPG): the slowest SELECTs tried, and the planner-cost cut that counts
    "SUGGESTED_INDEX_QUERIES": 50,
    "SUGGESTED_INDEX_MIN_SAVING": 0.5,
    "SUGGESTED_INDEX_TIMEOUT_MS": 2_000,
    # Schema drift: tables in `public` that no model declares but that belong there
    "DRIFT_IGNORE_TABLES": (),
    # Partitions
    "PARTITIONS_AHEAD_MIN": 1,  # fewer future partitions than this → critical
    "DEFAULT_PARTITION_ROWS_CAP": 100_000,
    # Activity
    "LONG_TRANSACTION_SECONDS": 60,
    "IDLE_IN_TRANSACTION_SECONDS": 30,
    "XID_AGE_WARNING": 500_000_000,
    "XID_AGE_CRITICAL": 1_500_000_000,
    # Server connections in use / (max_connections - superuser_reserved_connections)
    "CONNECTIONS_WARNING_RATIO": 0.80,
    "CONNECTIONS_CRITICAL_RATIO": 0.95,
    # Materialized views
    "MATVIEW_DEFAULT_STALENESS_SECONDS": 24 * 3600,
    # Data quality
    "DQ_STATEMENT_TIMEOUT_MS": 10_000,
    "DQ_SAMPLE_ROWS": 20,
    "DQ_RESULTS_KEEP_DAYS": 90,
    "DQ_LOCK_TIMEOUT_MS": 1_000,
    # Column (and JSON key) names whose values never reach a stored sample: a name matches when
    # one of its words is listed, or when it contains a listed word of 5+ letters.
    "DQ_SENSITIVE_COLUMNS": [
        "password",
        "passwd",
        "pwd",
        "token",
        "secret",
        "key",
        "hash",
        "session",
        "salt",
        "credential",
        "credentials",
        "cookie",
        "otp",
        "apikey",
        "signature",
        "ssn",
    ],
    # Findings: an accepted one reopens when a number of its evidence grows this many times
    "ACCEPT_GROWTH_FACTOR": 2.0,
    # Snapshots
    "SNAPSHOT_KEEP_DAYS": 35,
    "SPARKLINE_POINTS": 48,
    "OVERVIEW_SNAPSHOT_KEEP_DAYS": 14,  # taken every 15 min; the overview charts 24 h and 7 d
    # Caching
    "PAGE_CACHE_SECONDS": 60,
    "METRICS_CACHE_SECONDS": 30,
    # Health
    "HEARTBEAT_MAX_AGE_SECONDS": 180,
    "HEARTBEAT_NAME": "beat",
}


def get(name: str) -> Any:
    overrides = getattr(settings, "DBHEALTH", {}) or {}
    return overrides.get(name, DEFAULTS[name])
