"""Archiving one month of time-partitioned rows: DETACH PARTITION vs DELETE of the same rows.

Self-contained: builds two identical throwaway partitioned tables (three monthly partitions,
`--rows` rows per month, an index like events_event's) in a scratch schema, archives the oldest
month of each, and drops the schema again. Goal: detach ≥ 100x faster than the row-by-row move.

    python bench/archive.py [--rows 300000]

  detach: ALTER TABLE … DETACH PARTITION; ALTER TABLE … SET SCHEMA (metadata only, one transaction)
  delete: INSERT INTO archive … SELECT + DELETE of the same month (what row-wise archiving costs,
          and it leaves that many dead tuples for VACUUM)
"""

import argparse
import time

from _setup import ratio, timed
from django.db import connection, transaction

SCHEMA = "bench_archive_scratch"
STORE = "bench_archive_store"
MONTHS = [("2026-01-01", "2026-02-01"), ("2026-02-01", "2026-03-01"), ("2026-03-01", "2026-04-01")]


def execute(sql: str, params=None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def build(table: str, rows_per_month: int) -> None:
    execute(
        f"CREATE TABLE {SCHEMA}.{table} ("
        " id bigint GENERATED ALWAYS AS IDENTITY, created_at timestamptz NOT NULL,"
        " project_id bigint, severity varchar(10) NOT NULL, payload jsonb NOT NULL,"
        " PRIMARY KEY (created_at, id)) PARTITION BY RANGE (created_at)"
    )
    for i, (start, end) in enumerate(MONTHS):
        execute(
            f"CREATE TABLE {SCHEMA}.{table}_m{i} PARTITION OF {SCHEMA}.{table}"
            f" FOR VALUES FROM ('{start}') TO ('{end}')"
            # autovacuum's ANALYZE of a fresh partition would make DETACH wait for its lock
            " WITH (autovacuum_enabled = false)"
        )
    execute(f"CREATE INDEX ON {SCHEMA}.{table} (project_id, created_at DESC)")
    for start, _ in MONTHS:
        execute(
            f"INSERT INTO {SCHEMA}.{table} (created_at, project_id, severity, payload)"
            " SELECT %s::timestamptz + (g * interval '27 days') / %s, g %% 50,"
            " (ARRAY['info','warning','error'])[1 + g %% 3], jsonb_build_object('n', g)"
            " FROM generate_series(1, %s) g",
            [start, rows_per_month, rows_per_month],
        )
    execute(f"ANALYZE {SCHEMA}.{table}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=300_000, help="rows per monthly partition")
    args = parser.parse_args()
    start, end = MONTHS[0]
    results: dict[str, float] = {}
    execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    execute(f"DROP SCHEMA IF EXISTS {STORE} CASCADE")
    execute(f"CREATE SCHEMA {SCHEMA}")
    execute(f"CREATE SCHEMA {STORE}")
    try:
        print(f"building 2 tables x {len(MONTHS)} months x {args.rows:,} rows ...", flush=True)
        build("ev_detach", args.rows)
        build("ev_delete", args.rows)
        execute(f"CREATE TABLE {STORE}.ev_archived (LIKE {SCHEMA}.ev_delete)")

        print(f"archiving {start} .. {end}:")
        with timed("detach partition + set schema", results), transaction.atomic():
            execute("SET LOCAL lock_timeout = '5s'")
            execute(f"ALTER TABLE {SCHEMA}.ev_detach DETACH PARTITION {SCHEMA}.ev_detach_m0")
            execute(f"ALTER TABLE {SCHEMA}.ev_detach_m0 SET SCHEMA {STORE}")
        moved_detach = execute(f"SELECT 1 FROM {STORE}.ev_detach_m0")

        with timed("insert…select + delete (row by row)", results), transaction.atomic():
            execute("SET LOCAL lock_timeout = '5s'")
            copied = execute(
                f"INSERT INTO {STORE}.ev_archived SELECT * FROM {SCHEMA}.ev_delete"
                " WHERE created_at >= %s AND created_at < %s",
                [start, end],
            )
            deleted_start = time.perf_counter()
            deleted = execute(
                f"DELETE FROM {SCHEMA}.ev_delete WHERE created_at >= %s AND created_at < %s",
                [start, end],
            )
            results["delete only"] = time.perf_counter() - deleted_start
        print(f"  (of which DELETE alone: {results['delete only']:.3f} s)")
        assert moved_detach == copied == deleted == args.rows, (moved_detach, copied, deleted)
        detach = results["detach partition + set schema"]
        move = results["insert…select + delete (row by row)"]
        print(
            f"rows archived: {args.rows:,} each way; the DELETE also left {deleted:,} dead "
            "tuples (and their index entries) for VACUUM, the detach none"
        )
        print(f"  => detach is {ratio(move, detach):.0f}x faster than insert+delete")
        print(
            f"  => detach is {ratio(results['delete only'], detach):.0f}x faster than DELETE alone"
        )
    finally:
        execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        execute(f"DROP SCHEMA IF EXISTS {STORE} CASCADE")


if __name__ == "__main__":
    main()
