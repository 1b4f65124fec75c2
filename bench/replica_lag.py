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
import time

import psycopg

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from _replica import LagSampler, standby_urls

TABLE = "bench_replica_lag"


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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=30)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    args = parser.parse_args()
    urls = standby_urls()
    if urls is None:
        print("skipped: needs the local standby (FLOWBASE_REPLICA=1, then make env's exports)")
        return 0
    admin_url, standby_url = urls
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
            started = time.perf_counter()
            with LagSampler(admin_url, standby_url) as lag:
                for offset in range(0, args.rows, args.batch):
                    primary.execute(
                        f"INSERT INTO {TABLE} (marker, pad) SELECT 'load', repeat('x', 100)"
                        " FROM generate_series(1, %s)",
                        [min(args.batch, args.rows - offset)],
                    )
                elapsed = time.perf_counter() - started
                time.sleep(1)
            mb = args.rows * 150 / 1e6
            print(f"load: {args.rows:,} rows (~{mb:.0f} MB of heap) in {elapsed:.1f} s")
            print(f"  {lag.replay_line()}")
            print(f"  {lag.probe_line()}")
        finally:
            primary.execute(f"DROP TABLE IF EXISTS {TABLE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
