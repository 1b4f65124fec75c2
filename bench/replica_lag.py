"""Replication lag of the local standby (`FLOWBASE_REPLICA=1`): commit-to-visible, and under load.

`python bench/replica_lag.py [--commits 30] [--rows 2000000] [--batch 100000]` with `make env`'s
exports (REPLICA_DATABASE_URL, FLOWBASE_ADMIN_DATABASE_URL); skipped without a standby.

1. commit to visible: a row committed on the primary, polled for on the standby every ms; with the
   cluster's `synchronous_commit = off` (WAL is flushed, so sent, by the WAL writer up to
   wal_writer_delay later) and with `synchronous_commit = local` for the writing session.
2. under a write load: --rows rows inserted in --batch-row transactions while the primary's
   pg_stat_replication (replay lag, bytes behind) and the router's probe on the standby are
   sampled every 50 ms; max and p95 printed.
A scratch table `bench_replica_lag` is created and dropped again.
"""

import argparse
import os
import statistics
import sys
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import psycopg

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from apps.pg.routing import PROBE_SQL

TABLE = "bench_replica_lag"


def as_superuser(url: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"postgres@{host}"))


def commit_to_visible(primary, standby, mode: str, commits: int) -> list[float]:
    primary.execute(f"SET synchronous_commit = {mode}")
    seconds = []
    for i in range(commits):
        marker = f"{mode}-{i}"
        primary.execute(f"INSERT INTO {TABLE} (marker) VALUES (%s)", [marker])
        start = time.perf_counter()
        while not standby.execute(f"SELECT 1 FROM {TABLE} WHERE marker = %s", [marker]).fetchone():
            time.sleep(0.001)
        seconds.append(time.perf_counter() - start)
    return seconds


def sample(primary_url: str, standby_url: str, stop: threading.Event, out: dict) -> None:
    with (
        psycopg.connect(primary_url, autocommit=True) as p,
        psycopg.connect(standby_url, autocommit=True) as s,
    ):
        while not stop.is_set():
            row = p.execute(
                "SELECT coalesce(extract(epoch FROM replay_lag), 0)::float8,"
                " pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint"
                " FROM pg_stat_replication LIMIT 1"
            ).fetchone()
            if row:
                out["replay_lag"].append(row[0])
                out["bytes"].append(row[1])
            out["probe_lag"].append(s.execute(PROBE_SQL).fetchone()[2])
            time.sleep(0.05)


def p95(values: list[float]) -> float:
    return sorted(values)[max(int(len(values) * 0.95) - 1, 0)] if values else 0.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=30)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    args = parser.parse_args()
    replica_url, admin_url = (
        os.environ.get("REPLICA_DATABASE_URL"),
        os.environ.get("FLOWBASE_ADMIN_DATABASE_URL"),
    )
    if not replica_url or not admin_url:
        print("skipped: needs the local standby (FLOWBASE_REPLICA=1, then make env's exports)")
        return 0
    standby_url = as_superuser(replica_url)
    with (
        psycopg.connect(admin_url, autocommit=True) as primary,
        psycopg.connect(standby_url, autocommit=True) as standby,
    ):
        primary.execute(f"DROP TABLE IF EXISTS {TABLE}")
        primary.execute(f"CREATE TABLE {TABLE} (id bigserial PRIMARY KEY, marker text, pad text)")
        try:
            time.sleep(1)
            for mode in ("off", "local"):
                s = commit_to_visible(primary, standby, mode, args.commits)
                print(
                    f"commit to visible, synchronous_commit={mode}: p50"
                    f" {statistics.median(s) * 1000:.1f} ms, max {max(s) * 1000:.1f} ms"
                    f" ({len(s)} commits)"
                )
            primary.execute("RESET synchronous_commit")
            out = {"replay_lag": [], "bytes": [], "probe_lag": []}
            stop = threading.Event()
            sampler = threading.Thread(target=sample, args=(admin_url, standby_url, stop, out))
            sampler.start()
            started = time.perf_counter()
            for offset in range(0, args.rows, args.batch):
                primary.execute(
                    f"INSERT INTO {TABLE} (marker, pad) SELECT 'load', repeat('x', 100)"
                    " FROM generate_series(1, %s)",
                    [min(args.batch, args.rows - offset)],
                )
            elapsed = time.perf_counter() - started
            time.sleep(1)
            stop.set()
            sampler.join()
            mb = args.rows * 150 / 1e6
            print(f"load: {args.rows:,} rows (~{mb:.0f} MB of heap) in {elapsed:.1f} s")
            print(
                f"  primary's replay_lag: max {max(out['replay_lag']):.2f} s,"
                f" p95 {p95(out['replay_lag']):.2f} s;"
                f" bytes behind: max {max(out['bytes']) / 1e6:.1f} MB"
            )
            print(
                f"  router's probe lag: max {max(out['probe_lag']):.2f} s,"
                f" p95 {p95(out['probe_lag']):.2f} s ({len(out['probe_lag'])} samples)"
            )
        finally:
            primary.execute(f"DROP TABLE IF EXISTS {TABLE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
