"""A per-test scratch schema for planted conditions, and the loop every DDL fix goes through:
plant → `manage.py dbhealth --json` finds it → run its suggested_fix as given → the finding goes."""

from __future__ import annotations

import contextlib
import os
import time

import pglast
import psycopg

from .conftest import GRANTS_SQL
from .helpers import dbhealth_json

PLANT = "dbh_plant"


def owner_execute(sql: str, *, conninfo: str) -> None:
    """Each statement on its own in autocommit, as psql runs a pasted script (CONCURRENTLY and
    VACUUM refuse a transaction block)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '10s'")  # a lock the test itself holds fails, not hangs
        for statement in pglast.split(sql):
            conn.execute(statement)


@contextlib.contextmanager
def planted(sql: str, *, owner: str):
    """Create PLANT with `sql` in it (as the owner, committed, granted like domain tables)."""
    from apps.core.roles.config import roles

    r = roles()
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {PLANT} CASCADE")
        conn.execute(f"CREATE SCHEMA {PLANT}")
        for statement in pglast.split(sql.replace("P.", f"{PLANT}.")):
            conn.execute(statement)  # one by one: VACUUM refuses a transaction block
        conn.execute(
            GRANTS_SQL.format(schema=PLANT, app=", ".join(r.app_like()), readonly=r.readonly)
        )
    try:
        yield PLANT
    finally:
        with psycopg.connect(owner, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {PLANT} CASCADE")


def open_findings() -> dict[str, dict]:
    """Open findings by key, as `manage.py dbhealth --json --section findings` prints them."""
    _, doc = dbhealth_json("findings")
    return {i["key"]: i for i in doc["sections"]["findings"]["items"]}


def admin_conninfo() -> str | None:
    """The cluster superuser (local clusters only): replication slots need REPLICATION."""
    return os.environ.get("FLOWBASE_ADMIN_DATABASE_URL") or None


def wait_for_stats(conninfo: str, query: str, predicate, timeout: float = 10.0) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            if predicate(conn.execute(query).fetchone()[0]):
                return
            time.sleep(0.05)
    raise AssertionError(f"statistics never showed: {query}")
