"""Database section at scale: 2,000 partitions in a scratch schema, every admin page rendered.

    python bench/dbhealth.py [--partitions 2000]

Creates `bench_dbhealth` (one range-partitioned table with N daily partitions, a default
partition, two indexes → 2N leaf indexes), renders each page with a fresh cache (?refresh=1)
through Django's test client as a superuser, prints the times (goal: < 2 s each), and drops the
schema afterwards, whatever happens.
"""

from __future__ import annotations

import argparse
import sys
import time

import _setup  # noqa: F401  (Django set-up)
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import setup_test_environment

SCHEMA = "bench_dbhealth"
GOAL_S = 2.0


def create(n: int) -> None:
    drop()  # leftovers of an interrupted run
    with connection.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {SCHEMA}")
        cur.execute(
            f"CREATE TABLE {SCHEMA}.events (id bigint, kind text, created_at timestamptz NOT NULL) "
            "PARTITION BY RANGE (created_at)"
        )
        cur.execute(f"CREATE INDEX events_created_idx ON {SCHEMA}.events (created_at)")
        cur.execute(f"CREATE INDEX events_kind_idx ON {SCHEMA}.events (kind)")
        cur.execute(f"CREATE TABLE {SCHEMA}.events_default PARTITION OF {SCHEMA}.events DEFAULT")
        # Half in the past, half ahead of now; one autocommitted statement per partition
        # (a single transaction would need a lock per partition and index).
        for i in range(n):
            cur.execute(
                f"CREATE TABLE {SCHEMA}.events_p{i:05d} PARTITION OF {SCHEMA}.events "
                "FOR VALUES FROM (current_date + %s) TO (current_date + %s)",
                [i - n // 2, i - n // 2 + 1],
            )
        cur.execute(
            f"INSERT INTO {SCHEMA}.events SELECT g, 'k' || (g % 7), now() - (g % 900) * interval '1 hour' "
            "FROM generate_series(1, 20000) g"
        )
        cur.execute(f"ANALYZE {SCHEMA}.events")


def drop() -> None:
    """Partitions in batches (each DROP locks its tables and indexes), then the schema."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relispartition AND c.relkind = 'r'",
            [SCHEMA],
        )
        names = [r[0] for r in cur.fetchall()]
        for i in range(0, len(names), 200):
            batch = ", ".join(f"{SCHEMA}.{name}" for name in names[i : i + 200])
            cur.execute(f"DROP TABLE IF EXISTS {batch}")
        cur.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


def main(n: int) -> int:
    setup_test_environment()
    print(f"  creating {n} partitions in {SCHEMA} ...", flush=True)
    t = time.perf_counter()
    create(n)
    print(f"  created in {time.perf_counter() - t:.1f} s", flush=True)
    User = get_user_model()
    user = User.objects.create_superuser(
        f"bench_dbhealth_{int(time.time())}", "bench@example.com", None
    )
    client = Client()
    client.force_login(user)
    slow = []
    try:
        from apps.dbhealth import selectors
        from apps.dbhealth.sections import SECTIONS

        for page in [s.slug for s in SECTIONS]:
            selectors.cache_clear()
            url = f"/admin/dbhealth/databasehealth/{page}/?refresh=1"
            start = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - start
            cached_start = time.perf_counter()
            client.get(f"/admin/dbhealth/databasehealth/{page}/")
            cached = time.perf_counter() - cached_start
            ok = response.status_code == 200
            print(
                f"  {page:12} {elapsed:6.3f} s  (cached {cached:5.3f} s)  "
                f"{'OK' if ok and elapsed < GOAL_S else 'SLOW' if ok else response.status_code}",
                flush=True,
            )
            if not ok or elapsed >= GOAL_S:
                slow.append(page)
        expand = client.get(
            "/admin/dbhealth/databasehealth/tables/?expand=" + str(_oid(f"{SCHEMA}.events"))
        )
        assert expand.status_code == 200
        start = time.perf_counter()
        client.get("/admin/dbhealth/databasehealth/tables/?expand=" + str(_oid(f"{SCHEMA}.events")))
        print(f"  tables?expand (200 partitions/page) {time.perf_counter() - start:.3f} s")
        start = time.perf_counter()
        client.get("/metrics")
        print(f"  /metrics (cold snapshot) {time.perf_counter() - start:.3f} s")
    finally:
        user.delete()
        drop()
        print(f"  dropped {SCHEMA}")
    print(f"  goal < {GOAL_S} s per page: {'met' if not slow else 'MISSED on ' + ', '.join(slow)}")
    return 1 if slow else 0


def _oid(name: str) -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT %s::regclass::oid::bigint", [name])
        return cur.fetchone()[0]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--partitions", type=int, default=2000)
    code = main(parser.parse_args().partitions)
    if __name__ == "__main__" and sys.argv[0].endswith("dbhealth.py"):
        sys.exit(code)
